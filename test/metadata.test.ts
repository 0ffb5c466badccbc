/**
 * `metadata:` (docs/provenance.md): copyright, credit, usage terms and keywords from the
 * manifest's defaults, an asset's own, or a catalog's columns, read back with ExifTool from every
 * format; changing them re-renders the deliverables and generates nothing.
 */
import { spawnSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeProject, type Project } from './support/cli-project.js';
import { ensureBuilt } from './support/cli-run.js';
import { FOGRA39 } from './support/paths.js';

/** Every tag ExifTool finds, keyed `Group:Tag`; lists as arrays (-struct). */
function exif(file: string): Record<string, unknown> {
  const result = spawnSync('exiftool', ['-json', '-a', '-G1', '-struct', file], { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (result.error) throw new Error(`exiftool is required for this test (Debian libimage-exiftool-perl): ${result.error.message}`);
  return (JSON.parse(result.stdout) as Array<Record<string, unknown>>)[0] as Record<string, unknown>;
}

const MANIFEST = (copyright: string) => `version: 1
defaults:
  generate: { provider: procedural, size: 128x128 }
  upscale: { engine: none }
  metadata:
    copyright: "${copyright}"
    usageTerms: "Spring 2026 catalogue only"
    keywords: [acme, packshot]
profiles:
  press: ./press.icc
targets:
  print: { paper: custom, width_mm: 20, height_mm: 20, dpi: 72, color: { profile: press }, format: tiff }
  pdf: { paper: custom, width_mm: 20, height_mm: 20, dpi: 72, color: { profile: press }, format: pdf }
  web: { width: 96, height: 96, format: png }
  jpg: { width: 96, height: 96, format: jpeg }
assets:
  hero:
    prompt: "teal coffee bag"
    metadata: { credit: "Acme studio / gpt4k", keywords: [hero, coffee] }
  plain:
    prompt: "copper press"
    metadata: { copyright: "", usageTerms: "" }
include:
  - file: skus.csv
    id: "sku-{{sku}}"
    prompt: "Packshot of {{name}}"
    metadata:
      credit: "{{brand}}"
      keywords: ["{{name}}", "{{tags}}"]
`;

const SKUS = 'sku,name,brand,tags\n001,red mug,Mugs & Co,kitchen; ceramic\n';

describe('metadata: in every deliverable', () => {
  let p: Project;
  beforeAll(async () => {
    await ensureBuilt(['src/manifest/metadata.ts', 'src/manifest/catalog.ts', 'src/manifest/assets.ts', 'src/graph/provenance.ts', 'src/color/xmp.ts']);
    p = await makeProject({ 'assets.pipeline.yaml': MANIFEST('© 2026 Acme GmbH'), 'skus.csv': SKUS, 'press.icc': await readFile(FOGRA39) }, 'gpt4k-metadata-');
  }, 120_000);
  afterAll(() => p?.remove());

  it('writes copyright, credit, usage terms and keywords into TIFF, PDF, PNG and JPEG', async () => {
    const built = await p.run(['build']);
    expect(built.code, built.stderr).toBe(0);
    for (const file of ['print.tif', 'pdf.pdf', 'web.png', 'jpg.jpg']) {
      const tags = exif(path.join(p.dir, 'out/hero', file));
      expect(tags['XMP-dc:Rights'], file).toBe('© 2026 Acme GmbH');
      expect(tags['XMP-xmpRights:Marked'], file).toBe(true);
      expect(tags['XMP-photoshop:Credit'], file).toBe('Acme studio / gpt4k');
      expect(tags['XMP-xmpRights:UsageTerms'], file).toBe('Spring 2026 catalogue only');
      // The asset's own keywords replace the defaults' (field by field, as generate: does).
      expect(tags['XMP-dc:Subject'], file).toEqual(['hero', 'coffee']);
    }
    // "" clears a default; what the asset does not set comes from the defaults.
    const plain = exif(path.join(p.dir, 'out/plain/web.png'));
    expect(plain['XMP-dc:Rights']).toBeUndefined();
    expect(plain['XMP-xmpRights:UsageTerms']).toBeUndefined();
    expect(plain['XMP-dc:Subject']).toEqual(['acme', 'packshot']);
    // A catalog row fills the templates; a cell of several keywords gives each.
    const sku = exif(path.join(p.dir, 'out/sku-001/print.tif'));
    expect(sku['XMP-photoshop:Credit']).toBe('Mugs & Co');
    expect(sku['XMP-dc:Subject']).toEqual(['red mug', 'kitchen', 'ceramic']);
    expect(sku['XMP-dc:Rights']).toBe('© 2026 Acme GmbH');
  }, 120_000);

  it('a changed copyright re-renders every deliverable and generates nothing', async () => {
    await p.write('assets.pipeline.yaml', MANIFEST('© 2027 Acme GmbH'));
    const plan = await p.run(['plan']);
    expect(plan.stdout).toContain('metadata copyright: © 2026 Acme GmbH → © 2027 Acme GmbH');
    const built = await p.run(['build']);
    expect(built.code, built.stderr).toBe(0);
    const steps = (await p.report()).assets.flatMap((a) => a.steps.map((s) => ({ asset: a.id, ...s })));
    expect(steps.filter((s) => s.kind === 'generate').every((s) => s.status === 'cached')).toBe(true);
    // plain clears the copyright: its deliverables say the same as before and stay cached.
    const rendered = steps.filter((s) => s.kind === 'render' && s.status === 'built').map((s) => s.asset);
    expect([...new Set(rendered)].sort()).toEqual(['hero', 'sku-001']);
    expect(rendered).toHaveLength(8);
    expect(exif(path.join(p.dir, 'out/hero/pdf.pdf'))['XMP-dc:Rights']).toBe('© 2027 Acme GmbH');
  }, 120_000);
});
