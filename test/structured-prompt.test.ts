import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { loadManifest } from '../src/index.js';
import { TARGET_PRESETS } from '../src/manifest/presets.js';
import { pipelineSchema } from '../src/manifest/schema.js';
import type { ResolvedManifest } from '../src/manifest/types.js';
import { compilePrompt } from '../src/prompt/compile.js';
import { lintPrompts } from '../src/prompt/lint.js';
import type { Diagnostic } from '../src/util/errors.js';
import { CLI } from './support/paths.js';

const run = promisify(execFile);
const MANIFEST = 'assets.pipeline.yaml';
const dirs: string[] = [];

afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

async function project(text: string): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'gpt4k-structured-'));
  dirs.push(dir);
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, MANIFEST), text);
  return dir;
}

async function load(text: string): Promise<{ dir: string; result: { ok: true; value: ResolvedManifest } | { ok: false; error: Diagnostic[] } }> {
  const dir = await project(text);
  return { dir, result: await loadManifest(MANIFEST, { cwd: dir }) };
}

const STRUCTURED = `version: 1
defaults:
  generate: { size: 64x64 }
  upscale: { engine: none, scale: 1 }
styles:
  catalog: { prefix: "Commercial photography —" }
assets:
  bottle:
    style: catalog
    prompt:
      lighting: soft light from the left.
      details: [frosted glass, "  ", brushed metal cap]
      style: editorial still life,
      composition: front view, centered
      subject: "  Matte black perfume bottle "
`;

describe('structured prompts', () => {
  it('compile in a fixed order: subject, composition, style, details, lighting', () => {
    const compiled = compilePrompt({ lighting: 'rim light', details: ['oak', 'linen'], style: 'catalog photo', composition: 'flat lay', subject: 'A breakfast tray' });
    expect(compiled.text).toBe('A breakfast tray, flat lay, catalog photo, oak, linen, rim light');
    expect(compilePrompt('  just a string  ').text).toBe('just a string');
    expect(compilePrompt({ subject: 'Mug.' }).text).toBe('Mug');
  });

  it('load after the style prefix; the final text is what plan --verbose shows', async () => {
    const { dir, result } = await load(STRUCTURED);
    if (!result.ok) throw new Error(JSON.stringify(result.error, null, 2));
    const bottle = result.value.assets[0]!;
    const text = 'Matte black perfume bottle, front view, centered, editorial still life, frosted glass, brushed metal cap, soft light from the left';
    expect(bottle.ownPrompt).toBe(text);
    expect(bottle.prompt).toBe(`Commercial photography — ${text}`);
    const plan = await run(process.execPath, [CLI, 'plan', '--verbose'], { cwd: dir });
    expect(plan.stdout).toContain(`bottle: ${JSON.stringify(bottle.prompt)}`);
  });

  it('lint positions point into the field the words came from', async () => {
    const { dir, result } = await load(STRUCTURED.replace('brushed metal cap', 'stunning brushed metal cap'));
    if (!result.ok) throw new Error(JSON.stringify(result.error, null, 2));
    const lints = await lintPrompts(result.value);
    expect(lints.map((d) => [d.code, d.at?.file, d.at?.line, d.at?.col])).toEqual([['W_VAGUE_ANCHOR', path.join(dir, MANIFEST), 12, 38]]);
    expect(lints[0]!.sourceLine!.slice(37, 45)).toBe('stunning');
  });

  it('the schema checks the structure', async () => {
    const { result } = await load('version: 1\nassets:\n  a: { prompt: { subject: Mug, lightning: soft } }\n  b: { prompt: { composition: flat lay } }\n');
    if (result.ok) throw new Error('expected errors');
    expect(result.error.map((d) => [d.code, d.at?.line, d.at?.col, d.hint])).toEqual([
      ['E_UNKNOWN_FIELD', 3, 32, 'did you mean "lighting"?'],
      ['E_MISSING_FIELD', 4, 16, undefined],
    ]);
  });
});

describe('target presets', () => {
  it('size screen targets by name, turned by orientation', async () => {
    const { result } = await load(
      [
        'version: 1',
        'targets:',
        '  tv: { preset: uhd }',
        '  big: { preset: 8k, format: jpeg }',
        '  billboard: { preset: dooh }',
        '  station: { preset: dooh, orientation: portrait }',
        '  feed: { preset: instagram-square, fit: contain }',
        '  story: { preset: instagram-story }',
        '',
      ].join('\n'),
    );
    if (!result.ok) throw new Error(JSON.stringify(result.error, null, 2));
    const size = (id: string) => {
      const t = result.value.targets.get(id)!;
      return [t.width, t.height, t.preset, t.orientation];
    };
    expect(size('tv')).toEqual([3840, 2160, 'uhd', 'landscape']);
    expect(size('big')).toEqual([7680, 4320, '8k', 'landscape']);
    expect(size('billboard')).toEqual([5760, 3240, 'dooh', 'landscape']);
    expect(size('station')).toEqual([3240, 5760, 'dooh', 'portrait']);
    expect(size('feed')).toEqual([1080, 1080, 'instagram-square', 'landscape']);
    expect(size('story')).toEqual([1080, 1920, 'instagram-story', 'portrait']);
    expect(result.value.targets.get('big')).toMatchObject({ format: 'jpeg', quality: 90, color: { profile: 'srgb' }, preflight: 'off' });
    expect(result.value.targets.get('feed')!.fit).toBe('contain');
    // Digital out-of-home: at least 3000 px on the short edge, either way round.
    expect(Math.min(TARGET_PRESETS.dooh.width, TARGET_PRESETS.dooh.height)).toBeGreaterThanOrEqual(3000);
  });

  it('an unknown preset is an error with did-you-mean; the schema lists every preset', async () => {
    const { result } = await load('version: 1\ntargets:\n  tv: { preset: uhdd }\n  x: { preset: uhd, width: 10 }\n');
    if (result.ok) throw new Error('expected errors');
    expect(result.error.map((d) => [d.code, d.at?.line, d.at?.col, d.hint])).toEqual([
      ['E_SCHEMA_ENUM', 3, 17, 'did you mean "uhd"?'],
      ['E_UNKNOWN_FIELD', 4, 21, expect.stringContaining('preset targets take preset (which sets the size)')],
    ]);
    const defs = pipelineSchema().definitions as Record<string, { properties: Record<string, { enum?: string[] }> }>;
    expect(defs.presetTarget!.properties.preset!.enum).toEqual(Object.keys(TARGET_PRESETS));
  });
});
