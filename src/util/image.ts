/** Uncompressed pixels as they move between steps inside one build (sharp's raw layout). */
export interface RawImage {
  data: Buffer;
  width: number;
  height: number;
  channels: 1 | 2 | 3 | 4;
  /** 8-bit or 16-bit samples (16-bit is used by white balance). */
  depth: 'uchar' | 'ushort';
  /** Pixels are sRGB unless this names the ICC profile bytes they are in. */
  icc?: Buffer;
}
