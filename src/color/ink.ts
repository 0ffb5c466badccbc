/**
 * Total ink coverage of CMYK samples: C+M+Y+K per pixel, in percent (400 at most), its maximum
 * and 99th percentile, as preflight checks them (src/color/preflight.ts). No dependencies, so the
 * ink worker (src/color/ink-worker.ts) loads it without loading sharp.
 */

export interface InkCoverage {
  /** Total area coverage in percent (C+M+Y+K, 400 at most). */
  max: number;
  p99: number;
}

const round1 = (v: number): number => Math.round(v * 10) / 10;

/**
 * Total ink per pixel, counted: 1,021 counters (0 to 4 x 255) are all the maximum and the 99th
 * percentile need, so samples can be counted a slice at a time and never copied.
 */
export class InkHistogram {
  private readonly counts = new Float64Array(4 * 255 + 1);
  private pixels = 0;

  /** Counts interleaved 8-bit CMYK samples (whole pixels). */
  add(cmyk: Uint8Array): void {
    const counts = this.counts;
    const pixels = Math.floor(cmyk.length / 4);
    if (cmyk.byteOffset % 4 === 0) {
      // A pixel is one 32-bit word: add its bytes pairwise in two 16-bit lanes (byte order does
      // not matter to a sum).
      const words = new Uint32Array(cmyk.buffer, cmyk.byteOffset, pixels);
      for (let p = 0; p < pixels; p++) {
        const v = words[p] as number;
        const pairs = (v & 0x00ff00ff) + ((v >>> 8) & 0x00ff00ff);
        counts[(pairs & 0xffff) + (pairs >>> 16)]!++;
      }
    } else {
      for (let i = 0; i < pixels * 4; i += 4) {
        counts[(cmyk[i] as number) + (cmyk[i + 1] as number) + (cmyk[i + 2] as number) + (cmyk[i + 3] as number)]!++;
      }
    }
    this.pixels += pixels;
  }

  /**
   * Counts rows of CMYK pixels stored as differences from the pixel to their left (TIFF's
   * horizontal predictor), undoing the differences on the way: four bytewise additions at once
   * in a 32-bit word, carries kept from crossing into the next byte. `words` is left as it was.
   */
  addDifferenced(words: Uint32Array, rowPixels: number): void {
    const counts = this.counts;
    const rows = Math.floor(words.length / rowPixels);
    for (let r = 0; r < rows; r++) {
      let left = 0;
      for (let p = r * rowPixels, end = p + rowPixels; p < end; p++) {
        const d = words[p] as number;
        const v = (((left & 0x7f7f7f7f) + (d & 0x7f7f7f7f)) ^ ((left ^ d) & 0x80808080)) >>> 0;
        const pairs = (v & 0x00ff00ff) + ((v >>> 8) & 0x00ff00ff);
        counts[(pairs & 0xffff) + (pairs >>> 16)]!++;
        left = v;
      }
    }
    this.pixels += rows * rowPixels;
  }

  /** The raw counts, e.g. to send from a worker; `merge` adds them to another histogram. */
  snapshot(): { counts: Float64Array; pixels: number } {
    return { counts: this.counts.slice(), pixels: this.pixels };
  }

  merge(other: { counts: Float64Array; pixels: number }): void {
    for (let s = 0; s < this.counts.length; s++) this.counts[s]! += other.counts[s] ?? 0;
    this.pixels += other.pixels;
  }

  /** The highest and the 99th-percentile total ink counted so far, in percent. */
  coverage(): InkCoverage {
    const counts = this.counts;
    let max = 0;
    for (let s = counts.length - 1; s >= 0; s--) {
      if ((counts[s] as number) > 0) {
        max = s;
        break;
      }
    }
    let p99 = 0;
    let seen = 0;
    const rank = Math.ceil(this.pixels * 0.99);
    for (let s = 0; s < counts.length; s++) {
      seen += counts[s] as number;
      if (seen >= rank) {
        p99 = s;
        break;
      }
    }
    const percent = (sum: number): number => round1((sum / 255) * 100);
    return { max: percent(max), p99: percent(p99) };
  }
}

/** The highest and the 99th-percentile total ink of interleaved 8-bit CMYK samples, in one pass. */
export function inkCoverage(cmyk: Uint8Array): InkCoverage {
  const histogram = new InkHistogram();
  histogram.add(cmyk);
  return histogram.coverage();
}

