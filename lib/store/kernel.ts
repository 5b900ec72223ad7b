/**
 * The 1:N search kernel, shared by the main thread and the search worker. Pure arithmetic on
 * typed arrays, no imports, so that it runs the same in both places.
 */

/** The k nearest people: their slots and squared distances, nearest first. */
export interface KernelResult {
  slots: number[];
  d2: number[];
}

/**
 * Squared euclidean distance from `q` to every row of `data` (row r at r*dim), the minimum per
 * person slot (`rowSlot[r]`) in `best`, then the k nearest slots.
 * Four accumulators let V8 keep independent additions in flight; this is about twice as fast
 * as the naive loop and stays exact enough (float64 sums of float32 differences).
 */
export function nearest(
  q: Float32Array,
  data: Float32Array,
  rowSlot: Int32Array,
  rows: number,
  dim: number,
  best: Float64Array,
  slotCount: number,
  k: number,
): KernelResult {
  best.fill(Infinity, 0, slotCount);
  const dim4 = dim - (dim % 4);
  for (let r = 0; r < rows; r++) {
    const o = r * dim;
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    for (let j = 0; j < dim4; j += 4) {
      const d0 = q[j] - data[o + j];
      const d1 = q[j + 1] - data[o + j + 1];
      const d2 = q[j + 2] - data[o + j + 2];
      const d3 = q[j + 3] - data[o + j + 3];
      s0 += d0 * d0;
      s1 += d1 * d1;
      s2 += d2 * d2;
      s3 += d3 * d3;
    }
    for (let j = dim4; j < dim; j++) {
      const d = q[j] - data[o + j];
      s0 += d * d;
    }
    const sum = s0 + s1 + s2 + s3;
    const s = rowSlot[r];
    if (sum < best[s]) best[s] = sum;
  }
  const slots: number[] = [];
  const d2: number[] = [];
  for (let s = 0; s < slotCount; s++) {
    const v = best[s];
    if (v === Infinity) continue;
    if (slots.length === k && v >= d2[k - 1]) continue;
    // Insertion into the sorted top-k; when full, the last entry is overwritten.
    let i = slots.length === k ? k - 1 : slots.length;
    while (i > 0 && d2[i - 1] > v) {
      d2[i] = d2[i - 1];
      slots[i] = slots[i - 1];
      i--;
    }
    d2[i] = v;
    slots[i] = s;
  }
  return { slots, d2 };
}
