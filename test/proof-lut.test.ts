import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { convertPixels } from '../src/color/lcms.js';
import { loadProfile, type LoadedProfile } from '../src/color/profiles.js';
import { applyProofTable, proofTable, proofTableFile, type ProofSpec } from '../src/color/proof-lut.js';
import { FOGRA39 } from './support/paths.js';
import { deltas } from './support/pixels.js';

let fogra: LoadedProfile;

beforeAll(async () => {
  fogra = await loadProfile('fogra39', { kind: 'file', path: FOGRA39 });
});

/** Deterministic colours spread over the cube. */
function colours(count: number): Buffer {
  const out = Buffer.alloc(count * 3);
  let x = 12345;
  for (let i = 0; i < out.length; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

describe('soft-proof lookup table', () => {
  it('agrees with LittleCMS converting each colour there and back (relative intent, LittleCMS both ways)', async () => {
    const spec: ProofSpec = { profile: fogra, intent: 'relative', bpc: true, libvips: false };
    const rgb = colours(3000);
    const viaTable = applyProofTable(rgb, await proofTable(spec));
    const cmyk = await convertPixels(rgb, { from: 'srgb', fromSpace: 'RGB', to: fogra.bytes, toSpace: 'CMYK', intent: 'relative', bpc: true });
    const exact = await convertPixels(cmyk, { from: fogra.bytes, fromSpace: 'CMYK', to: 'srgb', toSpace: 'RGB', intent: 'absolute', bpc: false });
    const { mean, max } = deltas(viaTable, exact);
    expect(mean).toBeLessThan(1);
    expect(max).toBeLessThan(16);
    // The proof is not the identity: out-of-gamut sRGB comes back duller.
    expect(deltas(viaTable, rgb).mean).toBeGreaterThan(5);
  });

  it('is built once per machine: kept in the temp folder, rebuilt when the kept one is damaged', async () => {
    const spec: ProofSpec = { profile: fogra, intent: 'saturation', bpc: false, libvips: false };
    const file = proofTableFile(spec);
    rmSync(file, { force: true });
    const table = await proofTable(spec);
    expect(existsSync(file)).toBe(true);
    expect(statSync(file).size).toBe(33 * 33 * 33 * 3);
    expect(Buffer.compare(readFileSync(file), Buffer.from(table))).toBe(0);
    // Another intent, another table; a damaged kept table is built again and replaced.
    const other: ProofSpec = { ...spec, bpc: true };
    const otherFile = proofTableFile(other);
    expect(otherFile).not.toBe(file);
    mkdirSync(path.dirname(otherFile), { recursive: true });
    writeFileSync(otherFile, 'not a table');
    const rebuilt = await proofTable(other);
    expect(rebuilt.length).toBe(33 * 33 * 33 * 3);
    expect(statSync(otherFile).size).toBe(33 * 33 * 33 * 3);
    // A whole kept table is read, not built again: another process's work is reused.
    const kept: ProofSpec = { ...spec, intent: 'absolute' };
    const marked = Buffer.alloc(33 * 33 * 33 * 3, 7);
    writeFileSync(proofTableFile(kept), marked);
    expect(Buffer.compare(Buffer.from(await proofTable(kept)), marked)).toBe(0);
    rmSync(proofTableFile(kept), { force: true });
  });

  it('gives the grid colours exactly as the table holds them', async () => {
    const table = await proofTable({ profile: fogra, intent: 'perceptual', bpc: false, libvips: true });
    const black = applyProofTable(Buffer.from([0, 0, 0]), table);
    const white = applyProofTable(Buffer.from([255, 255, 255]), table);
    expect([...black]).toEqual([...table.subarray(0, 3)]);
    const last = (33 * 33 * 33 - 1) * 3;
    expect([...white]).toEqual([...table.subarray(last, last + 3)]);
    // Paper white under absolute intent is not display white: the proof shows the paper.
    expect([...white]).not.toEqual([255, 255, 255]);
    expect(Math.min(...white)).toBeLessThan(250);
  });
});
