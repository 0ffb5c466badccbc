/**
 * The press profiles gpt4k ships (icc/): named built-ins that a manifest uses without a file,
 * embedded byte for byte in the deliverables, and the default for CMYK targets. The generic
 * libvips profile stays available under a name that says what it is.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadProfile } from '../src/color/profiles.js';
import { BUILTIN_PROFILES } from '../src/manifest/types.js';
import { makeProject, type Project } from './support/cli-project.js';
import { ensureBuilt } from './support/cli-run.js';
import { FOGRA39, SWOP } from './support/paths.js';

const MANIFEST = `version: 1
defaults:
  generate: { provider: procedural, size: 128x128 }
  upscale: { engine: none }
targets:
  eu: { paper: custom, width_mm: 20, height_mm: 20, dpi: 150, format: tiff, preflight: off }
  us: { paper: custom, width_mm: 20, height_mm: 20, dpi: 150, color: { profile: swop-tr005 }, format: tiff, preflight: off }
  generic: { paper: custom, width_mm: 20, height_mm: 20, dpi: 150, color: { profile: libvips-cmyk }, format: tiff, preflight: off }
assets:
  hero:
    prompt: "a teal coffee bag, front view"
`;

describe('built-in press profiles', () => {
  it('each built-in loads and names what it is', async () => {
    const described = new Map<string, string>();
    for (const name of BUILTIN_PROFILES) described.set(name, (await loadProfile(name, { kind: 'builtin', name })).description);
    expect(Object.fromEntries(described)).toEqual({
      srgb: 'sRGB',
      fogra39: 'FOGRA39L Coated',
      'swop-tr005': 'SWOP TR005 Coated',
      'libvips-cmyk': 'Chemical proof',
      cmyk: 'Chemical proof',
    });
  });

  describe('in a build', () => {
    let project: Project;
    beforeAll(async () => {
      await ensureBuilt(['src/cli/format.ts', 'src/color/profiles.ts', 'src/manifest/types.ts', 'src/manifest/targets.ts']);
      project = await makeProject({ 'assets.pipeline.yaml': MANIFEST }, 'gpt4k-builtin-icc-');
    });
    afterAll(async () => project?.remove());

    it('a CMYK target with no profile gets FOGRA39L; swop-tr005 and libvips-cmyk embed theirs', async () => {
      const result = await project.run(['build']);
      expect(result.code, result.stderr).toBe(0);
      // The closing line says what to open.
      expect(result.stdout).toContain('deliverables out/, contact sheet out/report.html, report out/pipeline_report.json');
      const report = await project.report();
      const icc = Object.fromEntries(report.assets[0]!.outputs.map((o) => [o.target, o.icc]));
      expect(icc).toEqual({ eu: 'FOGRA39L Coated', us: 'SWOP TR005 Coated', generic: 'Chemical proof' });
      const embedded = async (target: string) => (await sharp(path.join(project.dir, `out/hero/${target}.tif`)).metadata()).icc;
      expect((await embedded('eu'))?.equals(await readFile(FOGRA39))).toBe(true);
      expect((await embedded('us'))?.equals(await readFile(SWOP))).toBe(true);
    });
  });
});
