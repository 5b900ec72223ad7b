/**
 * 1:N matching of a store: the descriptor index in memory, the search worker for large stores,
 * and the decision (match.ts). It knows nothing of where people are kept: the store gives it the
 * people to name and the model its descriptors belong to, and keeps the index up to date with
 * every change. A second backend keeps the same matcher (matching stays in memory).
 */
import type { FaceMatch } from '../types';
import { toDescriptor } from './codec';
import { DescriptorIndex, type IndexHit } from './descriptor-index';
import type { PersonRecord } from './documents';
import { StoreError } from './errors';
import { decideMatch, type MatchOptions } from './match';
import { SearchWorker } from './search-worker';

/** What a matcher reads of its store. */
export interface MatcherSource {
  /** The store's datafile (named in errors). */
  readonly file: string;
  /** A person in memory, by id. */
  person(id: string): PersonRecord | undefined;
  /** The model whose descriptors the store holds, and their length; null until the first sample. */
  model(): { modelId: string | null; dim: number | null };
}

/** The rows a rule searches: every sample (`nearest`), or one mean per person (`mean`). */
function searched(index: DescriptorIndex, o: MatchOptions): DescriptorIndex {
  return o.rule === 'nearest' ? index : index.means();
}

export class Matcher {
  /** The index searched; null until the store has a model. Replaced whole by a re-embedding. */
  index: DescriptorIndex | null = null;
  private worker: SearchWorker | null = null;
  private closed = false;

  /**
   * @param defaults the match options a call does not override.
   * @param offloadRows from this many samples on, {@link matchAsync} searches in a worker thread
   *   (0 never).
   */
  constructor(
    private readonly source: MatcherSource,
    readonly defaults: MatchOptions,
    private readonly offloadRows: number,
  ) {}

  /** Number of samples in the index. */
  get rows(): number {
    return this.index?.rows ?? 0;
  }

  /** Gives the store a model: an index of its descriptor length (kept when it already has one). */
  adopt(dim: number): void {
    if (!this.index || this.index.dim !== dim) this.index = new DescriptorIndex(dim);
  }

  /**
   * 1:N search on the calling thread. A person's distance is the distance to the mean of their
   * samples (rule `mean`, the default) or the minimum over their samples (rule `nearest`).
   * Throws `EMODEL_MISMATCH` for a descriptor of another model. See {@link decideMatch} for how
   * `known`, `ambiguous` and `confidence` are derived.
   */
  match(descriptor: ArrayLike<number>, modelId: string, opts: Partial<MatchOptions> = {}): FaceMatch {
    const o = { ...this.defaults, ...opts };
    const q = this.query(descriptor, modelId);
    const hits = q && this.index ? searched(this.index, o).search(q, Math.max(o.k, 2)) : [];
    return this.decide(hits, o);
  }

  /**
   * Same as {@link match}, but an index of at least `offloadRows` samples is searched in a worker
   * thread over shared memory, so the event loop stays free.
   */
  async matchAsync(
    descriptor: ArrayLike<number>,
    modelId: string,
    opts: Partial<MatchOptions> = {},
  ): Promise<FaceMatch> {
    const o = { ...this.defaults, ...opts };
    const q = this.query(descriptor, modelId);
    const index = this.index;
    if (!q || !index) return this.decide([], o);
    const k = Math.max(o.k, 2);
    const rows = searched(index, o);
    if (this.offloadRows <= 0 || rows.rows < this.offloadRows) return this.decide(rows.search(q, k), o);
    this.worker ??= new SearchWorker();
    // A patch during the search may move rows or re-use a person slot: retry, then scan here.
    for (let attempt = 0; attempt < 3; attempt++) {
      const view = rows.view();
      const res = await this.worker.search(view, q, k);
      if (this.closed) throw new StoreError('ESTORE_CLOSED', `face store ${this.source.file} is closed`);
      if (index === this.index && rows.version === view.version)
        return this.decide(rows.hits(res.slots, res.d2), o);
    }
    return this.decide(this.index ? searched(this.index, o).search(q, k) : [], o);
  }

  /** Stops the search worker and frees the index. */
  async close(): Promise<void> {
    this.closed = true;
    await this.worker?.close();
    this.worker = null;
    this.index?.clear();
  }

  /** The query as a descriptor of the store's length; null when there is nothing to search. */
  private query(descriptor: ArrayLike<number>, modelId: string): Float32Array | null {
    const { modelId: storeModel, dim } = this.source.model();
    if (storeModel && modelId !== storeModel) {
      throw new StoreError(
        'EMODEL_MISMATCH',
        `descriptor was made by model ${modelId}, but face store ${this.source.file} holds descriptors of model ${storeModel}; ` +
          'descriptors of different models cannot be compared (run `facewatch reembed` to move the store to the new model)',
        { modelId, storeModelId: storeModel },
      );
    }
    if (!this.index || this.index.rows === 0) return null;
    return toDescriptor(descriptor, dim);
  }

  private decide(hits: IndexHit[], o: MatchOptions): FaceMatch {
    return decideMatch(hits, o, (id) => {
      const p = this.source.person(id);
      return p ? { id: p.id, name: p.name, metadata: structuredClone(p.metadata) } : null;
    });
  }
}
