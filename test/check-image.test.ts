import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { checkImageBytes } from '../src/providers/check-image.js';
import { ProviderError } from '../src/providers/retry.js';
import * as hostile from './support/hostile-images.js';

const answer = { answered: 'the images API answered 200', hint: 'check the gateway' };

/** The check's verdict: 'ok', or the error's code. */
const verdict = (bytes: Buffer): Promise<string> =>
  checkImageBytes(bytes, answer).then(
    () => 'ok',
    (err: unknown) => (err instanceof ProviderError ? err.code : `threw ${String(err)}`),
  );

describe('checkImageBytes', () => {
  it('refuses a truncated PNG or JPEG every time, also while other images decode at the same moment', async () => {
    // A build checks several answers at once, beside renders. With stats() as the decode, about
    // one check in four of a cut-short image passed under this load and the image was stored
    // (a later step then failed on the cached image, and the request was never retried).
    const png = hostile.truncated(await hostile.png());
    const jpeg = hostile.truncated(await hostile.jpeg());
    const good = await hostile.jpeg();
    const verdicts: string[] = [];
    for (let round = 0; round < 40; round++) {
      const [a, b, c, d] = await Promise.all([
        verdict(png),
        verdict(jpeg),
        verdict(png),
        verdict(jpeg),
        sharp(good).resize(40).raw().toBuffer(),
      ]);
      verdicts.push(a, b, c, d);
    }
    expect(verdicts.filter((v) => v !== 'E_BAD_IMAGE')).toEqual([]);
    expect(verdicts.length).toBe(160);
  });

  it('passes a whole image with its size, and says what is wrong with an empty or foreign answer', async () => {
    const good = await hostile.png(96, 64);
    await expect(checkImageBytes(good, answer)).resolves.toMatchObject({ format: 'png', width: 96, height: 64 });
    await expect(checkImageBytes(Buffer.alloc(0), answer)).rejects.toThrow(/held no image/);
    await expect(checkImageBytes(Buffer.from('<html>gateway error</html>'), answer)).rejects.toThrow(/not PNG, JPEG or WebP/);
    await expect(checkImageBytes(hostile.truncated(good), answer)).rejects.toThrow(/does not decode \(truncated/);
  });
});
