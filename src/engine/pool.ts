interface Waiter {
  grant: () => void;
  fail: (reason: Error) => void;
  signal: AbortSignal | undefined;
}

/**
 * A counting semaphore: at most `size` jobs of one kind at once, FIFO. A catalogue's jobs all
 * wait here at once, so a signal gets one abort listener per pool, not one per waiter: adding
 * a listener walks the signal's list, which made thousands of waiters quadratic.
 */
export class Pool {
  private active = 0;
  private readonly waiting: Waiter[] = [];
  /** Waiters per signal, and the one listener that fails them all on abort. */
  private readonly listeners = new Map<AbortSignal, { waiters: number; onAbort: () => void }>();

  constructor(
    readonly name: string,
    readonly size: number,
  ) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`pool ${name}: size must be a positive integer, got ${size}`);
  }

  get running(): number {
    return this.active;
  }

  async run<T>(job: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    await this.acquire(signal);
    try {
      return await job();
    } finally {
      this.release();
    }
  }

  acquire(signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    if (this.active < this.size) {
      this.active++;
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      this.waiting.push({ grant: resolve, fail: reject, signal });
      if (!signal) return;
      const listener = this.listeners.get(signal);
      if (listener) {
        listener.waiters++;
      } else {
        const onAbort = (): void => this.failWaiters(signal);
        this.listeners.set(signal, { waiters: 1, onAbort });
        signal.addEventListener('abort', onAbort, { once: true });
      }
    });
  }

  release(): void {
    this.active--;
    const next = this.waiting.shift();
    if (!next) return;
    this.active++;
    this.forget(next.signal);
    next.grant();
  }

  /** A waiter left the queue: the last one with its signal takes the listener away. */
  private forget(signal: AbortSignal | undefined): void {
    const listener = signal && this.listeners.get(signal);
    if (!signal || !listener || --listener.waiters > 0) return;
    this.listeners.delete(signal);
    signal.removeEventListener('abort', listener.onAbort);
  }

  private failWaiters(signal: AbortSignal): void {
    this.listeners.delete(signal);
    const reason = signal.reason instanceof Error ? signal.reason : new DOMException('aborted', 'AbortError');
    const failed = this.waiting.filter((waiter) => waiter.signal === signal);
    const kept = this.waiting.filter((waiter) => waiter.signal !== signal);
    this.waiting.length = 0;
    for (const waiter of kept) this.waiting.push(waiter);
    for (const waiter of failed) waiter.fail(reason);
  }
}

/**
 * A token bucket for "N per minute": tokens refill continuously; `capacity` is the largest
 * burst. Waiters are served in order, so no request starves.
 */
export class RateLimiter {
  private tokens: number;
  private last = Date.now();
  private queue: Promise<void> = Promise.resolve();

  constructor(
    readonly perMinute: number,
    readonly capacity = 1,
  ) {
    this.tokens = capacity;
  }

  take(signal?: AbortSignal): Promise<void> {
    const turn = this.queue.then(() => this.waitForToken(signal));
    this.queue = turn.catch(() => undefined);
    return turn;
  }

  private refill(): void {
    const now = Date.now();
    this.tokens = Math.min(this.capacity, this.tokens + ((now - this.last) * this.perMinute) / 60_000);
    this.last = now;
  }

  private async waitForToken(signal?: AbortSignal): Promise<void> {
    for (;;) {
      signal?.throwIfAborted();
      this.refill();
      if (this.tokens >= 1) {
        this.tokens -= 1;
        return;
      }
      const waitMs = Math.ceil(((1 - this.tokens) * 60_000) / this.perMinute);
      await sleep(waitMs, signal);
    }
  }
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason instanceof Error ? signal.reason : new DOMException('aborted', 'AbortError'));
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason instanceof Error ? signal.reason : new DOMException('aborted', 'AbortError'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
