/**
 * The real turborepo-remote-cache server (the npm package, a devDependency) with its local
 * storage in a temp folder, on a random loopback port: the Turborepo backend's remote.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './nginx-webdav.js';
import { REPO_ROOT } from './paths.js';

export interface TurboCacheServer {
  url: string;
  /** Where artifacts are stored: <storage>/<team>/<id>. */
  storage: string;
  close(): Promise<void>;
}

export async function startTurboCache(token: string): Promise<TurboCacheServer> {
  const storage = await mkdtemp(path.join(os.tmpdir(), 'gpt4k-turbo-'));
  const port = await freePort();
  const child: ChildProcess = spawn(process.execPath, [path.join(REPO_ROOT, 'node_modules/turborepo-remote-cache/dist/cli.js')], {
    env: { ...process.env, NODE_ENV: 'production', HOST: '127.0.0.1', PORT: String(port), STORAGE_PROVIDER: 'local', STORAGE_PATH: storage, STORAGE_PATH_USE_TMP_FOLDER: 'false', TURBO_TOKEN: token, LOG_LEVEL: 'error' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const url = `http://127.0.0.1:${port}`;
  const close = async () => {
    if (child.exitCode === null) {
      const exited = new Promise((resolve) => child.on('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    }
    await rm(storage, { recursive: true, force: true });
  };
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`turborepo-remote-cache exited (${child.exitCode}): ${stderr}`);
    const up = await fetch(`${url}/v8/artifacts/status`).then(() => true, () => false);
    if (up) return { url, storage, close };
    if (Date.now() > deadline) {
      await close();
      throw new Error(`turborepo-remote-cache did not answer on ${port} within 30 s: ${stderr}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
