/**
 * The in-memory matching index: every sample descriptor of a store's model in one contiguous
 * Float32Array (row per sample), patched in place as samples come and go, so a registration is
 * searchable at once and a search is one linear pass over memory.
 *
 * The arrays live in SharedArrayBuffers so that a search worker can scan them without a copy
 * (see {@link SearchWorker}); `version` changes on every patch so that a search that overlapped a
 * patch can be detected and repeated.
 */
import { nearest } from './kernel';

/** One person found by a search. */
export interface IndexHit {
  id: string;
  /** Euclidean distance: the minimum over the person's samples. */
  distance: number;
}

/** The shared buffers a worker needs to search. */
export interface IndexView {
  data: Float32Array;
  rowSlot: Int32Array;
  rows: number;
  dim: number;
  slotCount: number;
  version: number;
}

const INITIAL_CAPACITY = 256;

export class DescriptorIndex {
  private data: Float32Array;
  private rowSlot: Int32Array;
  private capacity: number;
  private rowCount = 0;
  private rowSample: string[] = [];
  private readonly sampleRow = new Map<string, number>();
  private readonly slotId: (string | undefined)[] = [];
  private readonly slotRows: number[] = [];
  private readonly idSlot = new Map<string, number>();
  private readonly freeSlots: number[] = [];
  private best = new Float64Array(0);
  /** Incremented on every change. */
  version = 0;

  constructor(readonly dim: number) {
    if (!Number.isInteger(dim) || dim <= 0)
      throw new RangeError(`descriptor dimension must be a positive integer`);
    this.capacity = INITIAL_CAPACITY;
    this.data = new Float32Array(new SharedArrayBuffer(this.capacity * dim * 4));
    this.rowSlot = new Int32Array(new SharedArrayBuffer(this.capacity * 4));
  }

  /** Number of samples (rows). */
  get rows(): number {
    return this.rowCount;
  }

  /** Number of people with at least one sample. */
  get people(): number {
    return this.idSlot.size;
  }

  /** Bytes held by the descriptor rows and their owners (capacity, not just use). */
  get bytes(): number {
    return this.data.byteLength + this.rowSlot.byteLength;
  }

  has(sampleId: string): boolean {
    return this.sampleRow.has(sampleId);
  }

  private grow(min: number): void {
    let cap = this.capacity;
    while (cap < min) cap *= 2;
    if (cap === this.capacity) return;
    const data = new Float32Array(new SharedArrayBuffer(cap * this.dim * 4));
    data.set(this.data.subarray(0, this.rowCount * this.dim));
    const rowSlot = new Int32Array(new SharedArrayBuffer(cap * 4));
    rowSlot.set(this.rowSlot.subarray(0, this.rowCount));
    this.data = data;
    this.rowSlot = rowSlot;
    this.capacity = cap;
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
    if (--this.slotRows[slot] === 0) {
      const id = this.slotId[slot];
      if (id !== undefined) this.idSlot.delete(id);
      this.slotId[slot] = undefined;
      this.freeSlots.push(slot);
    }
    this.version++;
    return true;
  }

  /** Removes every sample of a person; returns how many. */
  removePerson(personId: string): number {
    const slot = this.idSlot.get(personId);
    if (slot === undefined) return 0;
    const samples: string[] = [];
    for (let r = 0; r < this.rowCount; r++) if (this.rowSlot[r] === slot) samples.push(this.rowSample[r]);
    for (const s of samples) this.removeSample(s);
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
    this.version++;
  }

  /** The k nearest people to `query`, nearest first, on the calling thread. */
  search(query: Float32Array, k: number): IndexHit[] {
    if (query.length !== this.dim)
      throw new RangeError(`query has ${query.length} values, index holds ${this.dim}`);
    if (this.best.length < this.slotId.length)
      this.best = new Float64Array(Math.max(16, this.slotId.length * 2));
    const res = nearest(
      query,
      this.data,
      this.rowSlot,
      this.rowCount,
      this.dim,
      this.best,
      this.slotId.length,
      k,
    );
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

  /** The shared buffers as they are now, for a worker. */
  view(): IndexView {
    return {
      data: this.data,
      rowSlot: this.rowSlot,
      rows: this.rowCount,
      dim: this.dim,
      slotCount: this.slotId.length,
      version: this.version,
    };
  }
}
