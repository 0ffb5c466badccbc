import { existsSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadManifest } from '../src/index.js';
import type { PipelineReport } from '../src/report/types.js';
import type { Diagnostic } from '../src/util/errors.js';
import { makeProject, runCli } from './support/project.js';

const MANIFEST = 'assets.pipeline.yaml';
const dirs: string[] = [];

afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

async function project(files: Record<string, string>): Promise<string> {
  const dir = await makeProject(files, 'gpt4k-catalog-');
  dirs.push(dir);
  return dir;
}

async function cli(dir: string, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const { code, stdout, stderr } = await runCli(args, { cwd: dir });
  return { code: code ?? 1, stdout, stderr };
}

async function errorsOf(files: Record<string, string>): Promise<{ dir: string; errors: Diagnostic[] }> {
  const dir = await project(files);
  const result = await loadManifest(MANIFEST, { cwd: dir });
  if (result.ok) throw new Error('expected the manifest to be rejected');
  return { dir, errors: result.error };
}

/** Tiny sizes so 50 assets build in a few seconds. */
const FAST = `version: 1
defaults:
  generate: { provider: procedural, size: 64x64 }
  upscale: { engine: lanczos, scale: 1 }
targets:
  thumb: { width: 96, height: 64, format: png }
`;

const COLORS = ['teal', 'amber', 'graphite', 'coral', 'sage'];
const NAMES = ['mug', 'bottle', 'tin', 'jar', 'pouch', 'box', 'tube', 'flask', 'cup', 'bowl'];

function skus(rows: number, edit?: (row: number, color: string) => string): string {
  const lines = ['sku,name,color'];
  for (let i = 1; i <= rows; i++) {
    const color = COLORS[i % COLORS.length]!;
    lines.push(`${String(i).padStart(3, '0')},ceramic ${NAMES[i % NAMES.length]} no. ${i},${edit ? edit(i, color) : color}`);
  }
  return `${lines.join('\n')}\n`;
}

describe('catalog batches', () => {
  it('builds one asset per CSV row, and an edited row rebuilds that asset only', async () => {
    const dir = await project({
      [MANIFEST]: `${FAST}include:\n  - { file: skus.csv, id: "sku-{{sku}}", prompt: "Packshot of a {{name}} in {{color}} glaze, front view, centered" }\n`,
      'skus.csv': skus(50),
    });
    const first = await cli(dir, 'build');
    expect(first.code, first.stderr).toBe(0);
    const report = JSON.parse(await readFile(path.join(dir, 'out/pipeline_report.json'), 'utf8')) as PipelineReport;
    expect(report.summary).toMatchObject({ assets: 50, built: 50, failed: 0 });
    expect(existsSync(path.join(dir, 'out/sku-050/thumb.png'))).toBe(true);
    const seventeen = report.assets.find((a) => a.id === 'sku-017');
    expect(seventeen?.prompt).toBe(`Packshot of a ceramic ${NAMES[7]} no. 17 in ${COLORS[2]} glaze, front view, centered`);

    await writeFile(path.join(dir, 'skus.csv'), skus(50, (row, color) => (row === 17 ? 'oxblood' : color)));
    const second = await cli(dir, 'build');
    expect(second.code, second.stderr).toBe(0);
    const after = JSON.parse(await readFile(path.join(dir, 'out/pipeline_report.json'), 'utf8')) as PipelineReport;
    expect(after.summary).toMatchObject({ assets: 50, built: 1, cached: 49 });
    expect(after.assets.filter((a) => a.status === 'built').map((a) => a.id)).toEqual(['sku-017']);
  });

  it('takes JSON Lines and structured prompt templates, with optional sections', async () => {
    const dir = await project({
      [MANIFEST]: [
        FAST,
        'styles:',
        '  catalog: { prefix: "Commercial photography —" }',
        'include:',
        '  - file: data/items.jsonl',
        '    id: "item-{{code}}"',
        '    style: catalog',
        '    prompt:',
        '      subject: "{{name}}{{#finish}} with a {{finish}} finish{{/finish}}"',
        '      composition: three-quarter view, centered',
        '      details: ["{{material}}"]',
        '',
      ].join('\n'),
      'data/items.jsonl': '{"code": "a1", "name": "Desk lamp", "material": "brushed aluminium", "finish": "matte"}\n\n{"code": "b2", "name": "Stool", "material": "oak"}\n',
    });
    const result = await loadManifest(MANIFEST, { cwd: dir });
    if (!result.ok) throw new Error(JSON.stringify(result.error, null, 2));
    expect(result.value.assets.map((a) => [a.id, a.prompt, a.origin])).toEqual([
      ['item-a1', 'Commercial photography — Desk lamp with a matte finish, three-quarter view, centered, brushed aluminium', 'row 1 of data/items.jsonl'],
      ['item-b2', 'Commercial photography — Stool, three-quarter view, centered, oak', 'row 2 of data/items.jsonl'],
    ]);
    expect(result.value.inputFiles).toContain(path.join(dir, 'data/items.jsonl'));
    expect(result.value.assets[1]!.at).toEqual({ file: path.join(dir, 'data/items.jsonl'), line: 3, col: 1 });
  });

  it('an unknown column is an error at the tag inside the manifest (quoted and plain scalars)', async () => {
    const quoted = await errorsOf({
      [MANIFEST]: `${FAST}include:\n  - { file: skus.csv, id: "sku-{{sku}}", prompt: "Packshot of {{name}}, {{colr}}" }\n`,
      'skus.csv': skus(3),
    });
    expect(quoted.errors).toHaveLength(1);
    expect(quoted.errors[0]).toMatchObject({ code: 'E_UNKNOWN_COLUMN', at: { file: path.join(quoted.dir, MANIFEST), line: 8, col: 73 }, hint: 'did you mean "color"?' });
    expect(quoted.errors[0]!.sourceLine!.slice(72, 80)).toBe('{{colr}}');

    const plain = await errorsOf({
      [MANIFEST]: `${FAST}include:\n  - file: skus.csv\n    id: sku-{{sku}}\n    prompt: Packshot of {{ nme }} in {{color}}\n`,
      'skus.csv': skus(3),
    });
    expect(plain.errors).toHaveLength(1);
    expect(plain.errors[0]).toMatchObject({ code: 'E_UNKNOWN_COLUMN', at: { line: 10, col: 25 } });
    expect(plain.errors[0]!.message).toContain('"nme"');

    const escaped = await errorsOf({
      [MANIFEST]: `${FAST}include:\n  - file: skus.csv\n    id: "sku-{{sku}}"\n    prompt: "A \\"{{name}}\\" \\u00e9 {{size}}"\n`,
      'skus.csv': skus(3),
    });
    expect(escaped.errors[0]).toMatchObject({ code: 'E_UNKNOWN_COLUMN', at: { line: 10, col: 36 } });
  });

  it('a broken template is an error at its position', async () => {
    const { dir, errors } = await errorsOf({
      [MANIFEST]: `${FAST}include:\n  - { file: skus.csv, id: "sku-{{sku}}", prompt: "Packshot of {{#name}}x" }\n`,
      'skus.csv': skus(3),
    });
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ code: 'E_TEMPLATE', at: { file: path.join(dir, MANIFEST), line: 8, col: 63 } });
    expect(errors[0]!.message).toContain('Unclosed section "name"');
  });

  it('a bad row names its row number and file:line: missing value, bad id, duplicate id', async () => {
    const csv = 'sku,name,color\n001,mug,teal\n002,,amber\n\n003 b,tin,sage\n004,jar,red\n004,jar,blue\n';
    const { dir, errors } = await errorsOf({
      [MANIFEST]: `${FAST}include:\n  - { file: skus.csv, id: "sku-{{sku}}", prompt: "Packshot of {{name}} in {{color}}, front view" }\n`,
      'skus.csv': csv,
    });
    const file = path.join(dir, 'skus.csv');
    expect(errors.map((e) => [e.code, e.at?.file, e.at?.line])).toEqual([
      ['E_BAD_ROW', file, 3],
      ['E_BAD_ID', file, 5],
      ['E_DUPLICATE_ID', file, 7],
    ]);
    expect(errors[0]!.message).toMatch(/^row 2 of skus\.csv: no value for column "name"/);
    expect(errors[0]!.sourceLine).toBe('002,,amber');
    expect(errors[1]!.message).toMatch(/^row 3 of skus\.csv: id "sku-003 b"/);
    expect(errors[2]!.message).toMatch(/^row 5 of skus\.csv: duplicate asset id "sku-004" \(first defined at .*skus\.csv:6:1\)/);
  });

  it('a malformed CSV row is an error at its line', async () => {
    const { dir, errors } = await errorsOf({
      [MANIFEST]: `${FAST}include:\n  - { file: skus.csv, id: "sku-{{sku}}", prompt: "{{name}}" }\n`,
      'skus.csv': 'sku,name\n001,mug\n002,tin,extra\n',
    });
    expect(errors[0]).toMatchObject({ code: 'E_CSV', at: { file: path.join(dir, 'skus.csv'), line: 3 } });
  });

  it('a catalog needs its id and prompt templates; a JSON batch takes none', async () => {
    const { errors } = await errorsOf({
      [MANIFEST]: `${FAST}include:\n  - { file: skus.csv, id: "sku-{{sku}}" }\n  - { file: jobs.json, prompt: "x" }\n`,
      'skus.csv': skus(2),
      'jobs.json': '[]',
    });
    expect(errors.map((e) => [e.code, e.at?.line])).toEqual([
      ['E_MISSING_FIELD', 8],
      ['E_CONFLICT', 9],
    ]);
  });
});
