/**
 * A full disk: the project lives on a small tmpfs (we run as root in CI; the test says so and
 * is skipped where mount is refused). A build on the full disk fails with E_NO_SPACE and a hint,
 * not as a bug, and pays for nothing; once space is freed the next build completes, and nothing
 * already in .gpt4k/ is paid for again.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { open, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeOpenAI, type FakeOpenAI } from '../support/fake-openai.js';
import { diskFoundFull } from '../../src/color/page-file.js';
import { readReport, runCli } from '../support/project.js';

const KEY = 'sk-test-DISK-2c8e4a6b';
const mountPoint = mkdtempSync(path.join(os.tmpdir(), 'gpt4k-disk-'));
let mounted = false;
try {
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', mountPoint], { stdio: 'ignore' });
  mounted = true;
} catch {
  console.warn('full-disk: mount -t tmpfs was refused here (not root?); the full-disk case is left out');
}

let api: FakeOpenAI;
beforeAll(async () => {
  api = await startFakeOpenAI({ apiKey: KEY });
});
afterAll(async () => {
  await api?.close();
  if (mounted) execFileSync('umount', [mountPoint]);
  rmSync(mountPoint, { recursive: true, force: true });
});

function manifest(ids: string[]): string {
  return `version: 1
defaults:
  generate: { provider: openai, model: gpt-image-2, size: 1024x1024, quality: low }
  upscale: { engine: none }
targets:
  web: { width: 32, height: 32, format: png }
assets:
${ids.map((id) => `  ${id}: { prompt: "A ${id} on white, front view, centered", targets: [web] }`).join('\n')}
`;
}

/** Writes until the disk says no. */
async function fillDisk(file: string): Promise<void> {
  const handle = await open(file, 'w');
  const block = Buffer.alloc(64 * 1024, 1);
  try {
    for (;;) await handle.write(block);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  } finally {
    await handle.close();
  }
}

describe.skipIf(!mounted)('a full disk', () => {
  it('is reported as E_NO_SPACE with a hint, pays nothing, and the next build recovers without paying again', async () => {
    const dir = mountPoint;
    const env = { OPENAI_API_KEY: KEY, OPENAI_BASE_URL: api.url };
    const sent = (id: string) => api.requests.filter((r) => String(r.body?.['prompt']).startsWith(`A ${id} `)).length;
    await writeFile(path.join(dir, 'assets.pipeline.yaml'), manifest(['hero']));
    const first = await runCli(['build'], { cwd: dir, env });
    expect(first.code, first.stderr).toBe(0);

    await writeFile(path.join(dir, 'assets.pipeline.yaml'), manifest(['hero', 'mug', 'bag']));
    const ballast = path.join(dir, 'ballast');
    await fillDisk(ballast);
    const full = await runCli(['build'], { cwd: dir, env });
    const output = full.stdout + full.stderr;
    expect(full.code, output).not.toBe(0);
    expect(output).toMatch(/E_NO_SPACE: no space left on the device/);
    expect(output).toMatch(/hint: free space on the disk that holds the project/);
    expect(output).not.toMatch(/E_INTERNAL|this is a bug|\n\s+at /);
    expect(api.requests).toHaveLength(1); // nothing paid on a full disk

    await rm(ballast);
    const next = await runCli(['build'], { cwd: dir, env });
    expect(next.code, next.stdout + next.stderr).toBe(0);
    expect([sent('hero'), sent('mug'), sent('bag')]).toEqual([1, 1, 1]);
    expect((await readReport(dir)).summary).toMatchObject({ assets: 3, failed: 0, providerCalls: 2 });
    // Nothing in .gpt4k/ was left half-written by the failed build.
    for (const entry of await readdir(path.join(dir, '.gpt4k'), { withFileTypes: true, recursive: true })) {
      if (!entry.isFile()) continue;
      const file = path.join(entry.parentPath, entry.name);
      expect(file.endsWith('.tmp'), file).toBe(false);
      if (file.endsWith('.json')) JSON.parse(await readFile(file, 'utf8'));
    }
  });

  it("is found from the filesystem when libvips' message does not say so (its one error buffer, shared by every pipeline)", async () => {
    const ballast = path.join(mountPoint, 'ballast-2');
    await fillDisk(ballast);
    try {
      const full = await diskFoundFull(new Error('Unknown error'), path.join(mountPoint, 'page.tif'));
      expect(full?.code).toBe('ENOSPC');
      expect(full?.message).toMatch(/^Unknown error \(no space left on device: \d+ bytes free\)$/);
    } finally {
      await rm(ballast);
    }
    // With room on the disk, an unexplained failure stays what it was.
    expect(await diskFoundFull(new Error('Unknown error'), path.join(os.tmpdir(), 'page.tif'))).toBeUndefined();
  });
});
