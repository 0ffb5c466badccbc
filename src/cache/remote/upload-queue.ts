/**
 * Background uploads, a bounded number at once, the most valuable first: a paid generation
 * (priority 0) goes out before an upscale or a render, so a build cut short has shared what
 * costs money to make again. `drain` waits for all of them (a build does, before it exits).
 */
export class UploadQueue {
  private readonly waiting: { priority: number; seq: number; job: () => Promise<void> }[] = [];
  private running = 0;
  private seq = 0;
  private idle: (() => void)[] = [];
  private stopped = false;

  constructor(private readonly concurrency: number) {}

  add(priority: number, job: () => Promise<void>): void {
    if (this.stopped) return;
    this.waiting.push({ priority, seq: this.seq++, job });
    this.pump();
  }

  /** Drops every upload not yet started (the remote went away). */
  stop(): void {
    this.stopped = true;
    this.waiting.length = 0;
    this.settleIfIdle();
  }

  drain(): Promise<void> {
    if (this.running === 0 && this.waiting.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  private pump(): void {
    while (this.running < this.concurrency && this.waiting.length > 0) {
      const next = this.takeFirst();
      this.running++;
      // A job reports its own failures (the layered store turns them into one warning).
      void next.job().catch(() => undefined).finally(() => {
        this.running--;
        this.pump();
        this.settleIfIdle();
      });
    }
  }

  private takeFirst(): { job: () => Promise<void> } {
    let best = 0;
    for (let i = 1; i < this.waiting.length; i++) {
      const a = this.waiting[i]!;
      const b = this.waiting[best]!;
      if (a.priority < b.priority || (a.priority === b.priority && a.seq < b.seq)) best = i;
    }
    return this.waiting.splice(best, 1)[0]!;
  }

  private settleIfIdle(): void {
    if (this.running > 0 || this.waiting.length > 0) return;
    for (const resolve of this.idle.splice(0)) resolve();
  }
}
