/**
 * The in-memory matching index: every sample descriptor of a store's model in one contiguous
 * Float32Array (row per sample), patched in place as samples come and go, so a registration is
 * searchable at once and a search is one linear pass over memory.
 *
 * The rows live in shared memory (a WebAssembly.Memory for the SIMD kernel, else a
 * SharedArrayBuffer) so that a search worker can scan them without a copy (see
 * {@link SearchWorker}); `version` changes on every patch so that a search that overlapped a
 * patch can be detected and repeated.
 */
import { jsDistances, kernelModule, topPeople, wasmDistances, type KernelResult } from './kernel';

/** One person found by a search. */
export interface IndexHit {
  id: string;
  /**
   * Euclidean distance: the minimum over the person's samples (of the sample rows), or to the
   * person's mean (of the {@link DescriptorIndex.means} index).
   */
  distance: number;
}

/**
 * Byte layout of the shared memory for `capacity` rows: the rows at 0, then one scratch area
 * (query + per-row distances) per searching thread: 0 = main thread, 1 = worker.
 */
export function layout(
  capacity: number,
  dim: number,
): { scratch: Array<{ qOff: number; outOff: number }>; bytes: number } {
  const dataBytes = capacity * dim * 4;
  const scratchBytes = dim * 4 + capacity * 4;
  const scratch = [0, 1].map((i) => {
    const qOff = dataBytes + i * scratchBytes;
    return { qOff, outOff: qOff + dim * 4 };
  });
  return { scratch, bytes: dataBytes + 2 * scratchBytes };
}

/** What a worker needs to search the index as it is now. */
export interface IndexView {
  /** The WebAssembly memory when the SIMD kernel is used; null for the JavaScript kernel. */
  memory: WebAssembly.Memory | null;
  buffer: SharedArrayBuffer;
  capacity: number;
  rowSlot: Int32Array;
  rows: number;
  dim: number;
  slotCount: number;
  version: number;
}

const WASM_PAGE = 65536;
const MAX_PAGES = 65536;

interface Storage {
  memory: WebAssembly.Memory | null;
  buffer: SharedArrayBuffer;
  capacity: number;
  data: Float32Array;
}

function allocate(capacity: number, dim: number, wasm: boolean): Storage {
  const l = layout(capacity, dim);
  let memory: WebAssembly.Memory | null = null;
  let buffer: SharedArrayBuffer;
  const pages = Math.ceil(l.bytes / WASM_PAGE);
  // The kernel reads 8 floats per step; other sizes (and runtimes without SIMD) use JavaScript.
  if (wasm && dim % 8 === 0 && pages <= MAX_PAGES && kernelModule()) {
    memory = new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
    buffer = memory.buffer as unknown as SharedArrayBuffer;
  } else {
    buffer = new SharedArrayBuffer(l.bytes);
  }
  return { memory, buffer, capacity, data: new Float32Array(buffer, 0, capacity * dim) };
}

/** Searches one thread's scratch area of a view (used by the main thread and the worker). */
export function searchView(
  view: IndexView,
  scratch: number,
  query: Float32Array,
  best: Float64Array,
  k: number,
): KernelResult {
  const { qOff, outOff } = layout(view.capacity, view.dim).scratch[scratch];
  const q = new Float32Array(view.buffer, qOff, view.dim);
  const out = new Float32Array(view.buffer, outOff, view.capacity);
  q.set(query);
  const wasm = view.memory ? wasmDistances(view.memory) : null;
  if (wasm) wasm(qOff, 0, view.rows, view.dim, outOff);
  else jsDistances(q, new Float32Array(view.buffer, 0, view.capacity * view.dim), view.rows, view.dim, out);
  return topPeople(out, view.rowSlot, view.rows, best, view.slotCount, k);
}

const INITIAL_CAPACITY = 256;

export class DescriptorIndex {
  private store: Storage;
  private rowSlot: Int32Array;
  private rowCount = 0;
  private rowSample: string[] = [];
  private readonly sampleRow = new Map<string, number>();
  private readonly slotId: (string | undefined)[] = [];
  private readonly slotRows: number[] = [];
  private readonly idSlot = new Map<string, number>();
  private readonly freeSlots: number[] = [];
  private best = new Float64Array(0);
  /** One row per person, their samples' mean; built by {@link means} and kept up to date from then on. */
  private meanIndex: DescriptorIndex | null = null;
  /** Set while removePerson removes a person's rows one by one (their mean row goes once, at the end). */
  private removing: string | null = null;
  /** Incremented on every change. */
  version = 0;

  private readonly wasm: boolean;

  /**
   * @param dim descriptor length
   * @param opts.kernel `auto` (WebAssembly SIMD where available) or `javascript` (to compare the two)
   */
  constructor(
    readonly dim: number,
    opts: { kernel?: 'auto' | 'javascript' } = {},
  ) {
    if (!Number.isInteger(dim) || dim <= 0)
      throw new RangeError(`descriptor dimension must be a positive integer`);
    this.wasm = opts.kernel !== 'javascript';
    this.store = allocate(INITIAL_CAPACITY, dim, this.wasm);
    this.rowSlot = new Int32Array(new SharedArrayBuffer(INITIAL_CAPACITY * 4));
  }

  /** Which distance kernel this index uses. */
  get kernel(): 'wasm-simd' | 'javascript' {
    return this.store.memory ? 'wasm-simd' : 'javascript';
  }

  private get data(): Float32Array {
    return this.store.data;
  }

  /** Number of samples (rows). */
  get rows(): number {
    return this.rowCount;
  }

  /** Number of people with at least one sample. */
  get people(): number {
    return this.idSlot.size;
  }

  /** Bytes of shared memory held (capacity, not just use), the means index included. */
  get bytes(): number {
    return this.store.buffer.byteLength + this.rowSlot.byteLength + (this.meanIndex?.bytes ?? 0);
  }

  /**
   * The index of every person's mean: one row per person (its sample id is the person's id), the
   * mean of their samples. Built on the first call, in one pass over the rows, and from then on
   * patched with every add and removal here, so a search of it never sees a stale mean. Searched
   * by the `mean` match rule; the stores that never use that rule never pay for it.
   */
  means(): DescriptorIndex {
    if (this.meanIndex) return this.meanIndex;
    const m = new DescriptorIndex(this.dim, { kernel: this.wasm ? 'auto' : 'javascript' });
    const slots = this.slotId.length;
    const sums = new Float64Array(slots * this.dim);
    const counts = new Uint32Array(slots);
    for (let r = 0; r < this.rowCount; r++) {
      const slot = this.rowSlot[r];
      counts[slot]++;
      const at = slot * this.dim;
      const row = r * this.dim;
      for (let i = 0; i < this.dim; i++) sums[at + i] += this.data[row + i];
    }
    m.reserve(this.idSlot.size);
    const mean = new Float32Array(this.dim);
    for (const [id, slot] of this.idSlot) {
      for (let i = 0; i < this.dim; i++) mean[i] = sums[slot * this.dim + i] / counts[slot];
      m.add(id, id, mean);
    }
    // The sums are descriptors too (of people who may be erased later): zeroed, not left to the GC.
    sums.fill(0);
    mean.fill(0);
    this.meanIndex = m;
    return m;
  }

  /** The mean of the samples of the person in `slot` (zeros for a slot without rows). */
  private meanOf(slot: number): Float32Array {
    const sum = new Float64Array(this.dim);
    let n = 0;
    for (let r = 0; r < this.rowCount; r++) {
      if (this.rowSlot[r] !== slot) continue;
      n++;
      const row = r * this.dim;
      for (let i = 0; i < this.dim; i++) sum[i] += this.data[row + i];
    }
    const out = new Float32Array(this.dim);
    if (n) for (let i = 0; i < this.dim; i++) out[i] = sum[i] / n;
    sum.fill(0);
    return out;
  }

  /** Keeps the means index in step after a change to the samples of `personId`. */
  private updateMean(personId: string): void {
    const m = this.meanIndex;
    if (!m || this.removing === personId) return;
    const slot = this.idSlot.get(personId);
    if (slot === undefined) {
      m.removeSample(personId);
      return;
    }
    const mean = this.meanOf(slot);
    m.add(personId, personId, mean);
    mean.fill(0);
  }

  has(sampleId: string): boolean {
    return this.sampleRow.has(sampleId);
  }

  private grow(min: number): void {
    let cap = this.store.capacity;
    while (cap < min) cap *= 2;
    if (cap === this.store.capacity) return;
    const next = allocate(cap, this.dim, this.wasm);
    next.data.set(this.data.subarray(0, this.rowCount * this.dim));
    const rowSlot = new Int32Array(new SharedArrayBuffer(cap * 4));
    rowSlot.set(this.rowSlot.subarray(0, this.rowCount));
    // The old memory is dropped; zero it first so erased or moved descriptors do not linger.
    this.data.fill(0);
    this.store = next;
    this.rowSlot = rowSlot;
    this.version++;
  }

  /** Reserves room for `n` more rows (bulk loads avoid repeated doubling). */
  reserve(n: number): void {
    this.grow(this.rowCount + n);
  }

  /** Adds (or replaces) one sample of a person. */
  add(personId: string, sampleId: string, descriptor: ArrayLike<number>): void {
    if (descriptor.length !== this.dim) {
      throw new RangeError(`descriptor has ${descriptor.length} values, index holds ${this.dim}`);
    }
    if (this.sampleRow.has(sampleId)) this.removeSample(sampleId);
    this.grow(this.rowCount + 1);
    let slot = this.idSlot.get(personId);
    if (slot === undefined) {
      slot = this.freeSlots.pop() ?? this.slotId.length;
      this.slotId[slot] = personId;
      this.slotRows[slot] = 0;
      this.idSlot.set(personId, slot);
    }
    const row = this.rowCount++;
    this.data.set(descriptor, row * this.dim);
    this.rowSlot[row] = slot;
    this.rowSample[row] = sampleId;
    this.sampleRow.set(sampleId, row);
    this.slotRows[slot]++;
    this.version++;
    this.updateMean(personId);
  }

  /** Removes one sample; the last row moves into its place so the rows stay contiguous. */
  removeSample(sampleId: string): boolean {
    const row = this.sampleRow.get(sampleId);
    if (row === undefined) return false;
    const slot = this.rowSlot[row];
    const last = this.rowCount - 1;
    if (row !== last) {
      this.data.copyWithin(row * this.dim, last * this.dim, (last + 1) * this.dim);
      this.rowSlot[row] = this.rowSlot[last];
      const moved = this.rowSample[last];
      this.rowSample[row] = moved;
      this.sampleRow.set(moved, row);
    }
    // Zero the vacated row: erased descriptors must not linger in memory either.
    this.data.fill(0, last * this.dim, (last + 1) * this.dim);
    this.rowSample.length = last;
    this.rowCount = last;
    this.sampleRow.delete(sampleId);
    const id = this.slotId[slot];
    if (--this.slotRows[slot] === 0) {
      if (id !== undefined) this.idSlot.delete(id);
      this.slotId[slot] = undefined;
      this.freeSlots.push(slot);
    }
    this.version++;
    if (id !== undefined) this.updateMean(id);
    return true;
  }

  /** Removes every sample of a person; returns how many. */
  removePerson(personId: string): number {
    const slot = this.idSlot.get(personId);
    if (slot === undefined) return 0;
    const samples: string[] = [];
    for (let r = 0; r < this.rowCount; r++) if (this.rowSlot[r] === slot) samples.push(this.rowSample[r]);
    this.removing = personId;
    try {
      for (const s of samples) this.removeSample(s);
    } finally {
      this.removing = null;
    }
    this.meanIndex?.removeSample(personId);
    return samples.length;
  }

  clear(): void {
    this.data.fill(0, 0, this.rowCount * this.dim);
    this.rowCount = 0;
    this.rowSample = [];
    this.sampleRow.clear();
    this.slotId.length = 0;
    this.slotRows.length = 0;
    this.idSlot.clear();
    this.freeSlots.length = 0;
    this.meanIndex?.clear();
    this.version++;
  }

  /** The k nearest people to `query`, nearest first, on the calling thread. */
  search(query: Float32Array, k: number): IndexHit[] {
    if (query.length !== this.dim)
      throw new RangeError(`query has ${query.length} values, index holds ${this.dim}`);
    if (this.best.length < this.slotId.length)
      this.best = new Float64Array(Math.max(16, this.slotId.length * 2));
    const res = searchView(this.view(), 0, query, this.best, k);
    return this.hits(res.slots, res.d2);
  }

  /** Turns kernel slots into ids (used for results computed by a worker on {@link view}). */
  hits(slots: number[], d2: number[]): IndexHit[] {
    const out: IndexHit[] = [];
    for (let i = 0; i < slots.length; i++) {
      const id = this.slotId[slots[i]];
      if (id !== undefined) out.push({ id, distance: Math.sqrt(d2[i]) });
    }
    return out;
  }

  /** The shared memory as it is now, for a worker. */
  view(): IndexView {
    return {
      memory: this.store.memory,
      buffer: this.store.buffer,
      capacity: this.store.capacity,
      rowSlot: this.rowSlot,
      rows: this.rowCount,
      dim: this.dim,
      slotCount: this.slotId.length,
      version: this.version,
    };
  }
}
