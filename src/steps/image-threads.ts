import os from 'node:os';
import sharp from 'sharp';

const cores = Math.max(1, os.availableParallelism());

/**
 * libvips worker threads for the image jobs about to start: the machine's cores shared among
 * the image jobs running at once (`jobsRunning` counts this one). sharp starts with one
 * thread on glibc Linux (to limit memory fragmentation in long-running servers), which leaves
 * cores idle whenever a build has fewer images in flight than cores, as a single render or
 * the last renders of a batch do; with every process slot busy it stays at one thread each.
 * The setting is global and read when a pipeline starts, so pipelines already running keep
 * theirs. VIPS_CONCURRENCY, when set, wins.
 */
export function shareCores(jobsRunning: number): void {
  if (process.env.VIPS_CONCURRENCY) return;
  sharp.concurrency(Math.max(1, Math.floor(cores / Math.max(1, jobsRunning))));
}
