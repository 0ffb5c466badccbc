/**
 * A provider's C2PA manifest store, as it sent it. PNG carries it in a `caBX` chunk (C2PA 2.x,
 * "Embedding manifests into PNG"): the chunk's data is the JUMBF manifest store, byte for byte
 * what a `.c2pa` sidecar holds. JPEG (APP11) and WebP are not read yet.
 */

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** The C2PA manifest store embedded in an image, or undefined when it has none. */
export function extractC2pa(image: Buffer): Buffer | undefined {
  if (image.length < 8 || !image.subarray(0, 8).equals(PNG_SIGNATURE)) return undefined;
  let at = 8;
  while (at + 12 <= image.length) {
    const length = image.readUInt32BE(at);
    const type = image.toString('latin1', at + 4, at + 8);
    if (type === 'caBX') return at + 8 + length <= image.length ? Buffer.from(image.subarray(at + 8, at + 8 + length)) : undefined;
    // The manifest comes before the image data; past it there is nothing to find.
    if (type === 'IDAT' || type === 'IEND') return undefined;
    at += 12 + length;
  }
  return undefined;
}
