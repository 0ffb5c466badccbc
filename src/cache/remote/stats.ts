import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../../util/atomic.js';

/** What the remote cache did: in one build, and added up over builds in .gpt4k/remote-stats.json. */
export interface RemoteCounters {
  /** Action records found on the remote (their objects downloaded and verified). */
  hits: number;
  /** Action records asked for and not there. */
  misses: number;
  /** Downloaded objects whose bytes did not match their hash (not used). */
  corrupt: number;
  bytesDown: number;
  bytesUp: number;
  /** Action records uploaded. */
  uploads: number;
}

export interface RemoteStats extends RemoteCounters {
  /** The remote the last build used (no credentials), and when. */
  url?: string;
  lastBuildAt?: string;
}

export const REMOTE_STATS_FILE = 'remote-stats.json';

export const zeroCounters = (): RemoteCounters => ({ hits: 0, misses: 0, corrupt: 0, bytesDown: 0, bytesUp: 0, uploads: 0 });

export async function readRemoteStats(cacheDir: string): Promise<RemoteStats | undefined> {
  try {
    const data = JSON.parse(await readFile(path.join(cacheDir, REMOTE_STATS_FILE), 'utf8')) as Partial<RemoteStats>;
    const counters = zeroCounters();
    for (const name of Object.keys(counters) as (keyof RemoteCounters)[]) {
      if (typeof data[name] === 'number') counters[name] = data[name];
    }
    return { ...counters, ...(typeof data.url === 'string' ? { url: data.url } : {}), ...(typeof data.lastBuildAt === 'string' ? { lastBuildAt: data.lastBuildAt } : {}) };
  } catch {
    return undefined;
  }
}

/** Adds one build's counters to the running totals. */
export async function addRemoteStats(cacheDir: string, run: RemoteCounters, url: string): Promise<void> {
  const total = (await readRemoteStats(cacheDir)) ?? zeroCounters();
  const sum = zeroCounters();
  for (const name of Object.keys(sum) as (keyof RemoteCounters)[]) sum[name] = total[name] + run[name];
  await writeFileAtomic(path.join(cacheDir, REMOTE_STATS_FILE), JSON.stringify({ ...sum, url, lastBuildAt: new Date().toISOString() }, null, 1));
}
