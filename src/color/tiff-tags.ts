/**
 * Baseline TIFF text tags (ImageDescription, Software, DateTime) added to a TIFF sharp wrote.
 *
 * libvips writes XMP into TIFF (sharp's withXmp) but no EXIF or text tags ("EXIF metadata is
 * unsupported for TIFF output"), so these three are added afterwards: a new first IFD, the old
 * one's entries plus the new tags in tag order, is appended after the image data and the header
 * points at it. Nothing already in the file moves, so every offset in it stays valid; the old
 * IFD (a few hundred bytes) is left unreferenced. Classic TIFF only (BigTIFF is returned as is).
 */

export interface TiffTextTags {
  imageDescription?: string;
  software?: string;
  dateTime?: Date;
}

const TAG = { imageDescription: 270, software: 305, dateTime: 306 } as const;
const ASCII = 2;

/** TIFF's DateTime: "YYYY:MM:DD HH:MM:SS" (UTC here: TIFF has no zone). */
export function tiffDateTime(date: Date): string {
  const iso = date.toISOString();
  return `${iso.slice(0, 4)}:${iso.slice(5, 7)}:${iso.slice(8, 10)} ${iso.slice(11, 19)}`;
}

export function withTiffTextTags(tiff: Buffer, tags: TiffTextTags): Buffer {
  const order = tiff.toString('latin1', 0, 2);
  if ((order !== 'II' && order !== 'MM') || tiff.length < 8) return tiff;
  const le = order === 'II';
  const u16 = (at: number) => (le ? tiff.readUInt16LE(at) : tiff.readUInt16BE(at));
  const u32 = (at: number) => (le ? tiff.readUInt32LE(at) : tiff.readUInt32BE(at));
  if (u16(2) !== 42) return tiff; // 43 is BigTIFF
  const ifd = u32(4);
  const count = u16(ifd);
  const entries = new Map<number, Buffer>();
  for (let i = 0; i < count; i++) {
    const at = ifd + 2 + i * 12;
    entries.set(u16(at), tiff.subarray(at, at + 12));
  }
  const next = u32(ifd + 2 + count * 12);

  const texts: Array<[number, string]> = [];
  if (tags.imageDescription !== undefined) texts.push([TAG.imageDescription, tags.imageDescription]);
  if (tags.software !== undefined) texts.push([TAG.software, tags.software]);
  if (tags.dateTime !== undefined) texts.push([TAG.dateTime, tiffDateTime(tags.dateTime)]);
  if (texts.length === 0) return tiff;

  // Layout after the file: [pad to even] IFD, then the strings that do not fit in an entry.
  const start = tiff.length + (tiff.length % 2);
  const total = new Set([...entries.keys(), ...texts.map(([tag]) => tag)]).size;
  const ifdSize = 2 + total * 12 + 4;
  let valueAt = start + ifdSize;
  const values: Buffer[] = [];
  for (const [tag, text] of texts) {
    // ASCII, NUL-terminated; anything else becomes '?'.
    const bytes = Buffer.from(`${text.replace(/[^\x20-\x7e]/g, '?')}\0`, 'latin1');
    const entry = Buffer.alloc(12);
    const w16 = (v: number, at: number) => (le ? entry.writeUInt16LE(v, at) : entry.writeUInt16BE(v, at));
    const w32 = (v: number, at: number) => (le ? entry.writeUInt32LE(v, at) : entry.writeUInt32BE(v, at));
    w16(tag, 0);
    w16(ASCII, 2);
    w32(bytes.length, 4);
    if (bytes.length <= 4) {
      bytes.copy(entry, 8);
    } else {
      w32(valueAt, 8);
      values.push(bytes);
      valueAt += bytes.length + (bytes.length % 2);
      if (bytes.length % 2) values.push(Buffer.alloc(1));
    }
    entries.set(tag, entry);
  }

  // Not zero-filled: every byte is written below (the copy, the padding byte, the IFD, the values).
  const out = Buffer.allocUnsafe(valueAt);
  tiff.copy(out);
  if (start > tiff.length) out[tiff.length] = 0;
  let at = start;
  const w16 = (v: number) => (le ? out.writeUInt16LE(v, at) : out.writeUInt16BE(v, at));
  const w32 = (v: number) => (le ? out.writeUInt32LE(v, at) : out.writeUInt32BE(v, at));
  w16(entries.size);
  at += 2;
  for (const tag of [...entries.keys()].sort((a, b) => a - b)) {
    (entries.get(tag) as Buffer).copy(out, at);
    at += 12;
  }
  w32(next);
  at += 4;
  for (const value of values) {
    value.copy(out, at);
    at += value.length;
  }
  if (le) out.writeUInt32LE(start, 4);
  else out.writeUInt32BE(start, 4);
  return out;
}
