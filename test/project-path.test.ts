import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { projectPath } from '../src/graph/plan.js';
import type { ResolvedManifest } from '../src/manifest/types.js';

describe('projectPath', () => {
  it('gives what path.relative gives, with forward slashes, for clean and unclean paths alike', () => {
    const manifest = { root: '/work/proj' } as ResolvedManifest;
    const files = [
      '/work/proj/out/hero/a3.tif', '/work/proj/out/../photo.png', '/work/proj/./a', '/work/proj//a', '/work/proj/a/',
      '/work/projx/a', '/work/proj', '/elsewhere/a.icc', '/work/proj/.hidden/a.png', '/work/proj/a..b/c', '/work/proj/a/.', '/work/proj/...',
    ];
    for (const file of files) expect(projectPath(manifest, file)).toBe(path.relative(manifest.root, file).split(path.sep).join('/'));
  });
});
