import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import { deflate as deflateCallback } from 'node:zlib';
import type { IccColorSpace } from './profiles.js';
import { gpt4kVersion } from '../util/version.js';
import { xmpPacket, type Provenance } from './xmp.js';

const deflate = promisify(deflateCallback);

/**
 * A one-page print PDF around one image, in the spirit of PDF/X-4:
 *
 * - the page (MediaBox = BleedBox) is the trim size plus the bleed on every side, the TrimBox
 *   the trim size, so an imposition tool places and cuts it without being told;
 * - the image fills the page at full resolution, 8 bits per ink, Flate-compressed, in
 *   DeviceCMYK (device values, characterized by the output intent, as PDF/X expects) or, for an
 *   RGB profile, ICCBased on that profile;
 * - the output intent (GTS_PDFX) embeds the target's ICC profile, and the Info dictionary and
 *   XMP metadata declare PDF/X-4, the XMP with the image's provenance (src/color/xmp.ts).
 *
 * Written directly: the structure is nine objects and a cross-reference table.
 */

export interface PdfImage {
  data: Buffer;
  width: number;
  height: number;
  space: IccColorSpace;
}

export interface PdfPage {
  /** Trim size. */
  widthMm: number;
  heightMm: number;
  bleedMm: number;
  profile: Buffer;
  profileDescription: string;
  /** The document title (PDF/X requires one). */
  title: string;
  /** Where the image came from (src/color/xmp.ts), with the rendering intent of the conversion. */
  provenance?: Provenance;
  intent?: string;
  bpc?: boolean;
}

const POINTS_PER_MM = 72 / 25.4;

/** Points, rounded to 1/1000 pt so boxes read back exactly. */
function pt(mm: number): string {
  return String(Math.round(mm * POINTS_PER_MM * 1000) / 1000);
}

/** A PDF literal string: balanced parentheses and backslashes escaped, ASCII only. */
function text(value: string): string {
  const ascii = value.replace(/[^\x20-\x7e]/g, '?');
  return `(${ascii.replace(/[\\()]/g, (c) => `\\${c}`)})`;
}

function pdfDate(date: Date): string {
  const iso = date.toISOString(); // 2025-01-31T12:34:56.789Z
  return `D:${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}Z`;
}

/** SOURCE_DATE_EPOCH (reproducible builds), else now: only for a PDF made without provenance. */
function buildDate(): Date {
  const epoch = Number(process.env.SOURCE_DATE_EPOCH);
  return Number.isFinite(epoch) && epoch > 0 ? new Date(epoch * 1000) : new Date();
}

/**
 * The PDF's date: the provenance's (the generation's, or SOURCE_DATE_EPOCH). PDF/X requires a
 * date where a source photo has none known: the Unix epoch then, so a rebuild stays identical.
 */
function pdfDateOf(page: PdfPage): Date {
  if (!page.provenance) return buildDate();
  return page.provenance.date ?? new Date(0);
}

/** The provenance of a PDF rendered without one (a direct renderTarget call): named by its content. */
function contentProvenance(page: PdfPage, contentId: string, date: Date): Provenance {
  return { asset: page.title, target: 'pdf', toolVersion: gpt4kVersion(), date, sourceHash: contentId, renderKey: contentId };
}

/** Writes the PDF. Deflate runs on libuv's thread pool, off the event loop. */
export async function writeImagePdf(image: PdfImage, page: PdfPage): Promise<Buffer> {
  const components = image.space === 'CMYK' ? 4 : image.space === 'RGB' ? 3 : 1;
  const [pixels, profile] = await Promise.all([deflate(image.data), deflate(page.profile)]);
  const date = pdfDateOf(page);
  // PDF/X wants a file identifier; a hash of the content makes it stable for the same pixels.
  const id = createHash('md5').update(pixels).update(page.profile).digest('hex');
  const mediaW = page.widthMm + 2 * page.bleedMm;
  const mediaH = page.heightMm + 2 * page.bleedMm;
  const media = `[0 0 ${pt(mediaW)} ${pt(mediaH)}]`;
  const trim = `[${pt(page.bleedMm)} ${pt(page.bleedMm)} ${pt(page.bleedMm + page.widthMm)} ${pt(page.bleedMm + page.heightMm)}]`;
  const colorSpace = image.space === 'CMYK' ? '/DeviceCMYK' : '[/ICCBased 7 0 R]';
  const content = Buffer.from(`q\n${pt(mediaW)} 0 0 ${pt(mediaH)} 0 0 cm\n/Im0 Do\nQ\n`, 'latin1');
  const provenance = page.provenance ?? contentProvenance(page, id, date);
  const metadata = Buffer.from(
    xmpPacket({ ...provenance, date }, {
      format: 'pdf',
      iccDescription: page.profileDescription,
      intent: page.intent ?? 'relative',
      bpc: page.bpc ?? false,
      pdf: { title: page.title, pdfxVersion: 'PDF/X-4', trapped: false },
    }),
    'utf8',
  );
  const producer = text(`gpt4k ${provenance.toolVersion}`);

  type Body = string | { dict: string; stream: Buffer };
  const objects: Body[] = [
    /* 1 */ '<< /Type /Catalog /Pages 2 0 R /OutputIntents [5 0 R] /Metadata 9 0 R >>',
    /* 2 */ '<< /Type /Pages /Kids [3 0 R] /Count 1 >>',
    /* 3 */ `<< /Type /Page /Parent 2 0 R /MediaBox ${media} /BleedBox ${media} /TrimBox ${trim} /Resources << /XObject << /Im0 4 0 R >> >> /Contents 6 0 R >>`,
    /* 4 */ {
      dict: `<< /Type /XObject /Subtype /Image /Width ${image.width} /Height ${image.height} /ColorSpace ${colorSpace} /BitsPerComponent 8 /Filter /FlateDecode /Length ${pixels.length} >>`,
      stream: pixels,
    },
    /* 5 */ `<< /Type /OutputIntent /S /GTS_PDFX /OutputConditionIdentifier ${text(page.profileDescription)} /OutputCondition ${text(page.profileDescription)} /Info ${text(page.profileDescription)} /RegistryName (http://www.color.org) /DestOutputProfile 7 0 R >>`,
    /* 6 */ { dict: `<< /Length ${content.length} >>`, stream: content },
    /* 7 */ { dict: `<< /N ${components} /Filter /FlateDecode /Length ${profile.length} >>`, stream: profile },
    /* 8 */ `<< /Title ${text(page.title)} /Producer ${producer} /Creator ${producer} /CreationDate (${pdfDate(date)}) /ModDate (${pdfDate(date)}) /Trapped /False /GTS_PDFXVersion (PDF/X-4) >>`,
    /* 9 */ { dict: `<< /Type /Metadata /Subtype /XML /Length ${metadata.length} >>`, stream: metadata },
  ];

  const chunks: Buffer[] = [Buffer.from('%PDF-1.6\n%\xe2\xe3\xcf\xd3\n', 'latin1')];
  let offset = chunks[0]!.length;
  const offsets: number[] = [];
  const push = (chunk: Buffer) => {
    chunks.push(chunk);
    offset += chunk.length;
  };
  objects.forEach((body, i) => {
    offsets.push(offset);
    if (typeof body === 'string') {
      push(Buffer.from(`${i + 1} 0 obj\n${body}\nendobj\n`, 'latin1'));
    } else {
      push(Buffer.from(`${i + 1} 0 obj\n${body.dict}\nstream\n`, 'latin1'));
      push(body.stream);
      push(Buffer.from('\nendstream\nendobj\n', 'latin1'));
    }
  });
  const xref = offset;
  const entries = offsets.map((at) => `${String(at).padStart(10, '0')} 00000 n \n`).join('');
  push(
    Buffer.from(
      `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n${entries}trailer\n<< /Size ${objects.length + 1} /Root 1 0 R /Info 8 0 R /ID [<${id}> <${id}>] >>\nstartxref\n${xref}\n%%EOF\n`,
      'latin1',
    ),
  );
  return Buffer.concat(chunks);
}
