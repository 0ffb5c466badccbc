/**
 * Deliverables that carry their provenance (docs/provenance.md), read back with real tools:
 * ExifTool (Debian libimage-exiftool-perl) for XMP, EXIF/TIFF tags and the ICC profile, qpdf
 * for the PDF's Info dictionary and metadata stream. Then through the real CLI: every format
 * of a generated and a source asset, the prompt only when the manifest opts in, and a rebuild
 * that re-renders the same bytes writes byte-identical files with the same ids.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadProfile, type LoadedProfile } from '../src/color/profiles.js';
import { renderTarget } from '../src/color/render.js';
import { PDFX4_REQUIRED_XMP, type Provenance } from '../src/color/xmp.js';
import { extractC2pa } from '../src/providers/c2pa.js';
import { mmToPx } from '../src/manifest/paper.js';
import type { ResolvedTarget } from '../src/manifest/types.js';
import type { RawImage } from '../src/util/image.js';
import { makeProject, type Project } from './support/cli-project.js';
import { startFakeOpenAI } from './support/fake-openai.js';
import { ensureBuilt } from './support/cli-run.js';
import { FOGRA39 } from './support/paths.js';

function run(command: string, args: string[]): string {
  const result = spawnSync(command, args, { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (result.error) throw new Error(`${command} is required for this test (Debian libimage-exiftool-perl / qpdf): ${result.error.message}`);
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed (${result.status}): ${result.stderr}`);
  return result.stdout;
}

/** Every tag ExifTool finds, keyed `Group:Tag` (e.g. `XMP-xmpMM:DocumentID`, `IFD0:Software`). */
function exif(file: string): Record<string, unknown> {
  return (JSON.parse(run('exiftool', ['-json', '-a', '-G1', '-struct', file])) as Array<Record<string, unknown>>)[0] as Record<string, unknown>;
}

const provenance: Provenance = {
  asset: 'hero',
  target: 't',
  toolVersion: '9.9.9',
  digitalSourceType: 'trainedAlgorithmicMedia',
  date: new Date('2025-03-04T05:06:07Z'),
  provider: 'openai',
  model: 'gpt-image-2',
  promptHash: 'sha256:abc',
  prompt: 'a teal coffee bag & <friends>',
  sourceHash: 'src123',
  upscaleHash: 'up456',
  renderKey: 'key789',
};

function target(format: ResolvedTarget['format'], color: ResolvedTarget['color']): ResolvedTarget {
  return {
    id: 't', width: mmToPx(40, 72), height: mmToPx(30, 72), trimWidth: mmToPx(34, 72), trimHeight: mmToPx(24, 72), dpi: 72, bleedMm: 3,
    paper: 'custom', widthMm: 34, heightMm: 24, fit: 'cover', format, color, preflight: 'off',
  };
}

let work: string;
let fogra: LoadedProfile;
let srgb: LoadedProfile;
const image: RawImage = { data: Buffer.alloc(160 * 120 * 3, 90), width: 160, height: 120, channels: 3, depth: 'uchar' };

beforeAll(async () => {
  work = mkdtempSync(path.join(tmpdir(), 'gpt4k-provenance-'));
  fogra = await loadProfile('fogra39', { kind: 'file', path: FOGRA39 });
  srgb = await loadProfile('srgb', { kind: 'builtin', name: 'srgb' });
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

async function rendered(name: string, t: ResolvedTarget, profile: LoadedProfile): Promise<string> {
  const out = await renderTarget(image, t, profile, provenance);
  const file = path.join(work, name);
  writeFileSync(file, out.data);
  return file;
}

describe('the XMP every format carries', () => {
  const cases: Array<[string, ResolvedTarget, () => LoadedProfile]> = [
    ['fast.tif', target('tiff', { profile: 'fogra39', intent: 'perceptual', bpc: false }), () => fogra], // libvips converts and encodes
    ['lcms.tif', target('tiff', { profile: 'fogra39', intent: 'relative', bpc: true }), () => fogra], // LittleCMS, then sharp encodes
    ['screen.png', target('png', { profile: 'srgb', intent: 'perceptual', bpc: false }), () => srgb],
    ['screen.jpg', target('jpeg', { profile: 'srgb', intent: 'perceptual', bpc: false }), () => srgb],
  ];
  for (const [name, t, profile] of cases) {
    it(`${name}: IPTC source type, tool, dates, ids, provider, prompt, ICC; TIFF/EXIF text tags`, async () => {
      const tags = exif(await rendered(name, t, profile()));
      expect(tags['XMP-iptcExt:DigitalSourceType']).toBe('http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia');
      expect(tags['XMP-xmp:CreatorTool']).toBe('gpt4k 9.9.9');
      expect(tags['XMP-xmp:CreateDate']).toBe('2025:03:04 05:06:07Z');
      expect(tags['XMP-xmp:ModifyDate']).toBe('2025:03:04 05:06:07Z');
      expect(tags['XMP-xmpMM:DocumentID']).toMatch(/^xmp\.did:[0-9a-f]{32}$/);
      expect(tags['XMP-xmpMM:InstanceID']).toMatch(/^xmp\.iid:[0-9a-f]{32}$/);
      expect(tags['XMP-xmpMM:DerivedFrom']).toEqual({ DocumentID: tags['XMP-xmpMM:OriginalDocumentID'], InstanceID: expect.stringMatching(/^xmp\.iid:/) });
      expect(tags['XMP-iptcExt:AISystemUsed']).toBe('gpt-image-2');
      expect(tags['XMP-iptcExt:AIPromptInformation']).toBe('a teal coffee bag & <friends>');
      expect(tags['XMP-gpt4k:Provider']).toBe('openai');
      expect(tags['XMP-gpt4k:PromptHash']).toBe('sha256:abc');
      expect(tags['XMP-gpt4k:SourceHash']).toBe('src123');
      expect(tags['XMP-gpt4k:RenderingIntent']).toBe(t.color.intent);
      expect(tags['XMP-photoshop:ICCProfileName']).toBe(profile().description);
      // The ICC profile is still embedded beside the metadata.
      expect(tags['ICC_Profile:ProfileDescription']).toBe(profile().description);
      expect(tags['IFD0:Software']).toBe('gpt4k 9.9.9');
      expect(tags['IFD0:ModifyDate']).toBe('2025:03:04 05:06:07');
      expect(tags['IFD0:ImageDescription']).toBe('hero/t');
    });
  }

  it('TIFF: the same pixels as without provenance after the text tags are added', async () => {
    for (const intent of ['relative', 'perceptual'] as const) {
      const t = target('tiff', { profile: 'fogra39', intent, bpc: false });
      const [stamped, bare] = await Promise.all([renderTarget(image, t, fogra, provenance), renderTarget(image, t, fogra)]);
      const pixels = (tiff: Buffer) => sharp(tiff, { ignoreIcc: true }).pipelineColourspace('cmyk').toColourspace('cmyk').raw().toBuffer();
      expect((await pixels(stamped.data)).equals(await pixels(bare.data))).toBe(true);
      expect(stamped.ink).toEqual(bare.ink);
    }
  });
});

describe('the PDF: PDF/X-4 identification', () => {
  let pdf: string;
  beforeAll(async () => {
    pdf = await rendered('x4.pdf', target('pdf', { profile: 'fogra39', intent: 'relative', bpc: true }), fogra);
  });

  it('has every XMP property PDF/X-4 requires, non-empty, in the catalog metadata stream', () => {
    run('qpdf', ['--check', pdf]);
    const json = JSON.parse(run('qpdf', ['--json=2', '--json-stream-data=inline', '--decode-level=generalized', pdf])) as {
      qpdf: [unknown, Record<string, { value?: Record<string, unknown>; stream?: { dict: Record<string, unknown>; data?: string } }>];
    };
    const objects = json.qpdf[1];
    const catalog = Object.values(objects).find((o) => o.value?.['/Type'] === '/Catalog')?.value as Record<string, string>;
    const metadata = objects[`obj:${catalog['/Metadata']}`]?.stream;
    expect(metadata?.dict['/Subtype']).toBe('/XML');
    const xmp = Buffer.from(metadata?.data ?? '', 'base64').toString('utf8');
    // A value, or (dc:title) a language alternative with one.
    for (const key of PDFX4_REQUIRED_XMP) expect(xmp, key).toMatch(new RegExp(`<${key}>(<rdf:Alt><rdf:li xml:lang="x-default">)?[^<\\s]`));
    expect(xmp).toContain('<pdfxid:GTS_PDFXVersion>PDF/X-4</pdfxid:GTS_PDFXVersion>');
    expect(xmp).toContain('<xmpMM:RenditionClass>default</xmpMM:RenditionClass>');
    expect(xmp).toContain('<pdf:Trapped>False</pdf:Trapped>');
  });

  it('Info dictionary agrees with the XMP (dates, title, trapping, version)', () => {
    const tags = exif(pdf);
    expect(tags['PDF:CreateDate']).toBe('2025:03:04 05:06:07Z');
    expect(tags['PDF:ModifyDate']).toBe('2025:03:04 05:06:07Z');
    expect(tags['XMP-xmp:CreateDate']).toBe('2025:03:04 05:06:07Z');
    expect(tags['PDF:Trapped']).toBe(false); // ExifTool's JSON gives /False as a boolean
    expect(tags['PDF:Producer']).toBe('gpt4k 9.9.9');
    expect(tags['XMP-dc:Title']).toBe(tags['PDF:Title']);
    expect(tags['XMP-iptcExt:DigitalSourceType']).toMatch(/trainedAlgorithmicMedia$/);
    expect(tags['XMP-xmpMM:DocumentID']).toMatch(/^xmp\.did:/);
  });
});

describe('provider C2PA manifests', () => {
  it('finds the manifest store in a PNG caBX chunk, byte for byte', async () => {
    const png = await sharp({ create: { width: 4, height: 4, channels: 3, background: '#123' } }).png().toBuffer();
    const manifest = Buffer.from('\0\0\0\x10jumbc2pa-manifest-store');
    const chunk = Buffer.alloc(12 + manifest.length);
    chunk.writeUInt32BE(manifest.length, 0);
    chunk.write('caBX', 4, 'latin1');
    manifest.copy(chunk, 8);
    // After IHDR (8 + 25 bytes), before IDAT, where C2PA puts it.
    const signed = Buffer.concat([png.subarray(0, 33), chunk, png.subarray(33)]);
    expect(extractC2pa(signed)?.equals(manifest)).toBe(true);
    expect(extractC2pa(png)).toBeUndefined();
    expect(extractC2pa(Buffer.from('not an image'))).toBeUndefined();
  });
});

const MANIFEST = (promptOptIn: boolean) => `version: 1
defaults:
  generate: { provider: procedural, size: 256x256 }
  upscale: { engine: lanczos, scale: 2 }
${promptOptIn ? 'provenance: { prompt: true }\n' : ''}profiles:
  press: ./press.icc
targets:
  print: { paper: custom, width_mm: 40, height_mm: 30, dpi: 72, bleed_mm: 3, color: { profile: press, intent: relative }, format: tiff }
  fast: { paper: custom, width_mm: 40, height_mm: 30, dpi: 72, color: { profile: press }, format: tiff }
  pdf: { paper: custom, width_mm: 40, height_mm: 30, dpi: 72, bleed_mm: 3, color: { profile: press, intent: relative }, format: pdf }
  web: { width: 320, height: 240, format: png }
  jpg: { width: 320, height: 240, format: jpeg }
assets:
  hero:
    prompt: "a secret teal coffee bag"
    targets: [print, fast, pdf, web, jpg]
  photo:
    source: ./photo.png
    targets: [print, web]
`;

const DELIVERABLES = ['hero/print.tif', 'hero/fast.tif', 'hero/pdf.pdf', 'hero/web.png', 'hero/jpg.jpg', 'photo/print.tif', 'photo/web.png'];

async function project(promptOptIn: boolean): Promise<Project> {
  const photo = await sharp({ create: { width: 200, height: 150, channels: 3, background: '#7a9' } }).png().toBuffer();
  return makeProject({ 'assets.pipeline.yaml': MANIFEST(promptOptIn), 'press.icc': await readFile(FOGRA39), 'photo.png': photo }, 'gpt4k-provenance-');
}

async function snapshot(p: Project): Promise<Map<string, Buffer>> {
  return new Map(await Promise.all(DELIVERABLES.map(async (rel) => [rel, await p.bytes(`out/${rel}`)] as const)));
}

/** Removes the render action records (and the index), so the next build renders again from cached generations. */
async function forgetRenders(p: Project): Promise<void> {
  const actions = path.join(p.dir, '.gpt4k', 'actions');
  for (const dir of await readdir(actions)) {
    for (const file of await readdir(path.join(actions, dir))) {
      const record = JSON.parse(await readFile(path.join(actions, dir, file), 'utf8')) as { kind: string };
      if (record.kind === 'render') await rm(path.join(actions, dir, file));
    }
  }
  await rm(path.join(p.dir, '.gpt4k', 'action-index.json'), { force: true });
}

describe('through the CLI', () => {
  const projects: Project[] = [];
  beforeAll(() => ensureBuilt(['src/cli/main.ts', 'src/engine/build.ts', 'src/engine/execution/render.ts', 'src/engine/provenance.ts', 'src/graph/provenance.ts', 'src/graph/keys.ts', 'src/color/render.ts', 'src/color/pdf.ts', 'src/color/xmp.ts', 'src/color/tiff-tags.ts', 'src/steps/render.ts', 'src/manifest/load.ts']), 120_000);
  afterAll(async () => {
    await Promise.all(projects.map((p) => p.remove()));
  });

  it('generated and source assets carry what they are; the prompt only as a hash by default', async () => {
    const p = await project(false);
    projects.push(p);
    const built = await p.run(['build'], { SOURCE_DATE_EPOCH: undefined });
    expect(built.code, built.stderr).toBe(0);
    const hero = exif(path.join(p.dir, 'out/hero/print.tif'));
    expect(hero['XMP-iptcExt:DigitalSourceType']).toBe('http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia');
    expect(hero['XMP-gpt4k:Provider']).toBe('procedural');
    expect(hero['XMP-gpt4k:PromptHash']).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(hero['XMP-iptcExt:AIPromptInformation']).toBeUndefined();
    expect(JSON.stringify(hero)).not.toContain('secret');
    // The offline provider's image is a function of its key: no date (the OpenAI test has one).
    expect(hero['XMP-xmp:CreateDate']).toBeUndefined();
    expect(hero['IFD0:Software']).toMatch(/^gpt4k \d+\.\d+\.\d+/);
    expect(hero['IFD0:ImageDescription']).toBe('hero/print');
    // Every format of one asset: one original, each rendition its own instance.
    const all = DELIVERABLES.filter((d) => d.startsWith('hero/')).map((d) => exif(path.join(p.dir, 'out', d)));
    expect(new Set(all.map((t) => t['XMP-xmpMM:OriginalDocumentID'])).size).toBe(1);
    expect(new Set(all.map((t) => t['XMP-xmpMM:InstanceID'])).size).toBe(all.length);
    // A photo only resized and converted: no AI claim, no generation facts, no date known.
    const photo = exif(path.join(p.dir, 'out/photo/print.tif'));
    expect(photo['XMP-iptcExt:DigitalSourceType']).toBeUndefined();
    expect(photo['XMP-gpt4k:Provider']).toBeUndefined();
    expect(photo['XMP-xmp:CreateDate']).toBeUndefined();
    expect(photo['XMP-xmpMM:DocumentID']).toMatch(/^xmp\.did:/);
    expect(photo['IFD0:Software']).toMatch(/^gpt4k /);

    // Re-rendering the same cached generations writes the same bytes: ids and dates included.
    const first = await snapshot(p);
    await forgetRenders(p);
    await rm(path.join(p.dir, 'out'), { recursive: true });
    const again = await p.run(['build'], { SOURCE_DATE_EPOCH: undefined });
    expect(again.code, again.stderr).toBe(0);
    expect((await p.report()).assets.flatMap((a) => a.steps).filter((s) => s.kind === 'render' && s.status === 'built')).toHaveLength(DELIVERABLES.length);
    const second = await snapshot(p);
    for (const rel of DELIVERABLES) expect(second.get(rel)?.equals(first.get(rel) as Buffer), rel).toBe(true);
  }, 120_000);

  it('opting in writes the prompt, re-renders (the key changed) and, with SOURCE_DATE_EPOCH, two clean projects give identical files', async () => {
    const [a, b] = await Promise.all([project(true), project(true)]);
    projects.push(a, b);
    const env = { SOURCE_DATE_EPOCH: '1700000000' };
    for (const p of [a, b]) {
      const built = await p.run(['build'], env);
      expect(built.code, built.stderr).toBe(0);
    }
    const tags = exif(path.join(a.dir, 'out/hero/web.png'));
    expect(tags['XMP-iptcExt:AIPromptInformation']).toBe('a secret teal coffee bag');
    expect(tags['XMP-xmp:CreateDate']).toBe('2023:11:14 22:13:20Z');
    const [sa, sb] = await Promise.all([snapshot(a), snapshot(b)]);
    for (const rel of DELIVERABLES) expect(sa.get(rel)?.equals(sb.get(rel) as Buffer), rel).toBe(true);

    // Turning the opt-in off again rewrites the deliverables without the prompt.
    await a.write('assets.pipeline.yaml', MANIFEST(false));
    const off = await a.run(['build'], env);
    expect(off.code, off.stderr).toBe(0);
    expect(exif(path.join(a.dir, 'out/hero/web.png'))['XMP-iptcExt:AIPromptInformation']).toBeUndefined();
  }, 120_000);
});

describe('with the OpenAI stand-in', () => {
  it("keeps the provider's C2PA manifest as a sidecar named in the XMP; a photo-conditioned generation is a composite", async () => {
    const manifestStore = Buffer.from('\0\0\0\x1ejumb\0\0\0\x16jumdc2pa signed by the provider');
    const api = await startFakeOpenAI({ apiKey: 'sk-test', c2pa: manifestStore });
    const photo = await sharp({ create: { width: 200, height: 150, channels: 3, background: '#7a9' } }).png().toBuffer();
    const p = await makeProject({
      'photo.png': photo,
      'assets.pipeline.yaml': `version: 1
defaults:
  generate: { provider: openai, model: gpt-image-2, size: 1024x1024, quality: low }
  upscale: { engine: none }
styles:
  onphoto: { prefix: "studio", reference: photo }
targets:
  web: { width: 320, height: 240, format: png }
assets:
  hero:
    prompt: "a teal coffee bag"
    targets: [web]
  photo:
    source: ./photo.png
  edited:
    style: onphoto
    prompt: "the same bottle in blue"
    targets: [web]
`,
    }, 'gpt4k-provenance-');
    try {
      const built = await p.run(['build'], { OPENAI_API_KEY: 'sk-test', OPENAI_BASE_URL: api.url, SOURCE_DATE_EPOCH: undefined });
      expect(built.code, built.stderr).toBe(0);
      expect((await p.bytes('out/hero/generated.c2pa')).equals(manifestStore)).toBe(true);
      const hero = exif(path.join(p.dir, 'out/hero/web.png'));
      expect(hero['XMP-gpt4k:ProviderC2PA']).toBe('generated.c2pa');
      expect(hero['XMP-gpt4k:ProviderC2PAHash']).toMatch(/^sha256:[0-9a-f]{64}$/);
      expect(hero['XMP-gpt4k:Provider']).toBe('openai');
      expect(hero['XMP-iptcExt:AISystemUsed']).toBe('gpt-image-2');
      expect(hero['XMP-iptcExt:DigitalSourceType']).toMatch(/\/trainedAlgorithmicMedia$/);
      // A remote generation is an event: the date is its action record's, to the second.
      const records = await Promise.all(
        (await readdir(path.join(p.dir, '.gpt4k', 'actions'), { recursive: true })).filter((f) => f.endsWith('.json')).map(async (f) => JSON.parse(await p.read(`.gpt4k/actions/${f}`)) as { nodeId: string; createdAt: string }),
      );
      const generated = records.find((r) => r.nodeId === 'hero/generate');
      expect(hero['XMP-xmp:CreateDate']).toBe(generated?.createdAt.replace(/\.\d+Z$/, 'Z').replace(/^(\d{4})-(\d\d)-(\d\d)T/, '$1:$2:$3 '));
      expect(hero['IFD0:ModifyDate']).toBe(String(hero['XMP-xmp:CreateDate']).slice(0, 19));
      const edited = exif(path.join(p.dir, 'out/edited/web.png'));
      expect(edited['XMP-iptcExt:DigitalSourceType']).toBe('http://cv.iptc.org/newscodes/digitalsourcetype/compositeWithTrainedAlgorithmicMedia');

      // Deleted from out/, the sidecar comes back from the cache with its deliverable: nothing is sent.
      const sent = api.requests.length;
      await rm(path.join(p.dir, 'out/hero/generated.c2pa'));
      const again = await p.run(['build'], { OPENAI_API_KEY: 'sk-test', OPENAI_BASE_URL: api.url, SOURCE_DATE_EPOCH: undefined });
      expect(again.code, again.stderr).toBe(0);
      expect((await p.bytes('out/hero/generated.c2pa')).equals(manifestStore)).toBe(true);
      expect(api.requests).toHaveLength(sent);
      await rm(path.join(p.dir, 'out'), { recursive: true });
      expect((await p.run(['build'], { OPENAI_API_KEY: 'sk-test', OPENAI_BASE_URL: api.url, SOURCE_DATE_EPOCH: undefined })).code).toBe(0);
      expect((await p.bytes('out/hero/generated.c2pa')).equals(manifestStore)).toBe(true);
      expect(api.requests).toHaveLength(sent);
    } finally {
      await Promise.all([api.close(), p.remove()]);
    }
  }, 120_000);
});
