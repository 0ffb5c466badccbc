import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { preflightFile } from '../src/color/preflight.js';
import { loadProfile, type LoadedProfile } from '../src/color/profiles.js';
import { renderTarget, type RenderedTarget } from '../src/color/render.js';
import { mmToPx } from '../src/manifest/paper.js';
import type { ResolvedTarget } from '../src/manifest/types.js';
import type { RawImage } from '../src/util/image.js';
import { FOGRA39 } from './support/paths.js';

/** The PDF read back with real tools: pdfinfo and pdfimages (poppler-utils), qpdf. */

function tool(command: string, args: string[]): string {
  const run = spawnSync(command, args, { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (run.error) throw new Error(`${command} is required for this test (Debian poppler-utils / qpdf): ${run.error.message}`);
  if (run.status !== 0) throw new Error(`${command} ${args.join(' ')} failed (${run.status}): ${run.stderr}`);
  return run.stdout;
}

function toolBytes(command: string, args: string[]): Buffer {
  const run = spawnSync(command, args, { maxBuffer: 64 << 20 });
  if (run.status !== 0) throw new Error(`${command} ${args.join(' ')} failed: ${run.stderr?.toString()}`);
  return run.stdout;
}

// A6 portrait at 150 dpi with 3 mm bleed: 105 x 148 mm trim, 111 x 154 mm page.
const target: ResolvedTarget = {
  id: 'a6',
  width: mmToPx(111, 150),
  height: mmToPx(154, 150),
  trimWidth: mmToPx(105, 150),
  trimHeight: mmToPx(148, 150),
  dpi: 150,
  bleedMm: 3,
  paper: 'A6',
  widthMm: 105,
  heightMm: 148,
  fit: 'cover',
  format: 'pdf',
  color: { profile: 'fogra39', intent: 'relative', bpc: true },
  preflight: 'error',
};

const pt = (mm: number) => (mm * 72) / 25.4;

let work: string;
let fogra: LoadedProfile;
let rendered: RenderedTarget;
let pdf: string;

beforeAll(async () => {
  work = mkdtempSync(path.join(tmpdir(), 'gpt4k-pdf-'));
  fogra = await loadProfile('fogra39', { kind: 'file', path: FOGRA39 });
  const image: RawImage = { data: Buffer.alloc(400 * 560 * 3), width: 400, height: 560, channels: 3, depth: 'uchar' };
  for (let i = 0; i < image.data.length; i += 3) image.data.set([(i / 3) % 256, 120, ((i / 3) >> 8) % 256], i);
  rendered = await renderTarget(image, target, fogra);
  pdf = path.join(work, 'a6.pdf');
  writeFileSync(pdf, rendered.data);
});

afterAll(() => rmSync(work, { recursive: true, force: true }));

function box(info: string, name: string): number[] {
  const line = info.split('\n').find((l) => l.startsWith(`${name}:`));
  if (!line) throw new Error(`pdfinfo printed no ${name}:\n${info}`);
  return line.slice(name.length + 1).trim().split(/\s+/).map(Number);
}

describe('format: pdf', () => {
  it('has a page of trim + bleed (MediaBox = BleedBox) and the trim as TrimBox', () => {
    const info = tool('pdfinfo', ['-box', pdf]);
    expect(info).toMatch(/Pages:\s+1/);
    const media = box(info, 'MediaBox');
    const bleed = box(info, 'BleedBox');
    const trim = box(info, 'TrimBox');
    const expectBox = (got: number[], want: number[]) => got.forEach((v, i) => expect(v).toBeCloseTo(want[i] as number, 1));
    expectBox(media, [0, 0, pt(111), pt(154)]);
    expectBox(bleed, media);
    expectBox(trim, [pt(3), pt(3), pt(108), pt(151)]);
  });

  it('holds the CMYK image at full resolution, 8 bits, Flate-compressed, pixel for pixel', () => {
    const list = tool('pdfimages', ['-list', pdf]).split('\n').filter((l) => /^\s*\d+\s+\d+\s+image/.test(l));
    expect(list).toHaveLength(1);
    // page num type width height color comp bpc enc interp object ID x-ppi y-ppi size ratio
    const [, , , width, height, color, comp, bpc, enc, , , , xppi, yppi] = (list[0] as string).trim().split(/\s+/);
    expect([Number(width), Number(height), color, Number(comp), Number(bpc), enc]).toEqual([target.width, target.height, 'cmyk', 4, 8, 'image']);
    expect(Number(xppi)).toBeCloseTo(150, -1);
    expect(Number(yppi)).toBeCloseTo(150, -1);
    const json = JSON.parse(tool('qpdf', ['--json=2', '--json-key=qpdf', pdf])) as { qpdf?: unknown[]; objects?: Record<string, { value?: Record<string, unknown> }> };
    const objects = json.objects ?? (json.qpdf?.[1] as Record<string, { value?: Record<string, unknown> }>);
    const image = Object.entries(objects).find(([, o]) => (o as { stream?: { dict?: Record<string, unknown> } }).stream?.dict?.['/Subtype'] === '/Image');
    expect(image).toBeDefined();
    const dict = (image?.[1] as { stream: { dict: Record<string, unknown> } }).stream.dict;
    expect(dict['/ColorSpace']).toBe('/DeviceCMYK');
    expect(dict['/Filter']).toBe('/FlateDecode');
    const id = (image?.[0] as string).replace(/^obj:/, '').replace(/ R$/, '').split(' ')[0];
    const pixels = toolBytes('qpdf', [`--show-object=${id}`, '--filtered-stream-data', pdf]);
    expect(rendered.pixels.data).toBeDefined();
    expect(pixels.equals(rendered.pixels.data as Buffer)).toBe(true);
  });

  it('has a GTS_PDFX output intent that embeds the target\'s ICC profile, and passes qpdf --check', () => {
    const json = JSON.parse(tool('qpdf', ['--json=2', '--json-key=qpdf', pdf])) as { qpdf?: unknown[]; objects?: Record<string, unknown> };
    const objects = (json.objects ?? json.qpdf?.[1]) as Record<string, { value?: Record<string, unknown>; stream?: { dict: Record<string, unknown> } }>;
    const intent = Object.values(objects).find((o) => o.value?.['/S'] === '/GTS_PDFX');
    expect(intent?.value?.['/Type']).toBe('/OutputIntent');
    expect(String(intent?.value?.['/OutputConditionIdentifier'])).toContain('FOGRA39L Coated');
    const ref = String(intent?.value?.['/DestOutputProfile']).split(' ')[0] as string;
    const profileObject = objects[`obj:${ref} 0 R`];
    expect(profileObject?.stream?.dict['/N']).toBe(4);
    const icc = toolBytes('qpdf', [`--show-object=${ref}`, '--filtered-stream-data', pdf]);
    expect(icc.equals(fogra.bytes)).toBe(true);
    const catalog = Object.values(objects).find((o) => o.value?.['/Type'] === '/Catalog');
    expect(catalog?.value?.['/OutputIntents']).toEqual([`${Object.entries(objects).find(([, o]) => o === intent)?.[0].replace(/^obj:/, '')}`]);
    expect(tool('qpdf', ['--check', pdf])).toMatch(/No syntax or stream encoding errors found/);
    expect(tool('pdfinfo', [pdf])).toMatch(/PDF version:\s+1\.6/);
  });

  it('passes gpt4k preflight, which reads the boxes for the bleed check', async () => {
    const result = await preflightFile(pdf, target, fogra);
    expect(result.checks.filter((c) => !c.ok)).toEqual([]);
    expect(result.checks.find((c) => c.name === 'bleed')?.message).toBe('page 111 x 154 mm, trim 105 x 148 mm (3 mm bleed)');
    const wrong = await preflightFile(pdf, { ...target, bleedMm: 5, width: mmToPx(115, 150), height: mmToPx(158, 150) }, fogra);
    expect(wrong.checks.filter((c) => !c.ok).map((c) => c.name)).toContain('bleed');
  });
});
