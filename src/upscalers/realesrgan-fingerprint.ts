import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import { execa } from 'execa';
import xxhash from 'xxhash-wasm';

/**
 * Content hashes of the binary and the model files, cached per path + size + mtime so a build
 * hashes each file once, and an edited file (new size or mtime) is hashed again.
 */
const hashes = new Map<string, Promise<string>>();
let api: ReturnType<typeof xxhash> | undefined;

async function statKey(file: string): Promise<string> {
  const stat = await fs.stat(file);
  return `${file}\0${stat.size}\0${stat.mtimeMs}`;
}

function memo<T>(cache: Map<string, Promise<T>>, key: string, compute: () => Promise<T>): Promise<T> {
  let pending = cache.get(key);
  if (!pending) {
    pending = compute();
    cache.set(key, pending);
    pending.catch(() => cache.delete(key));
  }
  return pending;
}

/** xxh64 of the files' bytes, concatenated in order, as 16 hex digits. */
async function hashFiles(files: string[]): Promise<string> {
  api ??= xxhash();
  const hasher = (await api).create64();
  for (const file of files) {
    for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) hasher.update(chunk as Buffer);
  }
  return hasher.digest().toString(16).padStart(16, '0');
}

export async function fileHash(file: string): Promise<string> {
  return memo(hashes, await statKey(file), () => hashFiles([file]));
}

/** The model's identity: xxh64 over NAME.param then NAME.bin. */
export async function modelHash(paramFile: string, binFile: string): Promise<string> {
  const key = `${await statKey(paramFile)}\0${await statKey(binFile)}`;
  return memo(hashes, key, () => hashFiles([paramFile, binFile]));
}

export interface BinaryInfo {
  /** xxh64 of the executable's bytes: the binary's version for cache keys. */
  hash: string;
  /** The usage text it prints for -h. */
  usage: string;
  /** upscayl-bin takes `-z model-scale` beside `-s output-scale`; realesrgan-ncnn-vulkan does not. */
  hasModelScaleFlag: boolean;
}

const infos = new Map<string, Promise<BinaryInfo>>();

/**
 * What the binary is: its bytes' hash, and which flags it takes, from its usage text.
 * `-h` prints the usage and exits before touching Vulkan, so this is cheap and works without a GPU.
 */
export async function binaryInfo(file: string, env: Record<string, string | undefined>): Promise<BinaryInfo> {
  return memo(infos, await statKey(file), async () => {
    const hash = await fileHash(file);
    const probe = await execa(file, ['-h'], {
      env,
      extendEnv: false,
      reject: false,
      timeout: 15_000,
      stdin: 'ignore',
      all: true,
    });
    const usage = String(probe.all ?? '');
    return { hash, usage, hasModelScaleFlag: /^\s*-z\s+model-scale/m.test(usage) };
  });
}
