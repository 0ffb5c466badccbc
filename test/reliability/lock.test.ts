/**
 * The build lock: a dead holder on this host is taken over at once, a stale one from another
 * host once its heartbeat (mtime) is old, and a live one makes the next build wait and then
 * fail with a message naming it.
 */
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { acquireBuildLock } from '../../src/cache/lock.js';

let cacheDir: string;
beforeEach(async () => {
  cacheDir = path.join(await mkdtemp(path.join(tmpdir(), 'gpt4k-lock-')), '.gpt4k');
});
afterEach(async () => {
  await rm(path.dirname(cacheDir), { recursive: true, force: true });
});

async function leaveLock(holder: { pid: number; host: string }, ageMs: number): Promise<void> {
  const dir = path.join(cacheDir, 'build.lock');
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(cacheDir, 'build.lock.holder.json'), JSON.stringify({ ...holder, startedAt: '2026-01-01T00:00:00.000Z' }));
  const when = new Date(Date.now() - ageMs);
  await utimes(dir, when, when);
}

describe('build lock', () => {
  it('takes over at once a lock whose holder died on this host', async () => {
    const dead = spawnSync(process.execPath, ['-e', 'process.exit(0)']).pid ?? 999_999;
    await leaveLock({ pid: dead, host: hostname() }, 0);
    const waits: unknown[] = [];
    const lock = await acquireBuildLock(cacheDir, { timeoutMs: 2_000, onWait: (h) => waits.push(h) });
    expect(waits).toEqual([]);
    await lock.release();
  });

  it('takes over a lock from another host once its heartbeat is stale', async () => {
    await leaveLock({ pid: 4242, host: 'ci-runner-7' }, 60_000);
    const lock = await acquireBuildLock(cacheDir, { timeoutMs: 2_000, staleMs: 10_000 });
    await lock.release();
  });

  it('waits for a live holder on another host and names it when giving up', async () => {
    await leaveLock({ pid: 4242, host: 'ci-runner-7' }, 0);
    const waits: Array<{ pid: number; host: string }> = [];
    const failure = await acquireBuildLock(cacheDir, { timeoutMs: 400, staleMs: 10_000, onWait: (h) => waits.push(h) }).then(
      () => undefined,
      (err: Error & { code?: string }) => err,
    );
    expect(failure?.code).toBe('E_LOCKED');
    expect(failure?.message).toContain('pid 4242 on host ci-runner-7');
    expect(waits).toEqual([expect.objectContaining({ pid: 4242, host: 'ci-runner-7' })]);
  });

  it('a second lock in the same project waits for the first to be released', async () => {
    const first = await acquireBuildLock(cacheDir);
    let second = false;
    const pending = acquireBuildLock(cacheDir, { timeoutMs: 5_000 }).then((lock) => {
      second = true;
      return lock;
    });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(second).toBe(false);
    await first.release();
    await (await pending).release();
    expect(second).toBe(true);
  });
});
