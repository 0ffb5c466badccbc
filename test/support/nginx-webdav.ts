/**
 * A real nginx serving a WebDAV root (PUT enabled) on a random loopback port: the remote cache
 * the tests build against. Its own temp config, root, logs and pid file; started in the
 * foreground as a child of the test (daemon off), stopped with the test. The access log says
 * what reached the server.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export interface WebDavServer {
  url: string;
  /** The folder nginx serves: the cache's files are at root/ac/<key>, root/cas/<hash>. */
  root: string;
  /** Request lines that reached the server ("PUT /cas/0123... 201"), oldest first. */
  requests(): Promise<string[]>;
  stop(): Promise<void>;
  /** Starts it again on the same port and root (after stop). */
  start(): Promise<void>;
  remove(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** `token`: requests without `Authorization: Bearer <token>` get 401. */
export async function startWebDav(options: { token?: string } = {}): Promise<WebDavServer> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'gpt4k-nginx-'));
  const root = path.join(dir, 'root');
  await mkdir(root);
  const port = await freePort();
  const auth = options.token ? `if ($http_authorization != "Bearer ${options.token}") { return 401; }` : '';
  const conf = path.join(dir, 'nginx.conf');
  await writeFile(
    conf,
    `${process.getuid?.() === 0 ? 'user root;\n' : ''}daemon off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 64; }
http {
  access_log ${dir}/access.log;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  server {
    listen 127.0.0.1:${port};
    root ${root};
    client_max_body_size 0;
    location / {
      ${auth}
      dav_methods PUT;
      create_full_put_path on;
      dav_access user:rw group:r all:r;
    }
  }
}
`,
  );
  let child: ChildProcess | undefined;
  const url = `http://127.0.0.1:${port}`;
  const server: WebDavServer = {
    url,
    root,
    async requests() {
      const log = await readFile(path.join(dir, 'access.log'), 'utf8').catch(() => '');
      return log
        .split('\n')
        .map((line) => /"(\w+) (\S+) [^"]*" (\d+)/.exec(line))
        .flatMap((m) => (m ? [`${m[1]} ${m[2]} ${m[3]}`] : []));
    },
    async start() {
      const started = spawn('nginx', ['-c', conf, '-p', dir, '-e', path.join(dir, 'error.log')], { stdio: ['ignore', 'ignore', 'pipe'] });
      child = started;
      let stderr = '';
      started.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
      const deadline = Date.now() + 10_000;
      for (;;) {
        if (started.exitCode !== null) throw new Error(`nginx exited (${started.exitCode}): ${stderr}${await readFile(path.join(dir, 'error.log'), 'utf8').catch(() => '')}`);
        if (await answers(port)) return;
        if (Date.now() > deadline) throw new Error(`nginx did not listen on ${port} within 10 s: ${stderr}`);
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    },
    async stop() {
      const running = child;
      child = undefined;
      if (!running || running.exitCode !== null) return;
      const exited = new Promise((resolve) => running.on('exit', resolve));
      running.kill('SIGTERM');
      await exited;
      // The workers go with the master; wait until the port is really closed.
      while (await answers(port)) await new Promise((resolve) => setTimeout(resolve, 25));
    },
    async remove() {
      await server.stop();
      if (existsSync(dir)) await rm(dir, { recursive: true, force: true });
    },
  };
  await server.start();
  return server;
}

function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
