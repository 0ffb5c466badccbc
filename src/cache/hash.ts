import { createReadStream } from 'node:fs';
import xxhash from 'xxhash-wasm';

/**
 * Content hashing: xxHash64 (fast, streaming). Keys and object names are 16 hex digits; the
 * store also records sizes, so a collision would need equal size too.
 */
type Hasher = Awaited<ReturnType<typeof xxhash>>;
let hasherPromise: Promise<Hasher> | undefined;

function hasher(): Promise<Hasher> {
  hasherPromise ??= xxhash();
  return hasherPromise;
}

const hex = (value: bigint): string => value.toString(16).padStart(16, '0');

export async function hashBytes(data: Uint8Array | string): Promise<string> {
  const h = await hasher();
  const state = h.create64();
  state.update(data);
  return hex(state.digest());
}

/** Streams the file: memory stays flat for any size. */
export async function hashFile(file: string): Promise<string> {
  const h = await hasher();
  const state = h.create64();
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) {
    state.update(chunk as Buffer);
  }
  return hex(state.digest());
}

/** Stable JSON: object keys sorted, so equal objects hash equally. */
export function stableStringify(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Uint8Array)) {
      const sorted: Record<string, unknown> = {};
      for (const k of Object.keys(v).sort()) sorted[k] = (v as Record<string, unknown>)[k];
      return sorted;
    }
    return v;
  });
}

export async function hashObject(value: unknown): Promise<string> {
  return hashBytes(stableStringify(value));
}
