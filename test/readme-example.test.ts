/**
 * The README's example manifest is a real project: the same text as
 * examples/readme/assets.pipeline.yaml, which validates with the files beside it.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from './support/cli-run.js';
import { REPO_ROOT } from './support/paths.js';

const EXAMPLE = path.join(REPO_ROOT, 'examples/readme');

describe("the README's example manifest", () => {
  it('is examples/readme/assets.pipeline.yaml, word for word', async () => {
    const readme = await readFile(path.join(REPO_ROOT, 'README.md'), 'utf8');
    const block = /```yaml\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(block).toBe(await readFile(path.join(EXAMPLE, 'assets.pipeline.yaml'), 'utf8'));
  });

  it('validates as it stands', async () => {
    const result = await runCli(['validate'], EXAMPLE);
    expect(result.stderr).not.toMatch(/E_[A-Z]/);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('assets.pipeline.yaml: ok (5 assets, 2 targets)');
  });
});
