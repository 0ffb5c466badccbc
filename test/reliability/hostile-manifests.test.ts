/**
 * Hostile manifests: each is refused with exit 2 and a message that points into the file
 * (file:line:col), and nothing is written outside the project (its parent folder is watched).
 * Run in-process through the CLI's main() (the same code as bin/gpt4k.js) to stay fast.
 */
import { mkdir, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';

const HEAD = `version: 1
output: out
defaults:
  generate: { provider: procedural, size: 1024x1024, quality: low }
  upscale: { engine: none }
targets:
  web: { width: 64, height: 64, format: png }
`;
const ASSET = 'assets:\n  hero: { prompt: "A teal coffee bag", targets: [web] }\n';

interface Case {
  name: string;
  manifest: string | (() => string);
  /** Extra files (relative path -> text), or symlinks ("->target"). */
  files?: Record<string, string>;
  /** What the message must contain besides the position. */
  says: RegExp;
  /** Where the position points (default assets.pipeline.yaml). */
  file?: string;
}

const deep = (n: number) => `${'['.repeat(n)}${']'.repeat(n)}`;
const laughs = () => {
  const lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
  for (let i = 1; i < 10; i++) lines.push(`a${i}: &a${i} [${Array.from({ length: 9 }, () => `*a${i - 1}`).join(',')}]`);
  return `${HEAD}${ASSET}x-bomb:\n${lines.map((l) => `  ${l}`).join('\n')}\n`;
};

const CASES: Case[] = [
  { name: 'YAML alias bomb (billion laughs)', manifest: laughs, says: /alias/i },
  { name: '50 MB manifest', manifest: () => `${HEAD}${ASSET}# ${'x'.repeat(50 * 1024 * 1024)}\n`, says: /too large|MB/i },
  { name: 'asset id with ../', manifest: `${HEAD}assets:\n  "../evil": { prompt: "x", targets: [web] }\n`, says: /\.\.\/evil/ },
  { name: 'asset id with a slash', manifest: `${HEAD}assets:\n  "a/b": { prompt: "x", targets: [web] }\n`, says: /a\/b/ },
  { name: 'asset id that is ..', manifest: `${HEAD}assets:\n  "..": { prompt: "x", targets: [web] }\n`, says: /\.\./ },
  { name: 'asset id with shell metacharacters', manifest: `${HEAD}assets:\n  "$(touch pwned);rm -rf ~": { prompt: "x", targets: [web] }\n`, says: /touch pwned/ },
  { name: 'asset id with a NUL byte', manifest: `${HEAD}assets:\n  "a\\0b": { prompt: "x", targets: [web] }\n`, says: /E_/ },
  { name: 'target id with ../', manifest: `${HEAD.replace('  web:', '  "../t":')}${ASSET.replace('[web]', '["../t"]')}`, says: /\.\.\/t/ },
  { name: 'output outside the project', manifest: `${HEAD.replace('output: out', 'output: ../outside')}${ASSET}`, says: /outside the project/ },
  { name: 'output absolute', manifest: () => `${HEAD.replace('output: out', `output: ${path.join(tmpdir(), 'gpt4k-abs-out')}`)}${ASSET}`, says: /outside the project|absolute/ },
  { name: 'output is the project itself', manifest: `${HEAD.replace('output: out', 'output: .')}${ASSET}`, says: /output/ },
  { name: 'output is the cache folder', manifest: `${HEAD.replace('output: out', 'output: .gpt4k')}${ASSET}`, says: /\.gpt4k/ },
  { name: 'output is .git', manifest: `${HEAD.replace('output: out', 'output: .git')}${ASSET}`, says: /\.git/ },
  { name: 'output through a symlink out of the project', manifest: `${HEAD.replace('output: out', 'output: link/out')}${ASSET}`, files: { link: '->../elsewhere' }, says: /outside the project|symlink/ },
  { name: 'source with ../', manifest: `${HEAD}assets:\n  hero: { source: ../../etc/passwd, targets: [web] }\n`, says: /outside the project/ },
  { name: 'source absolute', manifest: `${HEAD}assets:\n  hero: { source: /etc/passwd, targets: [web] }\n`, says: /outside the project|absolute/ },
  { name: 'source symlink out of the project', manifest: `${HEAD}assets:\n  hero: { source: ./photo.jpg, targets: [web] }\n`, files: { 'photo.jpg': '->/etc/passwd' }, says: /outside the project|symlink/ },
  { name: 'include outside the project', manifest: `${HEAD}${ASSET}include:\n  - ../jobs.json\n`, says: /outside the project/ },
  { name: 'include of the manifest itself', manifest: `${HEAD}${ASSET}include:\n  - assets.pipeline.yaml\n`, says: /top level must be a list/ },
  { name: 'include through a symlink out of the project', manifest: `${HEAD}${ASSET}include:\n  - jobs.json\n`, files: { 'jobs.json': '->/etc/hostname' }, says: /outside the project|symlink/ },
  { name: 'absurd target size', manifest: `${HEAD.replace('width: 64, height: 64', 'width: 10000000, height: 10000000')}${ASSET}`, says: /width|height|pixels/ },
  { name: 'absurd dpi', manifest: `${HEAD.replace('  web: { width: 64, height: 64, format: png }', '  web: { paper: A3, dpi: 1000000000, format: tiff }')}${ASSET}`, says: /dpi/ },
  { name: 'negative dpi', manifest: `${HEAD.replace('  web: { width: 64, height: 64, format: png }', '  web: { paper: A3, dpi: -300, format: tiff }')}${ASSET}`, says: /dpi/ },
  { name: 'absurd bleed', manifest: `${HEAD.replace('  web: { width: 64, height: 64, format: png }', '  web: { paper: A3, dpi: 300, bleed_mm: 100000, format: tiff }')}${ASSET}`, says: /bleed/ },
  { name: 'absurd upscale', manifest: `${HEAD.replace('upscale: { engine: none }', 'upscale: { engine: lanczos, scale: 100000 }')}${ASSET}`, says: /scale/ },
  { name: 'negative budget', manifest: `${HEAD}limits: { maxCostUsd: -5 }\n${ASSET}`, says: /maxCostUsd/ },
  { name: 'nesting 10000 deep', manifest: `${HEAD}${ASSET}x-deep: ${deep(10_000)}\n`, says: /E_/ },
  { name: 'YAML tag !!js/function', manifest: `${HEAD}assets:\n  hero: { prompt: !!js/function "function(){}", targets: [web] }\n`, says: /E_YAML_TAG/ },
  { name: 'YAML tag !!python/object', manifest: `${HEAD}${ASSET}x-obj: !!python/object:os.system "touch pwned"\n`, says: /E_YAML_TAG/ },
  { name: 'output through a symlink to /', manifest: `${HEAD.replace('output: out', 'output: root/tmp')}${ASSET}`, files: { root: '->/' }, says: /outside the project/ },
  { name: 'duplicate keys', manifest: `${HEAD}assets:\n  hero: { prompt: "a", targets: [web] }\n  hero: { prompt: "b", targets: [web] }\n`, says: /hero|duplicate|unique/i },
  { name: 'unknown version', manifest: HEAD.replace('version: 1', 'version: 99') + ASSET, says: /version/ },
  { name: 'assets as a list', manifest: `${HEAD}assets:\n  - { prompt: "x", targets: [web] }\n`, says: /assets/ },
  { name: 'broken YAML', manifest: `${HEAD}assets:\n  hero: { prompt: "unterminated, targets: [web] }\n`, says: /E_/ },
  { name: 'empty file', manifest: '', says: /E_/ },
];

let root: string;
const silent = () => {
  let text = '';
  const stream = new Writable({ write: (c: Buffer, _e, cb) => ((text += c.toString()), cb()) });
  return { stream, text: () => text };
};

beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'gpt4k-hostile-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
  await rm(path.join(tmpdir(), 'gpt4k-abs-out'), { recursive: true, force: true });
});

describe(`hostile manifests (${CASES.length} cases): exit 2, a positioned message, nothing written outside the project`, () => {
  it.each(CASES.map((c, i) => [i, c.name, c] as const))('%i %s', async (index, _name, c) => {
    const box = path.join(root, `case-${index}`);
    const dir = path.join(box, 'project');
    await mkdir(path.join(box, 'elsewhere'), { recursive: true });
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, 'assets.pipeline.yaml'), typeof c.manifest === 'function' ? c.manifest() : c.manifest);
    for (const [rel, text] of Object.entries(c.files ?? {})) {
      if (text.startsWith('->')) await symlink(text.slice(2), path.join(dir, rel));
      else await writeFile(path.join(dir, rel), text);
    }
    const out = silent();
    const err = silent();
    const code = await main(['build'], { out: out.stream, err: err.stream, cwd: dir, env: { NO_COLOR: '1' }, isTTY: false });
    const message = err.text();
    expect(code, message).toBe(2);
    expect(message).toMatch(new RegExp(`${(c.file ?? 'assets.pipeline.yaml').replace('.', '\\.')}:\\d+:\\d+: error E_[A-Z_]+`));
    expect(message).toMatch(c.says);
    // Nothing beside the project, nothing in the folder a symlink points to, no deliverables.
    expect((await readdir(box)).sort()).toEqual(['elsewhere', 'project']);
    expect(await readdir(path.join(box, 'elsewhere'))).toEqual([]);
    expect((await readdir(dir)).filter((f) => f === 'out' || f === '.gpt4k')).toEqual([]);
  });
});
