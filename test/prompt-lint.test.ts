import { execFile } from 'node:child_process';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { loadManifest } from '../src/index.js';
import { lintPrompts } from '../src/prompt/lint.js';
import { lintPromptsCached } from '../src/prompt/lint-cache.js';
import type { Diagnostic } from '../src/util/errors.js';
import { CLI, REPO_ROOT } from './support/paths.js';
import { makeProject } from './support/project.js';

const run = promisify(execFile);
const MANIFEST = 'assets.pipeline.yaml';
const dirs: string[] = [];

afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

async function project(files: Record<string, string>): Promise<string> {
  const dir = await makeProject(files, 'gpt4k-lint-');
  dirs.push(dir);
  return dir;
}

async function lint(manifest: string, extra: Record<string, string> = {}): Promise<{ dir: string; lints: Diagnostic[] }> {
  const dir = await project({ [MANIFEST]: manifest, ...extra });
  const result = await loadManifest(MANIFEST, { cwd: dir });
  if (!result.ok) throw new Error(JSON.stringify(result.error, null, 2));
  return { dir, lints: await lintPrompts(result.value) };
}

const HEAD = 'version: 1\nstyles:\n  catalog: { prefix: "Commercial photography, white seamless background —" }\nassets:\n';

describe('prompt lint', () => {
  it('W_VAGUE_ANCHOR: at the word', async () => {
    const { dir, lints } = await lint(`${HEAD}  hero: { prompt: "A stunning coffee bag, 8k, front view" }\n`);
    expect(lints.map((d) => [d.code, d.at?.line, d.at?.col])).toEqual([
      ['W_VAGUE_ANCHOR', 5, 22],
      ['W_VAGUE_ANCHOR', 5, 43],
    ]);
    expect(lints[0]).toMatchObject({ severity: 'warning', at: { file: path.join(dir, MANIFEST) } });
    expect(lints[0]!.message).toBe('asset "hero": vague anchor "stunning" buys nothing');
    expect(lints[0]!.sourceLine!.slice(21, 29)).toBe('stunning');
  });

  it('W_NO_COMPOSITION: at the prompt value (its opening quote); a directive in the style prefix counts', async () => {
    const { lints } = await lint(
      `${HEAD}  hero: { prompt: "A coffee bag on a walnut table" }\n  framed: { prompt: "A coffee bag", style: framed }\nstyles:\n  framed: { prefix: "Flat lay:" }\n`.replace(
        /styles:\n {2}catalog.*\n/,
        '',
      ),
    );
    expect(lints.map((d) => [d.code, d.at?.line, d.at?.col])).toEqual([['W_NO_COMPOSITION', 3, 19]]);
  });

  it('W_PREFIX_REPEATED: a phrase of the style prefix inside the prompt', async () => {
    const { lints } = await lint(`${HEAD}  hero:\n    style: catalog\n    prompt: Coffee bag, front view, White seamless background\n`);
    expect(lints.map((d) => [d.code, d.at?.line, d.at?.col])).toEqual([['W_PREFIX_REPEATED', 7, 37]]);
    expect(lints[0]!.message).toContain('"White seamless background" from the prefix of style "catalog"');
  });

  it('W_DUPLICATE_PROMPT: the same or nearly the same words, at the later asset', async () => {
    const long = 'Coffee bag in dark teal kraft paper with a gold foil logo and a resealable zip, front view, centered, on a walnut table';
    const { lints } = await lint(
      `${HEAD}  one: { prompt: "${long}" }\n  two: { prompt: "${long.replace('walnut', 'oak')}" }\n  three: { prompt: "${long.toUpperCase()}" }\n  other: { prompt: "Copper French press, side view" }\n`,
    );
    expect(lints.map((d) => [d.code, d.at?.line])).toEqual([
      ['W_DUPLICATE_PROMPT', 6],
      ['W_DUPLICATE_PROMPT', 7],
    ]);
    expect(lints[0]!.message).toMatch(/asset "two": the prompt is 9\d% the same words as the prompt of "one"/);
    expect(lints[1]!.message).toContain('asset "three": the prompt is the same as the prompt of "one"');
  });

  it('W_EMPTY_PROMPT: a prompt with no words', async () => {
    const { lints } = await lint(`${HEAD}  hero: { prompt: " — " }\n`);
    expect(lints.map((d) => [d.code, d.at?.line])).toEqual([['W_EMPTY_PROMPT', 5]]);
  });

  it('W_PROMPT_TOO_LONG: counted in o200k_base tokens', async () => {
    const words = Array.from({ length: 200 }, (_, i) => `detail${i}`).join(', ');
    const { lints } = await lint(`${HEAD}  hero: { prompt: "Coffee bag, front view, ${words}" }\n  short: { prompt: "${'a '.repeat(300)}front view" }\n`);
    const long = lints.filter((d) => d.code === 'W_PROMPT_TOO_LONG');
    expect(long).toHaveLength(1);
    expect(long[0]!.message).toMatch(/^asset "hero": the prompt is \d{3} tokens \(o200k_base\), over 400$/);
  });

  it('one warning for all the rows of a catalog template, at the template', async () => {
    const { lints } = await lint(`version: 1\ninclude:\n  - { file: skus.csv, id: "sku-{{sku}}", prompt: "{{name}} on a table" }\n`, {
      'skus.csv': 'sku,name\n1,mug\n2,cup\n3,jar\n4,tin\n5,Gorgeous box\n',
    });
    expect(lints.map((d) => [d.code, d.at?.file.endsWith('.csv') ? 'csv' : 'manifest', d.at?.line, d.at?.col])).toEqual([
      ['W_NO_COMPOSITION', 'manifest', 3, 50],
      ['W_VAGUE_ANCHOR', 'csv', 6, 1],
    ]);
    expect(lints[0]!.message).toBe('5 assets: "sku-1", "sku-2", "sku-3" and 2 more: the prompt has no composition directive (framing or view)');
  });

  it('keeps its findings for the same files, and finds again when a file changes', async () => {
    const { dir, lints } = await lint(`${HEAD}  hero: { prompt: "A stunning coffee bag, front view" }\n`);
    await mkdir(path.join(dir, '.gpt4k'));
    const load = async () => {
      const result = await loadManifest(MANIFEST, { cwd: dir });
      if (!result.ok) throw new Error('manifest');
      return result.value;
    };
    expect(await lintPromptsCached(await load())).toEqual(lints);
    const kept = path.join(dir, '.gpt4k', 'parsed', 'lint.json');
    expect(JSON.parse(await readFile(kept, 'utf8')).diagnostics).toEqual(JSON.parse(JSON.stringify(lints)));
    // Read back (positions and all) while the files stay the same.
    expect(await lintPromptsCached(await load())).toEqual(JSON.parse(JSON.stringify(lints)));

    // The same prompt words, one column further right: findings move with them.
    await writeFile(path.join(dir, MANIFEST), `${HEAD}  hero: {  prompt: "A stunning coffee bag, front view" }\n`);
    const moved = await lintPromptsCached(await load());
    expect(moved.map((d) => [d.code, d.at?.line, d.at?.col])).toEqual(lints.map((d) => [d.code, d.at?.line, (d.at?.col ?? 0) + 1]));
  });

  it('stays quiet on the demo manifest', async () => {
    const result = await loadManifest(path.join(REPO_ROOT, MANIFEST));
    if (!result.ok) throw new Error(JSON.stringify(result.error, null, 2));
    expect(await lintPrompts(result.value)).toEqual([]);
  });

  it('validate and build print the warnings; --strict makes them errors (exit 2)', async () => {
    const dir = await project({ [MANIFEST]: 'version: 1\nassets:\n  hero: { prompt: "A beautiful coffee bag, front view" }\n' });
    const plain = await run(process.execPath, [CLI, 'validate'], { cwd: dir });
    expect(plain.stderr).toContain(`${path.join(dir, MANIFEST)}:3:22: warning W_VAGUE_ANCHOR: asset "hero": vague anchor "beautiful" buys nothing`);
    expect(plain.stdout).toContain('1 prompt warning');
    const strict = await run(process.execPath, [CLI, 'validate', '--strict'], { cwd: dir }).catch((e: { code: number; stderr: string }) => e);
    expect('code' in strict ? strict.code : 0).toBe(2);
    expect(strict.stderr).toContain('error W_VAGUE_ANCHOR');
    const build = await run(process.execPath, [CLI, 'build', '--strict'], { cwd: dir }).catch((e: { code: number }) => e);
    expect('code' in build ? build.code : 0).toBe(2);
  });
});
