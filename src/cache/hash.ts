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
  // One-shot xxh64: the same digest as the streaming state, without allocating one per call.
  return typeof data === 'string' ? h.h64ToString(data) : hex(h.h64Raw(data));
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

/**
 * Stable JSON: object keys sorted, so equal objects hash equally. Plain data (the shape of
 * every fingerprint) is written directly, without the sorted copy of each object that a
 * JSON.stringify replacer makes: a no-op build hashes thousands of fingerprints. Anything else
 * (toJSON, typed arrays) goes through the replacer, which defines the output.
 */
export function stableStringify(value: unknown): string {
  const fast = plainJson(value);
  return fast ?? replacerStringify(value);
}

/**
 * Objects many fingerprints share (a target, its profile, tool versions) and their stable
 * JSON once written: a thousand renders of one target write the target once. Only objects
 * nothing changes after they are made may be registered (see `sharedObject`).
 */
const sharedJson = new WeakMap<object, string | null>();

/** Registers an object that is shared and never changed, so its stable JSON is written once. */
export function sharedObject<T extends object>(value: T): T {
  if (!sharedJson.has(value)) sharedJson.set(value, null);
  return value;
}

/** `undefined` when `value` holds something that is not plain JSON data. */
function plainJson(value: unknown): string | undefined {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'number':
      return Number.isFinite(value) ? String(value) : 'null';
    case 'boolean':
      return value ? 'true' : 'false';
    case 'object': {
      if (value === null) return 'null';
      if (Array.isArray(value)) {
        let out = '[';
        for (let i = 0; i < value.length; i++) {
          const item: unknown = value[i];
          // JSON writes null for undefined and functions inside arrays.
          const text = item === undefined || typeof item === 'function' || typeof item === 'symbol' ? 'null' : plainJson(item);
          if (text === undefined) return undefined;
          out += i === 0 ? text : `,${text}`;
        }
        return `${out}]`;
      }
      const memo = sharedJson.get(value);
      if (memo) return memo;
      const proto = Object.getPrototypeOf(value) as unknown;
      if ((proto !== Object.prototype && proto !== null) || typeof (value as { toJSON?: unknown }).toJSON === 'function') return undefined;
      let out = '{';
      let first = true;
      for (const key of sortedKeys(value)) {
        const item = (value as Record<string, unknown>)[key];
        // JSON leaves out undefined, functions and symbols inside objects.
        if (item === undefined || typeof item === 'function' || typeof item === 'symbol') continue;
        const text = plainJson(item);
        if (text === undefined) return undefined;
        out += `${first ? '' : ','}${JSON.stringify(key)}:${text}`;
        first = false;
      }
      out += '}';
      if (memo === null) sharedJson.set(value, out);
      return out;
    }
    default:
      return undefined;
  }
}

/**
 * The key order the replacer's sorted copy ends up with: JavaScript puts integer-like keys
 * ("2", "10") first, in numeric order, whatever the insertion order; the other keys sorted.
 */
function sortedKeys(value: object): string[] {
  const keys = Object.keys(value);
  let split = 0;
  // Object.keys lists integer-like keys first, already in numeric order.
  while (split < keys.length && isArrayIndex(keys[split] as string)) split++;
  if (split === 0) return inOrder(keys) ? keys : keys.sort();
  return [...keys.slice(0, split), ...keys.slice(split).sort()];
}

/** Already sorted (a shared part made in order, a one-key object): no sort needed. */
function inOrder(keys: string[]): boolean {
  for (let i = 1; i < keys.length; i++) if ((keys[i - 1] as string) > (keys[i] as string)) return false;
  return true;
}

function isArrayIndex(key: string): boolean {
  const n = Number(key);
  return n >>> 0 === n && n !== 4294967295 && String(n) === key;
}

function replacerStringify(value: unknown): string {
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
