import sharp from 'sharp';
import { ProviderError } from './retry.js';
import { describePixels, MAX_IMAGE_PIXELS, sniffFormat, type ImageFormat } from '../util/image.js';

/** The image, decoded and checked. */
export interface CheckedImage {
  bytes: Buffer;
  format: ImageFormat;
  width: number;
  height: number;
}


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
  const format = sniffFormat(bytes);
  if (!format) throw bad('the image is not PNG, JPEG or WebP');
  const unusable = await unusableAnswer(bytes, format);
  if (unusable) {
    // The same request would get the same kind of answer: not worth paying for again.
    throw new ProviderError('E_BAD_IMAGE', `${answer.answered} but ${unusable}`, {
      hint: 'this is not retried; a gateway or self-hosted server in between may be rewriting images: check it',
      ...(answer.status !== undefined ? { status: answer.status } : {}),
      ...(answer.requestId !== undefined ? { requestId: answer.requestId } : {}),
    });
  }
  try {
    // Every pixel decoded to a buffer: a truncated image fails here. (stats(), used before, let
    // about one truncated PNG or JPEG in four through while other images were decoding at the
    // same time: sharp 0.35.5, failOn 'warning'; test/check-image.test.ts.)
    const { info } = await sharp(bytes, { failOn: 'warning' }).raw().toBuffer({ resolveWithObject: true });
    if (!info.width || !info.height) throw new Error('no dimensions');
    return { bytes, format, width: info.width, height: info.height };
  } catch {
    throw bad(`the ${format.toUpperCase()} image does not decode (truncated, ${bytes.length} bytes)`);
  }
}

/** What the header alone shows, before any pixel is decoded: a decompression bomb or an animation. */
async function unusableAnswer(bytes: Buffer, format: ImageFormat): Promise<string | undefined> {
  const meta = await sharp(bytes, { limitInputPixels: false })
    .metadata()
    .catch(() => undefined);
  if (!meta) return undefined; // the full decode below says what is wrong
  const width = meta.width ?? 0;
  const height = meta.pageHeight ?? meta.height ?? 0;
  if (width * height > MAX_IMAGE_PIXELS) return `the ${format.toUpperCase()} image is ${describePixels(width, height)}, over the limit of ${describePixels(0x3fff, 0x3fff)} (a decompression bomb)`;
  if ((meta.pages ?? 1) > 1) return `the ${format.toUpperCase()} image is an animation (${meta.pages} frames), not a still image`;
  return undefined;
}
