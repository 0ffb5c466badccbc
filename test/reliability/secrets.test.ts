/**
 * The API key is in no output (stdout, stderr, --json), no file (.gpt4k/, out/, the report, the
 * contact sheet) and no child process's environment (the Real-ESRGAN child, a fake binary here
 * that dumps what it was given), including when the API quotes the key back in a 401.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeOpenAI, type FakeOpenAI } from '../support/fake-openai.js';
import { REPO_ROOT } from '../support/paths.js';
import { makeProject, removeProject, runCli } from '../support/project.js';

const KEY = `sk-proj-LEAK${randomBytes(12).toString('hex')}`;
let api: FakeOpenAI;
let dir: string;

/** A Real-ESRGAN stand-in: answers -h with a usage text, writes its environment, upscales with sharp. */
async function fakeUpscaler(folder: string, envDump: string): Promise<string> {
  const file = path.join(folder, 'realesrgan-ncnn-vulkan');
  const sharpPath = path.join(REPO_ROOT, 'node_modules', 'sharp');
  await writeFile(
    file,
    `#!${process.execPath}
const args = process.argv.slice(2);
if (args.includes('-h')) { console.log('Usage: realesrgan-ncnn-vulkan -i infile -o outfile [options]...'); process.exit(0); }
require('node:fs').appendFileSync(${JSON.stringify(envDump)}, JSON.stringify(process.env) + '\\n');
const arg = (flag) => args[args.indexOf(flag) + 1];
const sharp = require(${JSON.stringify(sharpPath)});
sharp(arg('-i')).metadata().then((m) => sharp(arg('-i')).resize(m.width * Number(arg('-s')), m.height * Number(arg('-s'))).png().toFile(arg('-o')));
`,
    { mode: 0o755 },
  );
  await mkdir(path.join(folder, 'models'), { recursive: true });
  await writeFile(path.join(folder, 'models', 'realesrgan-x4plus.param'), 'fake');
  await writeFile(path.join(folder, 'models', 'realesrgan-x4plus.bin'), 'fake');
  return file;
}

async function filesUnder(root: string): Promise<string[]> {
  const entries = await readdir(root, { withFileTypes: true, recursive: true });
  return entries.filter((e) => e.isFile()).map((e) => path.join(e.parentPath, e.name));
}

beforeAll(async () => {
  api = await startFakeOpenAI({ apiKey: KEY });
  dir = await makeProject({}, 'gpt4k-secrets-');
});
afterAll(async () => {
  await api?.close();
  if (dir) await removeProject(dir);
});

describe('the API key', () => {
  it('is absent from every output, file and child environment', async () => {
    const envDump = path.join(dir, '..', `${path.basename(dir)}-env.jsonl`);
    const binary = await fakeUpscaler(await mkdir(path.join(dir, 'tools'), { recursive: true }).then(() => path.join(dir, 'tools')), envDump);
    const manifest = (prompt: string) => `version: 1
defaults:
  generate: { provider: openai, model: gpt-image-2, size: 1024x1024, quality: low, options: { maxRetries: 0 } }
  upscale: { engine: realesrgan, model: realesrgan-x4plus, scale: 4 }
limits: { generate: 1 }
targets:
  web: { width: 64, height: 64, format: png }
assets:
  hero: { prompt: "${prompt}", targets: [web] }
`;
    const env = {
      OPENAI_API_KEY: KEY,
      OPENAI_BASE_URL: api.url,
      GPT4K_REALESRGAN_BIN: binary,
      GPT4K_REALESRGAN_MODELS: path.join(dir, 'tools', 'models'),
    };
    await writeFile(path.join(dir, 'assets.pipeline.yaml'), manifest('A teal coffee bag, front view, centered'));
    const outputs: string[] = [];
    const ok = await runCli(['build', '--verbose'], { cwd: dir, env });
    outputs.push(ok.stdout, ok.stderr);
    expect(ok.code, ok.stderr).toBe(0);
    expect(existsSync(envDump), 'the fake upscaler ran').toBe(true);
    for (const args of [['plan', '--json'], ['plan', '--verbose'], ['validate']]) {
      const run = await runCli(args, { cwd: dir, env });
      outputs.push(run.stdout, run.stderr);
    }

    // A refused key: the real API quotes the key back in its message.
    api.script('invalid_api_key');
    await writeFile(path.join(dir, 'assets.pipeline.yaml'), manifest('A red coffee bag, front view, centered'));
    const refused = await runCli(['build', '--json', '--verbose'], { cwd: dir, env });
    outputs.push(refused.stdout, refused.stderr);
    expect(refused.code).toBe(1);
    expect(api.requests.at(-1)?.status).toBe(401);

    const middle = KEY.slice(8, 24); // a fragment, in case something cut or masked the ends
    for (const text of outputs) {
      expect(text).not.toContain(KEY);
      expect(text).not.toContain(middle);
    }
    for (const file of await filesUnder(dir)) {
      if (file.startsWith(path.join(dir, 'tools'))) continue;
      const bytes = await readFile(file);
      expect(bytes.includes(KEY), file).toBe(false);
      expect(bytes.includes(middle), file).toBe(false);
    }
    const childEnvs = (await readFile(envDump, 'utf8')).trim().split('\n').map((line) => JSON.parse(line) as Record<string, string>);
    expect(childEnvs.length).toBeGreaterThan(0);
    for (const childEnv of childEnvs) {
      expect(Object.keys(childEnv)).not.toContain('OPENAI_API_KEY');
      expect(JSON.stringify(childEnv)).not.toContain(middle);
      expect(childEnv['PATH']).toBeTruthy(); // the child still gets what it needs
    }
    await removeProject(envDump);
  });
});
