import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Diagnostic } from '../src/util/errors.js';
import { DEFAULTS } from '../src/manifest/defaults.js';
import { loadManifest } from '../src/index.js';
import { mmToPx, printSize } from '../src/manifest/paper.js';
import { pipelineSchema } from '../src/manifest/schema.js';
import { closest, editDistance } from '../src/manifest/suggest.js';
import type { ResolvedManifest } from '../src/manifest/types.js';

const MANIFEST = 'assets.pipeline.yaml';
const dirs: string[] = [];

afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

/** A temp project with these files (paths relative to it); returns its directory. */
async function project(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'gpt4k-manifest-'));
  dirs.push(dir);
  for (const [name, text] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, name)), { recursive: true });
    await writeFile(path.join(dir, name), text);
  }
  return dir;
}

async function loadErrors(files: Record<string, string>): Promise<{ dir: string; errors: Diagnostic[] }> {
  const dir = await project(files);
  const result = await loadManifest(MANIFEST, { cwd: dir });
  if (result.ok) throw new Error('expected the manifest to be rejected');
  return { dir, errors: result.error };
}

async function loadOk(files: Record<string, string>): Promise<{ dir: string; manifest: ResolvedManifest }> {
  const dir = await project(files);
  const result = await loadManifest(MANIFEST, { cwd: dir });
  if (!result.ok) throw new Error(`expected a valid manifest, got:\n${JSON.stringify(result.error, null, 2)}`);
  return { dir, manifest: result.value };
}

interface Expected {
  code: string;
  line: number;
  col: number;
  /** Text the message must contain (the bad value, quoted). */
  names: string;
  hint?: string;
  /** File the position is in, relative to the project (default: the manifest). */
  file?: string;
}

/** Asserts that exactly one diagnostic has this code, and that it is where and what we expect. */
async function expectOneError(files: Record<string, string>, expected: Expected): Promise<Diagnostic> {
  const { dir, errors } = await loadErrors(files);
  const matching = errors.filter((e) => e.code === expected.code);
  expect(matching, JSON.stringify(errors, null, 2)).toHaveLength(1);
  const d = matching[0]!;
  expect(d.at).toEqual({ file: path.join(dir, expected.file ?? MANIFEST), line: expected.line, col: expected.col });
  expect(d.message).toContain(expected.names);
  if (expected.hint !== undefined) expect(d.hint).toContain(expected.hint);
  expect(d.sourceLine).toBeTypeOf('string');
  return d;
}

const TARGETS = `targets:
  a3: { paper: A3, dpi: 300, bleed_mm: 3, color: { profile: cmyk }, format: tiff }
  uhd: { width: 3840, height: 2160, fit: cover, format: png }
`;

describe('bad manifests', () => {
  it('broken YAML: error at the parser position', async () => {
    await expectOneError(
      { [MANIFEST]: 'version: 1\nassets:\n  hero: { prompt: x\n  sku: { prompt: y }\n' },
      { code: 'E_YAML', line: 4, col: 3, names: 'Flow map' },
    );
  });

  it('wrong type: a string where an integer belongs', async () => {
    await expectOneError(
      { [MANIFEST]: 'version: 1\nlimits:\n  generate: "five"\n' },
      { code: 'E_SCHEMA_TYPE', line: 3, col: 13, names: '"five"' },
    );
  });

  it('unknown field: at the key, with did-you-mean', async () => {
    const d = await expectOneError(
      { [MANIFEST]: `version: 1\n${TARGETS}assets:\n  hero:\n    prompt: "a coffee bag"\n    tagrets: [a3]\n` },
      { code: 'E_UNKNOWN_FIELD', line: 8, col: 5, names: '"tagrets"', hint: 'did you mean "targets"?' },
    );
    expect(d.sourceLine).toBe('    tagrets: [a3]');
  });

  it('unknown field in a target is matched against print and screen keys', async () => {
    await expectOneError(
      { [MANIFEST]: 'version: 1\ntargets:\n  uhd: { width: 3840, height: 2160, papr: A3 }\n' },
      { code: 'E_UNKNOWN_FIELD', line: 3, col: 37, names: '"papr"', hint: 'did you mean "paper"?' },
    );
  });

  it('unknown target in an asset, with did-you-mean', async () => {
    await expectOneError(
      { [MANIFEST]: `version: 1\n${TARGETS}assets:\n  hero: { prompt: x, targets: [a3, uhdd] }\n` },
      { code: 'E_UNKNOWN_TARGET', line: 6, col: 36, names: '"uhdd"', hint: 'did you mean "uhd"?' },
    );
  });

  it('bad size "1536x"', async () => {
    await expectOneError(
      { [MANIFEST]: 'version: 1\ndefaults:\n  generate: { size: 1536x }\n' },
      { code: 'E_BAD_SIZE', line: 3, col: 21, names: '"1536x"' },
    );
  });

  it('bad size "0x100" in an asset override', async () => {
    await expectOneError(
      { [MANIFEST]: 'version: 1\nassets:\n  hero:\n    prompt: x\n    generate: { size: 0x100 }\n' },
      { code: 'E_BAD_SIZE', line: 5, col: 23, names: '0x100' },
    );
  });

  it('bad size "1536x0" (quoted)', async () => {
    await expectOneError(
      { [MANIFEST]: 'version: 1\nassets:\n  hero:\n    prompt: x\n    generate: { size: "1536x0" }\n' },
      { code: 'E_BAD_SIZE', line: 5, col: 23, names: '"1536x0"' },
    );
  });

  it('missing include file: at the path value', async () => {
    await expectOneError(
      { [MANIFEST]: 'version: 1\nassets:\n  hero: { prompt: x }\ninclude:\n  - jobs.json\n' },
      { code: 'E_MISSING_FILE', line: 5, col: 5, names: '"jobs.json"' },
    );
  });

  it('duplicate id between the manifest and an include: at the second, naming the first', async () => {
    const d = await expectOneError(
      {
        [MANIFEST]: 'version: 1\nassets:\n  hero: { prompt: x }\ninclude:\n  - { file: batch/jobs.json }\n',
        'batch/jobs.json': '[\n  { "id": "sku-001", "prompt": "a" },\n  { "id": "hero", "prompt": "b" }\n]\n',
      },
      { code: 'E_DUPLICATE_ID', line: 3, col: 11, names: '"hero"', file: 'batch/jobs.json' },
    );
    expect(d.message).toMatch(/first defined at .*assets\.pipeline\.yaml:3:3/);
  });

  it('duplicate id between two includes', async () => {
    await expectOneError(
      {
        [MANIFEST]: 'version: 1\ninclude: [a.json, b.yaml]\n',
        'a.json': '[{ "id": "x1", "prompt": "a" }]',
        'b.yaml': '- id: x2\n  prompt: b\n- id: x1\n  prompt: c\n',
      },
      { code: 'E_DUPLICATE_ID', line: 3, col: 7, names: '"x1"', file: 'b.yaml' },
    );
  });

  it('duplicate asset key inside the manifest', async () => {
    const d = await expectOneError(
      { [MANIFEST]: 'version: 1\nassets:\n  hero: { prompt: x }\n  hero: { prompt: y }\n' },
      { code: 'E_DUPLICATE_ID', line: 4, col: 3, names: '"hero"' },
    );
    expect(d.message).toContain(':3:3');
  });

  it('style reference cycle, reported with its path', async () => {
    await expectOneError(
      {
        [MANIFEST]: [
          'version: 1',
          'styles:',
          '  A: { prefix: "style a", reference: sku-001 }',
          '  B: { prefix: "style b", reference: hero }',
          'assets:',
          '  hero: { prompt: x, style: A }',
          '  sku-001: { prompt: y, style: B }',
          '',
        ].join('\n'),
      },
      { code: 'E_CYCLE', line: 3, col: 38, names: 'hero -> sku-001 -> hero' },
    );
  });

  it('a style whose reference is its own asset is no cycle', async () => {
    const { manifest } = await loadOk({
      [MANIFEST]: 'version: 1\nstyles:\n  A: { prefix: p, reference: hero, whiteBalance: hero }\nassets:\n  hero: { prompt: x, style: A }\n  b: { prompt: y, style: A }\n',
    });
    expect(manifest.assets.map((a) => a.style)).toEqual(['A', 'A']);
  });

  it('output escaping the project', async () => {
    await expectOneError(
      { [MANIFEST]: 'version: 1\noutput: ../elsewhere\n' },
      { code: 'E_PATH_ESCAPE', line: 2, col: 9, names: '"../elsewhere"' },
    );
  });

  it('absolute output outside the project, and a source escaping it', async () => {
    const { errors } = await loadErrors({
      [MANIFEST]: 'version: 1\noutput: /tmp\nassets:\n  a: { source: ../../etc/passwd }\n',
    });
    expect(errors.map((e) => [e.code, e.at?.line, e.at?.col])).toEqual([
      ['E_PATH_ESCAPE', 2, 9],
      ['E_PATH_ESCAPE', 4, 16],
    ]);
  });

  it('output that would mix deliverables with the project itself', async () => {
    await expectOneError({ [MANIFEST]: 'version: 1\noutput: .\n' }, { code: 'E_BAD_OUTPUT', line: 2, col: 9, names: '"."' });
    await expectOneError({ [MANIFEST]: 'version: 1\noutput: .gpt4k/out\n' }, { code: 'E_BAD_OUTPUT', line: 2, col: 9, names: '".gpt4k/out"' });
  });

  it('include of an unsupported format', async () => {
    await expectOneError(
      { [MANIFEST]: 'version: 1\ninclude:\n  - { file: skus.xlsx }\n', 'skus.xlsx': 'id,prompt\n' },
      { code: 'E_INCLUDE_FORMAT', line: 3, col: 13, names: '"skus.xlsx"' },
    );
  });

  it('missing source file', async () => {
    await expectOneError(
      { [MANIFEST]: 'version: 1\nassets:\n  studio-shot:\n    source: ./photos/studio-shot.jpg\n' },
      { code: 'E_MISSING_FILE', line: 4, col: 13, names: '"./photos/studio-shot.jpg"' },
    );
  });

  it('bad asset id: at the key', async () => {
    await expectOneError(
      { [MANIFEST]: 'version: 1\nassets:\n  ok-1: { prompt: x }\n  hero.v2: { prompt: y }\n' },
      { code: 'E_BAD_ID', line: 4, col: 3, names: '"hero.v2"' },
    );
  });

  it('bad asset id in an include file: at the value', async () => {
    await expectOneError(
      { [MANIFEST]: 'version: 1\ninclude: [jobs.json]\n', 'jobs.json': '[{ "id": "../evil", "prompt": "x" }]' },
      { code: 'E_BAD_ID', line: 1, col: 10, names: '"../evil"', file: 'jobs.json' },
    );
  });

  it('unknown provider, with did-you-mean', async () => {
    await expectOneError(
      { [MANIFEST]: 'version: 1\nassets:\n  hero:\n    prompt: x\n    generate: { provider: openia }\n' },
      { code: 'E_UNKNOWN_PROVIDER', line: 5, col: 27, names: '"openia"', hint: 'did you mean "openai"?' },
    );
  });

  it('unknown upscale engine, with did-you-mean', async () => {
    await expectOneError(
      { [MANIFEST]: 'version: 1\ndefaults:\n  upscale: { engine: realesrgn }\n' },
      { code: 'E_UNKNOWN_ENGINE', line: 3, col: 22, names: '"realesrgn"', hint: 'did you mean "realesrgan"?' },
    );
  });

  it('unknown field inside an include file: position in that file', async () => {
    await expectOneError(
      {
        [MANIFEST]: 'version: 1\ninclude:\n  - jobs.json\n',
        'jobs.json': '[\n  { "id": "a", "prompt": "x" },\n  { "id": "b", "promt": "y" }\n]\n',
      },
      { code: 'E_UNKNOWN_FIELD', line: 3, col: 16, names: '"promt"', hint: 'did you mean "prompt"?', file: 'jobs.json' },
    );
  });

  it('broken JSON in an include file', async () => {
    await expectOneError(
      { [MANIFEST]: 'version: 1\ninclude:\n  - jobs.json\n', 'jobs.json': '[\n  { "id": "a", "prompt": "x", }\n' },
      { code: 'E_YAML', line: 3, col: 1, names: 'must end with a ]', file: 'jobs.json' },
    );
  });

  it('bad enum value, with did-you-mean', async () => {
    await expectOneError(
      { [MANIFEST]: 'version: 1\ntargets:\n  uhd: { width: 3840, height: 2160, fit: cove }\n' },
      { code: 'E_SCHEMA_ENUM', line: 3, col: 42, names: '"cove"', hint: 'did you mean "cover"?' },
    );
  });

  it('unknown profile in a target', async () => {
    await expectOneError(
      { [MANIFEST]: 'version: 1\nprofiles:\n  swop: srgb\ntargets:\n  a3: { paper: A3, color: { profile: swp } }\n' },
      { code: 'E_UNKNOWN_PROFILE', line: 5, col: 38, names: '"swp"', hint: 'did you mean "swop"?' },
    );
  });

  it('missing profile file', async () => {
    await expectOneError(
      { [MANIFEST]: 'version: 1\nprofiles:\n  swop: ./profiles/swop.icc\n' },
      { code: 'E_MISSING_FILE', line: 3, col: 9, names: '"./profiles/swop.icc"' },
    );
  });

  it('unknown style and unknown style reference', async () => {
    const { errors } = await loadErrors({
      [MANIFEST]: 'version: 1\nstyles:\n  catalog: { prefix: p, reference: heor }\nassets:\n  hero: { prompt: x, style: catalgo }\n',
    });
    expect(errors.map((e) => [e.code, e.at?.line, e.at?.col, e.hint])).toEqual([
      ['E_UNKNOWN_ASSET', 3, 36, 'did you mean "hero"?'],
      ['E_UNKNOWN_STYLE', 5, 29, 'did you mean "catalog"?'],
    ]);
  });

  it('an asset with neither prompt nor source', async () => {
    await expectOneError(
      { [MANIFEST]: 'version: 1\nassets:\n  hero: { style: x }\nstyles:\n  x: {}\n' },
      { code: 'E_MISSING_PROMPT', line: 3, col: 3, names: '"hero"' },
    );
  });

  it('custom paper without its sizes', async () => {
    await expectOneError(
      { [MANIFEST]: 'version: 1\ntargets:\n  poster: { paper: custom, width_mm: 500 }\n' },
      { code: 'E_MISSING_FIELD', line: 3, col: 11, names: 'height_mm' },
    );
  });

  it('collects every error, sorted by position', async () => {
    const { errors } = await loadErrors({
      [MANIFEST]: 'version: 2\noutptu: out\nlimits: { generate: 0 }\n',
    });
    expect(errors.map((e) => [e.code, e.at?.line, e.at?.col])).toEqual([
      ['E_SCHEMA_CONST', 1, 10],
      ['E_UNKNOWN_FIELD', 2, 1],
      ['E_SCHEMA_RANGE', 3, 21],
    ]);
    expect(errors[1]!.hint).toBe('did you mean "output"?');
  });

  it('a missing manifest is an error, not an exception', async () => {
    const dir = await project({});
    const result = await loadManifest(MANIFEST, { cwd: dir });
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error[0]!.code).toBe('E_MISSING_FILE');
  });
});

describe('good manifests', () => {
  it('applies defaults', async () => {
    const { dir, manifest } = await loadOk({ [MANIFEST]: `version: 1\n${TARGETS}assets:\n  hero: { prompt: "  a coffee bag  " }\n` });
    expect(manifest.file).toBe(path.join(dir, MANIFEST));
    expect(manifest.root).toBe(dir);
    expect(manifest.outputDir).toBe(path.join(dir, 'out'));
    expect(manifest.limits).toEqual({ generate: 5, process: os.availableParallelism(), gpu: 1 });
    expect(manifest.inputFiles).toEqual([path.join(dir, MANIFEST)]);
    expect(manifest.warnings).toEqual([]);
    const hero = manifest.assets[0]!;
    expect(hero).toMatchObject({ id: 'hero', prompt: 'a coffee bag', ownPrompt: 'a coffee bag', targets: ['a3', 'uhd'] });
    expect(hero.generate).toEqual({ provider: 'procedural', model: 'gpt-image-2', size: '1536x1024', quality: 'high', options: {} });
    expect(hero.upscale).toEqual({ engine: 'lanczos', scale: 4 });
    expect(hero.at).toEqual({ file: path.join(dir, MANIFEST), line: 6, col: 3 });
    const uhd = manifest.targets.get('uhd')!;
    expect(uhd).toMatchObject({ width: 3840, height: 2160, fit: 'cover', format: 'png', color: { profile: 'srgb', intent: 'perceptual', bpc: false } });
  });

  it('merges per-asset overrides over defaults; provider options go to options', async () => {
    const { dir, manifest } = await loadOk({
      [MANIFEST]: [
        'version: 1',
        'defaults:',
        '  generate: { provider: openai, quality: medium, background: opaque, seed: 7 }',
        '  upscale: { engine: lanczos, scale: 2, sharpen: true, binary: ../tools/realesrgan }',
        '  targets: [uhd]',
        TARGETS,
        'assets:',
        '  hero: { prompt: x }',
        '  sku: { prompt: y, targets: [a3], generate: { quality: low, output_format: jpeg, output_compression: 80 }, upscale: { engine: none, scale: 1 } }',
        '',
      ].join('\n'),
    });
    const [hero, sku] = manifest.assets;
    expect(hero!.targets).toEqual(['uhd']);
    expect(hero!.generate).toEqual({ provider: 'openai', model: 'gpt-image-2', size: '1536x1024', quality: 'medium', seed: 7, options: { background: 'opaque' } });
    expect(hero!.upscale).toEqual({ engine: 'lanczos', scale: 2, sharpen: true, binary: path.resolve(dir, '../tools/realesrgan') });
    expect(sku!.targets).toEqual(['a3']);
    expect(sku!.generate.quality).toBe('low');
    expect(sku!.generate.options).toEqual({ background: 'opaque', output_format: 'jpeg', output_compression: 80 });
    expect(sku!.upscale).toMatchObject({ engine: 'none', scale: 1, sharpen: true });
  });

  it('prepends the style prefix', async () => {
    const { manifest } = await loadOk({
      [MANIFEST]: [
        'version: 1',
        'styles:',
        '  catalog: { prefix: "Commercial photography —  ", reference: hero, whiteBalance: hero }',
        'assets:',
        '  hero: { prompt: "coffee bag", style: catalog }',
        '  plain: { prompt: " plain " }',
        '',
      ].join('\n'),
    });
    expect(manifest.assets.map((a) => a.prompt)).toEqual(['Commercial photography — coffee bag', 'plain']);
    expect(manifest.styles.get('catalog')).toMatchObject({ prefix: 'Commercial photography —  ', reference: 'hero', whiteBalance: 'hero' });
  });

  it('appends include assets, with positions in the include file and include-level defaults', async () => {
    const { dir, manifest } = await loadOk({
      [MANIFEST]: [
        'version: 1',
        TARGETS,
        'styles:',
        '  catalog: { prefix: "Packshot:" }',
        'assets:',
        '  hero: { prompt: x }',
        'include:',
        '  - jobs.json',
        '  - { file: more/batch.yaml, style: catalog, targets: [uhd] }',
        '',
      ].join('\n'),
      'jobs.json': '[\n  { "id": "sku-001", "prompt": "bottle", "generate": { "quality": "low" } },\n  { "id": "sku-002", "prompt": "cap", "targets": ["a3"] }\n]\n',
      'more/batch.yaml': '- id: sku-003\n  prompt: jar\n',
    });
    expect(manifest.assets.map((a) => a.id)).toEqual(['hero', 'sku-001', 'sku-002', 'sku-003']);
    expect(manifest.inputFiles).toEqual([path.join(dir, MANIFEST), path.join(dir, 'jobs.json'), path.join(dir, 'more/batch.yaml')]);
    const [, one, two, three] = manifest.assets;
    expect(one!.at).toEqual({ file: path.join(dir, 'jobs.json'), line: 2, col: 11 });
    expect(one!.generate.quality).toBe('low');
    expect(one!.targets).toEqual(['a3', 'uhd']);
    expect(two!.at).toEqual({ file: path.join(dir, 'jobs.json'), line: 3, col: 11 });
    expect(two!.targets).toEqual(['a3']);
    expect(three).toMatchObject({ style: 'catalog', prompt: 'Packshot: jar', targets: ['uhd'] });
    expect(three!.at).toEqual({ file: path.join(dir, 'more/batch.yaml'), line: 1, col: 7 });
  });

  it('sizes print targets: A3 at 300 dpi, bleed, landscape, custom', async () => {
    const { manifest } = await loadOk({
      [MANIFEST]: [
        'version: 1',
        'targets:',
        '  a3: { paper: A3 }',
        '  a3-bleed: { paper: A3, dpi: 300, bleed_mm: 3 }',
        '  a3-land: { paper: A3, orientation: landscape, bleed_mm: 3 }',
        '  card: { paper: custom, width_mm: 85, height_mm: 55, dpi: 600, format: png }',
        '',
      ].join('\n'),
    });
    const t = (id: string) => manifest.targets.get(id)!;
    expect(t('a3')).toMatchObject({ width: 3508, height: 4961, trimWidth: 3508, trimHeight: 4961, dpi: 300, bleedMm: 0, paper: 'A3', orientation: 'portrait', widthMm: 297, heightMm: 420 });
    expect(t('a3')).toMatchObject({ format: 'tiff', fit: 'cover', preflight: 'error', color: { profile: 'fogra39', intent: 'perceptual', bpc: false } });
    expect(t('a3-bleed')).toMatchObject({ width: 3579, height: 5031, trimWidth: 3508, trimHeight: 4961, bleedMm: 3 });
    expect(t('a3-land')).toMatchObject({ width: 5031, height: 3579, trimWidth: 4961, trimHeight: 3508, orientation: 'landscape' });
    expect(t('card')).toMatchObject({ width: mmToPx(85, 600), height: mmToPx(55, 600), orientation: 'landscape', color: { profile: 'srgb' } });
  });

  it('resolves built-in and file profiles; profile files may live outside the project', async () => {
    const shared = await project({ 'press.icc': 'not really an icc file' });
    const { dir, manifest } = await loadOk({
      [MANIFEST]: [
        'version: 1',
        'profiles:',
        '  swop: ./profiles/swop.icc',
        `  fogra: ${path.join(shared, 'press.icc')}`,
        '  web: srgb',
        'targets:',
        '  a3: { paper: A3, color: { profile: swop, intent: relative } }',
        '  a4: { paper: A4, color: { profile: cmyk } }',
        '  uhd: { width: 3840, height: 2160, format: jpeg, color: { profile: web } }',
        '',
      ].join('\n'),
      'profiles/swop.icc': 'fake',
    });
    expect(manifest.profiles.get('swop')).toMatchObject({ kind: 'file', path: path.join(dir, 'profiles/swop.icc') });
    expect(manifest.profiles.get('fogra')).toMatchObject({ kind: 'file', path: path.join(shared, 'press.icc') });
    expect(manifest.profiles.get('web')).toEqual({ kind: 'builtin', name: 'srgb' });
    expect(manifest.profiles.get('cmyk')).toEqual({ kind: 'builtin', name: 'cmyk' });
    expect(manifest.targets.get('a3')!.color).toEqual({ profile: 'swop', intent: 'relative', bpc: true });
    expect(manifest.targets.get('a4')!.color.profile).toBe('cmyk');
    expect(manifest.targets.get('uhd')).toMatchObject({ format: 'jpeg', quality: 90, color: { profile: 'web' } });
  });

  it('accepts YAML anchors and merge keys', async () => {
    const { manifest } = await loadOk({
      [MANIFEST]: 'version: 1\ntargets:\n  a4: &print { paper: A4, dpi: 150 }\n  a4-bleed: { <<: *print, bleed_mm: 3 }\n',
    });
    expect(manifest.targets.get('a4-bleed')).toMatchObject({ paper: 'A4', dpi: 150, bleedMm: 3 });
  });

  it('takes a source image instead of a prompt', async () => {
    const { dir, manifest } = await loadOk({
      [MANIFEST]: 'version: 1\noutput: build/out\nassets:\n  studio-shot: { source: ./photos/shot.jpg }\n',
      'photos/shot.jpg': 'jpeg bytes',
    });
    expect(manifest.outputDir).toBe(path.join(dir, 'build/out'));
    expect(manifest.assets[0]).toMatchObject({ id: 'studio-shot', source: path.join(dir, 'photos/shot.jpg'), prompt: '' });
  });
});

describe('schema and helpers', () => {
  it('documents the defaults the loader applies', () => {
    const schema = pipelineSchema() as { properties: Record<string, any>; definitions: Record<string, any> };
    const defs = schema.definitions;
    expect(schema.properties.output.default).toBe(DEFAULTS.output);
    for (const [key, value] of Object.entries(DEFAULTS.generate)) expect(defs.generate.properties[key].default).toBe(value);
    for (const [key, value] of Object.entries(DEFAULTS.upscale)) expect(defs.upscale.properties[key].default).toBe(value);
    expect(schema.properties.limits.properties.generate.default).toBe(DEFAULTS.limits.generate);
    expect(schema.properties.limits.properties.gpu.default).toBe(DEFAULTS.limits.gpu);
    expect(defs.printTarget.properties.dpi.default).toBe(DEFAULTS.print.dpi);
    expect(defs.printTarget.properties.bleed_mm.default).toBe(DEFAULTS.print.bleed_mm);
    expect(defs.printTarget.properties.format.default).toBe(DEFAULTS.print.format);
    expect(defs.printTarget.properties.preflight.default).toBe(DEFAULTS.print.preflight);
    expect(defs.screenTarget.properties.format.default).toBe(DEFAULTS.screen.format);
    expect(defs.fit.default).toBe(DEFAULTS.fit);
    expect(defs.color.properties.intent.default).toBe(DEFAULTS.intent);
  });

  it('describes every field', () => {
    const missing: string[] = [];
    const walk = (node: unknown, where: string): void => {
      if (!node || typeof node !== 'object') return;
      const n = node as Record<string, unknown>;
      if (n.properties && typeof n.properties === 'object') {
        for (const [key, child] of Object.entries(n.properties as Record<string, Record<string, unknown>>)) {
          if (typeof child.description !== 'string') missing.push(`${where}.${key}`);
        }
      }
      for (const [key, child] of Object.entries(n)) walk(child, `${where}.${key}`);
    };
    walk(pipelineSchema(), '#');
    expect(missing).toEqual([]);
  });

  it('sizes every A paper at 300 dpi', () => {
    expect(printSize({ paper: 'A4', dpi: 300, bleedMm: 0 })).toMatchObject({ width: 2480, height: 3508 });
    expect(printSize({ paper: 'A5', dpi: 300, bleedMm: 0 })).toMatchObject({ width: 1748, height: 2480 });
    expect(printSize({ paper: 'A0', dpi: 300, bleedMm: 0 })).toMatchObject({ width: 9933, height: 14043 });
    expect(printSize({ paper: 'A3', dpi: 300, bleedMm: 3, orientation: 'landscape' })).toMatchObject({ width: 5031, height: 3579 });
  });

  it('suggests close names only', () => {
    expect(editDistance('tagrets', 'targets')).toBe(1);
    expect(closest('openia', ['procedural', 'openai'])).toBe('openai');
    expect(closest('zzz', ['procedural', 'openai'])).toBeUndefined();
    expect(closest('A7', ['A0', 'A5'])).toBeUndefined();
  });
});

describe('parse cache (.gpt4k/parsed/)', () => {
  /** A manifest using what positions see through: block, folded and quoted scalars, escapes, flow maps, includes. */
  const RICH: Record<string, string> = {
    [MANIFEST]: [
      'version: 1',
      TARGETS,
      'styles:',
      '  catalog: { prefix: "Packshot \\"studio\\" light:", reference: hero }',
      'defaults:',
      '  generate: { provider: procedural, size: 64x64 }',
      'assets:',
      '  hero:',
      '    prompt: >',
      '      A folded prompt',
      '      over two lines, front view',
      '  "quoted-id": { prompt: "caf\\u00e9 \\"au lait\\", stunning flat lay", targets: [a3] }',
      "  plain: { prompt: 'it''s a mug, close-up', style: catalog }",
      '  block:',
      '    prompt: |',
      '      Literal block',
      '      kept as written',
      '  structured:',
      '    prompt:',
      '      subject: "  Matte black bottle "',
      '      details: [frosted glass, brushed cap]',
      '      composition: front view, centered',
      'include:',
      '  - jobs.json',
      '  - { file: more/batch.yaml, style: catalog, targets: [uhd] }',
      '',
    ].join('\n'),
    'jobs.json': '[\n  { "id": "sku-001", "prompt": "bottle, three-quarter view", "generate": { "quality": "low" } },\n  { "id": "sku-002", "prompt": "cap\\ttab", "targets": ["a3"] }\n]\n',
    'more/batch.yaml': '- id: sku-003\n  prompt: "jar on a\n    table"\n',
  };
  const entries = async (dir: string): Promise<string[]> => readdir(path.join(dir, '.gpt4k', 'parsed')).catch(() => []);

  it('gives the same manifest, positions and prompt spans from a kept parse as from the parser', async () => {
    const plain = await loadOk(RICH);
    expect(await entries(plain.dir)).toEqual([]); // no .gpt4k/: nothing kept, nothing created

    const dir = await project({ ...RICH });
    await mkdir(path.join(dir, '.gpt4k'));
    const first = await loadManifest(MANIFEST, { cwd: dir });
    expect(await entries(dir)).toHaveLength(3); // the manifest and both batch files
    const second = await loadManifest(MANIFEST, { cwd: dir });
    if (!first.ok || !second.ok) throw new Error('expected valid manifests');
    expect(second.value).toEqual(first.value);
    // The same as a project without the cache, but for the project's directory.
    const relative = (m: ResolvedManifest): string => JSON.stringify(m, (_k, v: unknown) => (v instanceof Map ? [...v] : v)).replaceAll(dir, '<dir>');
    expect(relative(second.value)).toBe(relative(plain.manifest).replaceAll(plain.dir, '<dir>'));
    expect(second.value.assets.find((a) => a.id === 'quoted-id')?.promptSpans?.length).toBeGreaterThan(0);
  });

  it('gives the same diagnostics from a kept parse, and never keeps a name of the project directory', async () => {
    const files = {
      [MANIFEST]: `version: 1\n${TARGETS}\nstyles:\n  s: { prefix: x, reference: nobody }\nassets:\n  hero: { prompt: "a \\"b\\" c", targets: [a33], style: sty }\n  mug:\n    prompt: >\n      folded\n      text\n    generate: { provider: openia }\n`,
    };
    const dir = await project(files);
    await mkdir(path.join(dir, '.gpt4k'));
    const first = await loadManifest(MANIFEST, { cwd: dir });
    const second = await loadManifest(MANIFEST, { cwd: dir });
    expect(await entries(dir)).toHaveLength(1);
    if (first.ok || second.ok) throw new Error('expected errors');
    expect(first.error.map((d) => d.code).sort()).toEqual(['E_UNKNOWN_ASSET', 'E_UNKNOWN_PROVIDER', 'E_UNKNOWN_STYLE', 'E_UNKNOWN_TARGET']);
    expect(second.error).toEqual(first.error);
    const [entry] = await entries(dir);
    expect(await readFile(path.join(dir, '.gpt4k', 'parsed', entry!), 'utf8')).not.toContain(dir);
  });

  it('checks kept data against the schema again when the schema is not the one it passed', async () => {
    const dir = await project({ [MANIFEST]: `version: 1\n${TARGETS}\nassets:\n  hero: { prompt: one }\n` });
    await mkdir(path.join(dir, '.gpt4k'));
    expect((await loadManifest(MANIFEST, { cwd: dir })).ok).toBe(true);
    const [name] = await entries(dir);
    const file = path.join(dir, '.gpt4k', 'parsed', name!);
    const entry = JSON.parse(await readFile(file, 'utf8')) as { valid?: string; data: { assets: Record<string, Record<string, unknown>> } };
    expect(entry.valid).toMatch(/^manifest:[0-9a-f]{32}$/);

    // Kept by a gpt4k with another schema: the data is checked, and a field this schema lacks is reported.
    entry.valid = 'manifest:another-schema';
    entry.data.assets.hero!.colour = 'red';
    await writeFile(file, JSON.stringify(entry));
    const again = await loadManifest(MANIFEST, { cwd: dir });
    expect(again.ok ? [] : again.error.map((d) => d.code)).toEqual(['E_UNKNOWN_FIELD']);
  });

  it('parses again when the file changes, and keeps no parse with YAML diagnostics or aliases', async () => {
    const dir = await project({ [MANIFEST]: `version: 1\n${TARGETS}\nassets:\n  hero: { prompt: one }\n` });
    await mkdir(path.join(dir, '.gpt4k'));
    await loadManifest(MANIFEST, { cwd: dir });
    await writeFile(path.join(dir, MANIFEST), `version: 1\n${TARGETS}\nassets:\n  hero: { prompt: two }\n  mug: { prompt: three }\n`);
    const changed = await loadManifest(MANIFEST, { cwd: dir });
    if (!changed.ok) throw new Error('expected a valid manifest');
    expect(changed.value.assets.map((a) => a.prompt)).toEqual(['two', 'three']);

    // A duplicate key: reported on every load (the parse is not kept).
    await writeFile(path.join(dir, MANIFEST), `version: 1\n${TARGETS}\nassets:\n  hero: { prompt: two }\n  hero: { prompt: three }\n`);
    for (let i = 0; i < 2; i++) {
      const dup = await loadManifest(MANIFEST, { cwd: dir });
      expect(dup.ok ? [] : dup.error.map((d) => d.code)).toEqual(['E_DUPLICATE_ID']);
    }

    const aliases = await project({ [MANIFEST]: 'version: 1\ntargets:\n  a4: &print { paper: A4, dpi: 150 }\n  a4-bleed: { <<: *print, bleed_mm: 3 }\n' });
    await mkdir(path.join(aliases, '.gpt4k'));
    for (let i = 0; i < 2; i++) {
      const loaded = await loadManifest(MANIFEST, { cwd: aliases });
      if (!loaded.ok) throw new Error('expected a valid manifest');
      expect(loaded.value.targets.get('a4-bleed')).toMatchObject({ paper: 'A4', dpi: 150, bleedMm: 3 });
    }
    expect(await entries(aliases)).toEqual([]);
  });
});
