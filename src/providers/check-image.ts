import sharp from 'sharp';
import { ProviderError } from './retry.js';

/** The image, decoded and checked. */
export interface CheckedImage {
  bytes: Buffer;
  format: 'png' | 'jpeg' | 'webp';
  width: number;
  height: number;
}

const SIGNATURES: Array<{ format: CheckedImage['format']; test: (b: Buffer) => boolean }> = [
  { format: 'png', test: (b) => b.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) },
  { format: 'jpeg', test: (b) => b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff },
  { format: 'webp', test: (b) => b.subarray(0, 4).toString('latin1') === 'RIFF' && b.subarray(8, 12).toString('latin1') === 'WEBP' },
];

/**
 * Proves an image whole, for every provider: a known signature and a full decode by sharp. An
 * answer that fails here (truncated or garbled) is worth another request: E_BAD_IMAGE, retryable.
 * `answered` opens the message ("the images API answered 200"); `hint` says what to check.
 */
export async function checkImageBytes(
  bytes: Buffer | undefined,
  answer: { answered: string; hint: string; status?: number; requestId?: string },
): Promise<CheckedImage> {
  const bad = (why: string): ProviderError =>
    new ProviderError('E_BAD_IMAGE', `${answer.answered} but ${why}`, {
      retryable: true,
      hint: answer.hint,
      ...(answer.status !== undefined ? { status: answer.status } : {}),
      ...(answer.requestId !== undefined ? { requestId: answer.requestId } : {}),
    });
  if (!bytes || bytes.length === 0) throw bad('the response held no image');
  const format = SIGNATURES.find((s) => s.test(bytes))?.format;
  if (!format) throw bad('the image is not PNG, JPEG or WebP');
  try {
    const image = sharp(bytes, { failOn: 'warning' });
    const meta = await image.metadata();
    await image.stats(); // decodes every pixel: a truncated image fails here
    if (!meta.width || !meta.height) throw new Error('no dimensions');
    return { bytes, format, width: meta.width, height: meta.height };
  } catch {
    throw bad(`the ${format.toUpperCase()} image does not decode (truncated, ${bytes.length} bytes)`);
  }
}
