import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import type { RenderingIntent } from '../manifest/types.js';
import { convertPixels } from './lcms.js';
import { sharpProfileArg, type LoadedProfile } from './profiles.js';

/**
 * The soft proof of an sRGB picture on a press, as one 3D lookup table: sRGB -> the press
 * profile (as the render converts: libvips' perceptual, or LittleCMS with the target's intent)
 * -> back to sRGB with the paper's white (absolute colorimetric), sampled on a 33-step grid and
 * interpolated (trilinear). A print render's preview (360 px) is made through it.
 *
 * Building the table takes LittleCMS (WebAssembly) ~0.15 s to load and build its transforms:
 * as much CPU as a whole A3 render's extra work. Tables are kept per process and in the OS
 * temp folder, named by everything that makes them (profile bytes, intent, engines' versions),
 * so a machine builds each once, as Node keeps its compile cache there.
 */

const GRID = 33;
const ENTRIES = GRID * GRID * GRID;
/** Bump when tables are made differently. */
const FORMAT = 1;

/** How the sRGB -> press leg is converted: as the deliverable is. */
export interface ProofSpec {
  profile: LoadedProfile;
  intent: RenderingIntent;
  bpc: boolean;
  /** libvips converts the deliverable (perceptual, no BPC), else LittleCMS. */
  libvips: boolean;
}

const memo = new Map<string, Promise<Uint8Array>>();

let engineVersions: string | undefined;

/** The engines that make a table: libvips, its LittleCMS, and lcms-wasm (read once). */
function enginesOf(): string {
  if (engineVersions === undefined) {
    let lcmsWasm = 'unknown';
    try {
      lcmsWasm = String((createRequire(import.meta.url)('lcms-wasm/package.json') as { version?: unknown }).version);
    } catch {
      // named without it
    }
    engineVersions = `${sharp.versions.vips}:${sharp.versions.lcms ?? ''}:${lcmsWasm}`;
  }
  return engineVersions;
}

/** A table's name; the profile's bytes hashed once per loaded profile, not once per render. */
const profileDigests = new WeakMap<Buffer, string>();

function keyOf(spec: ProofSpec): string {
  let profile = profileDigests.get(spec.profile.bytes);
  if (!profile) {
    profile = createHash('sha256').update(spec.profile.bytes).digest('hex');
    profileDigests.set(spec.profile.bytes, profile);
  }
  return createHash('sha256')
    .update(JSON.stringify([FORMAT, GRID, spec.intent, spec.bpc, spec.libvips, enginesOf(), profile]))
    .digest('hex')
    .slice(0, 32);
}

/** Per user, so one user's tables never stand in for another's on a shared machine. */
function cacheFile(key: string): string {
  const user = typeof process.getuid === 'function' ? `-${process.getuid()}` : '';
  return path.join(os.tmpdir(), `gpt4k-proof-luts${user}`, `${key}.lut`);
}

/** The grid's sRGB samples, red fastest. */
function gridSamples(): Buffer {
  const out = Buffer.allocUnsafe(ENTRIES * 3);
  const level = (i: number): number => Math.round((i * 255) / (GRID - 1));
  let o = 0;
  for (let b = 0; b < GRID; b++) {
    for (let g = 0; g < GRID; g++) {
      for (let r = 0; r < GRID; r++) {
        out[o++] = level(r);
        out[o++] = level(g);
        out[o++] = level(b);
      }
    }
  }
  return out;
}

async function buildTable(spec: ProofSpec): Promise<Uint8Array> {
  const samples = gridSamples();
  let cmyk: Buffer;
  if (spec.libvips) {
    const raw = { width: ENTRIES, height: 1, channels: 3 as const };
    cmyk = await sharp(samples, { raw }).withIccProfile(sharpProfileArg(spec.profile)).raw().toBuffer();
  } else {
    cmyk = await convertPixels(samples, { from: 'srgb', fromSpace: 'RGB', to: spec.profile.bytes, toSpace: 'CMYK', intent: spec.intent, bpc: spec.bpc });
  }
  if (cmyk.length !== ENTRIES * 4) throw new Error(`proof table: ${cmyk.length} CMYK bytes, expected ${ENTRIES * 4}`);
  return convertPixels(cmyk, { from: spec.profile.bytes, fromSpace: 'CMYK', to: 'srgb', toSpace: 'RGB', intent: 'absolute', bpc: false });
}

async function loadOrBuild(spec: ProofSpec, key: string): Promise<Uint8Array> {
  const file = cacheFile(key);
  try {
    const kept = readFileSync(file);
    if (kept.length === ENTRIES * 3) return kept;
  } catch {
    // not made on this machine yet
  }
  const table = await buildTable(spec);
  try {
    mkdirSync(path.dirname(file), { recursive: true });
    const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
    writeFileSync(tmp, table);
    renameSync(tmp, file);
  } catch {
    // A read-only or full temp folder costs the next process a rebuild, nothing else.
  }
  return table;
}

/** Where the table for `spec` is kept on this machine. */
export function proofTableFile(spec: ProofSpec): string {
  return cacheFile(keyOf(spec));
}

/** The proof table for `spec`, built once per machine. */
export function proofTable(spec: ProofSpec): Promise<Uint8Array> {
  const key = keyOf(spec);
  let table = memo.get(key);
  if (!table) {
    table = loadOrBuild(spec, key);
    memo.set(key, table);
    table.catch(() => memo.delete(key));
  }
  return table;
}

/** sRGB pixels (3 bytes each) through the table, trilinear between the grid's points. */
export function applyProofTable(rgb: Uint8Array, table: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(rgb.length);
  const scale = (GRID - 1) / 255;
  const rowStride = GRID * 3;
  const planeStride = GRID * GRID * 3;
  for (let i = 0; i < rgb.length; i += 3) {
    const fr = (rgb[i] as number) * scale;
    const fg = (rgb[i + 1] as number) * scale;
    const fb = (rgb[i + 2] as number) * scale;
    const r0 = Math.min(GRID - 2, Math.floor(fr));
    const g0 = Math.min(GRID - 2, Math.floor(fg));
    const b0 = Math.min(GRID - 2, Math.floor(fb));
    const dr = fr - r0;
    const dg = fg - g0;
    const db = fb - b0;
    const base = b0 * planeStride + g0 * rowStride + r0 * 3;
    for (let c = 0; c < 3; c++) {
      const p = base + c;
      const c00 = (table[p] as number) * (1 - dr) + (table[p + 3] as number) * dr;
      const c10 = (table[p + rowStride] as number) * (1 - dr) + (table[p + rowStride + 3] as number) * dr;
      const c01 = (table[p + planeStride] as number) * (1 - dr) + (table[p + planeStride + 3] as number) * dr;
      const c11 = (table[p + planeStride + rowStride] as number) * (1 - dr) + (table[p + planeStride + rowStride + 3] as number) * dr;
      const c0 = c00 * (1 - dg) + c10 * dg;
      const c1 = c01 * (1 - dg) + c11 * dg;
      out[i + c] = Math.round(c0 * (1 - db) + c1 * db);
    }
  }
  return out;
}
