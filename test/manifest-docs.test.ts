import { describe, expect, it } from 'vitest';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { REPO_ROOT } from './support/paths.js';

describe('docs/manifest.md', () => {
  it('is generated from the schema and up to date (npm run docs)', async () => {
    const script = (await import(path.join(REPO_ROOT, 'scripts/manifest-docs.mjs'))) as { manifestReference: () => Promise<string> };
    const expected = await script.manifestReference();
    expect(await readFile(path.join(REPO_ROOT, 'docs/manifest.md'), 'utf8')).toBe(expected);
    for (const field of ['`paper`', '`bleed_mm`', '`intent`', '`prefix`', '`reference`', '`whiteBalance`', '`maxCostUsd`', '`variants`']) {
      expect(expected).toContain(field);
    }
  });
});
