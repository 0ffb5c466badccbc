import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { Pool } from '../src/engine/pool.js';

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('Pool', () => {
  it('runs at most `size` jobs at once, in the order they asked', async () => {
    const pool = new Pool('test', 2);
    const started: number[] = [];
    let running = 0;
    let most = 0;
    const releases: Array<() => void> = [];
    const jobs = Array.from({ length: 6 }, (_, i) =>
      pool.run(async () => {
        started.push(i);
        most = Math.max(most, ++running);
        await new Promise<void>((resolve) => releases.push(resolve));
        running--;
      }),
    );
    for (let round = 0; round < 3; round++) {
      await tick();
      releases.splice(0).forEach((release) => release());
    }
    await Promise.all(jobs);
    expect(most).toBe(2);
    expect(started).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it('a catalogue of waiters shares one abort listener, and an abort fails only those waiting', async () => {
    const pool = new Pool('test', 1);
    const controller = new AbortController();
    let finishRunning!: () => void;
    const running = pool.run(() => new Promise<void>((resolve) => (finishRunning = resolve)), controller.signal);
    const waiting = Array.from({ length: 5000 }, () => pool.run(async () => 'ran', controller.signal));
    const results = Promise.allSettled(waiting);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(1);
    controller.abort(new Error('stopped by the test'));
    const settled = await results;
    expect(settled.every((r) => r.status === 'rejected' && (r.reason as Error).message === 'stopped by the test')).toBe(true);
    finishRunning();
    await running; // the job already running is not cut by the pool
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
  });

  it('lets go of the listener once every waiter is granted', async () => {
    const pool = new Pool('test', 1);
    const controller = new AbortController();
    const jobs = Array.from({ length: 50 }, (_, i) => pool.run(async () => i, controller.signal));
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(1);
    expect(await Promise.all(jobs)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
    // Waiters with another signal are not failed by this one's abort.
    const other = new AbortController();
    let finish!: () => void;
    const first = pool.run(() => new Promise<void>((resolve) => (finish = resolve)));
    const mine = pool.run(async () => 'mine', controller.signal);
    const theirs = pool.run(async () => 'theirs', other.signal);
    controller.abort();
    await expect(mine).rejects.toThrow();
    finish();
    await first;
    await expect(theirs).resolves.toBe('theirs');
  });
});
