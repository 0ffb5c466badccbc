import { describe, expect, it } from 'vitest';
import { SettleWindow, windowSize } from '../src/engine/settle-window.js';

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Groups g0..gN-1 of two nodes each; every node waits until the test lets it settle. */
function catalogue(count: number) {
  const groups: Array<[string, string[]]> = Array.from({ length: count }, (_, i) => [`g${i}`, [`g${i}/a`, `g${i}/b`]]);
  const started: string[] = [];
  const release = new Map<string, () => void>();
  const settle = (id: string): Promise<void> =>
    new Promise<void>((resolve) => {
      started.push(id);
      release.set(id, resolve);
    });
  const finish = (group: string): void => {
    release.get(`${group}/a`)?.();
    release.get(`${group}/b`)?.();
  };
  /** Settles every started group but `keep`, again and again as the window admits more. */
  const drain = async (keep = new Set<string>()): Promise<void> => {
    for (let round = 0; round < count + 2; round++) {
      for (const id of started) if (!keep.has(id.split('/')[0] as string)) release.get(id)?.();
      await tick();
    }
  };
  return { groups, started, settle, finish, drain };
}

describe('SettleWindow', () => {
  it('starts at most `size` groups, the next as soon as one settles, in order', async () => {
    const { groups, started, settle, finish, drain } = catalogue(10);
    let done = false;
    const run = new SettleWindow().run(groups, 3, settle).then(() => (done = true));
    await tick();
    expect(started).toEqual(['g0/a', 'g0/b', 'g1/a', 'g1/b', 'g2/a', 'g2/b']);
    finish('g1');
    await tick();
    expect(started.slice(6)).toEqual(['g3/a', 'g3/b']);
    await drain();
    await run;
    expect(done).toBe(true);
    expect(started).toHaveLength(20);
  });

  it('a group that leaves early (waiting on a batch) makes room, and run still waits for it', async () => {
    const { groups, started, settle, finish, drain } = catalogue(4);
    const window = new SettleWindow();
    let done = false;
    const run = window.run(groups, 1, settle).then(() => (done = true));
    await tick();
    expect(started).toEqual(['g0/a', 'g0/b']);
    window.leave('g0');
    await tick();
    expect(started).toEqual(['g0/a', 'g0/b', 'g1/a', 'g1/b']);
    await drain(new Set(['g0']));
    expect(started).toHaveLength(8);
    expect(done).toBe(false); // g0 has not settled
    finish('g0');
    await run;
    expect(done).toBe(true);
  });

  it('a failure is thrown once every group has settled', async () => {
    const settled: string[] = [];
    const groups: Array<[string, string[]]> = [['bad', ['bad/a']], ['ok', ['ok/a']]];
    const run = new SettleWindow().run(groups, 1, async (id) => {
      await tick();
      settled.push(id);
      if (id === 'bad/a') throw new Error('boom');
    });
    await expect(run).rejects.toThrow('boom');
    expect(settled).toEqual(['bad/a', 'ok/a']);
  });

  it('sizes the window from the pools, never below 32', () => {
    expect(windowSize({ generate: 1, process: 1, gpu: 1 })).toBe(32);
    expect(windowSize({ generate: 8, process: 4, gpu: 1 })).toBe(52);
  });
});
