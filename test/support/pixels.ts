import { expect } from 'vitest';

/** How far two sample buffers of the same length are apart: the mean and the largest difference per sample. */
export function deltas(got: ArrayLike<number>, want: ArrayLike<number>): { mean: number; max: number } {
  expect(got.length).toBe(want.length);
  let sum = 0;
  let max = 0;
  for (let i = 0; i < got.length; i++) {
    const d = Math.abs((got[i] as number) - (want[i] as number));
    sum += d;
    max = Math.max(max, d);
  }
  return { mean: sum / got.length, max };
}
