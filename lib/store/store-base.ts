/**
 * What the NeDB store (face-store.ts) and the PostgreSQL store (pg/pg-store.ts) share: the people in
 * memory and their matcher, the reads, and the changes as batches of one above each store's own
 * `batch()`, which decides how a batch runs.
 */
import { EventEmitter } from 'node:events';
import type { FaceMatch } from '../types';
import { publicPerson, type PersonRecord } from './documents';
import type { MatchOptions } from './match';
import type { Matcher } from './matcher';
import type { FaceStoreEvents, Person, PersonInput, SampleInput, StoreTx } from './types';

export abstract class StoreBase extends EventEmitter<FaceStoreEvents> implements StoreTx {
  /** The people in memory, by id: what the reads answer from. */
  protected readonly people = new Map<string, PersonRecord>();
  /** The index of their descriptors and the 1:N search. */
  protected abstract readonly matcher: Matcher;

  /** Throws `ESTORE_CLOSED` when the store is closed. */
  protected abstract assertOpen(): void;

  /** Runs `fn` with no other change in between; see each store. */
  abstract batch<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T>;

  /** Number of people. */
  size(): number {
    return this.people.size;
  }

  /** Number of samples in the matching index. */
  samples(): number {
    return this.matcher.rows;
  }

  getPerson(id: string): Person | undefined {
    const p = this.people.get(id);
    return p && publicPerson(p);
  }

  listPeople(): Person[] {
    return [...this.people.values()].map(publicPerson);
  }

  /**
   * 1:N search on the calling thread. A person's distance is the minimum over their samples.
   * Throws `EMODEL_MISMATCH` for a descriptor of another model. See `decideMatch` (match.ts) for
   * how `known`, `ambiguous` and `confidence` are derived.
   */
  match(descriptor: ArrayLike<number>, modelId: string, opts: Partial<MatchOptions> = {}): FaceMatch {
    this.assertOpen();
    return this.matcher.match(descriptor, modelId, opts);
  }

  /**
   * Same as {@link match}, but a store with at least `offloadRows` samples is searched in a
   * worker thread over shared memory, so the event loop stays free. Use this from nodes.
   */
  matchAsync(
    descriptor: ArrayLike<number>,
    modelId: string,
    opts: Partial<MatchOptions> = {},
  ): Promise<FaceMatch> {
    this.assertOpen();
    return this.matcher.matchAsync(descriptor, modelId, opts);
  }

  /** Adds a person, optionally with a first sample. Throws `EEXISTS` when the id is taken. */
  addPerson(input: PersonInput, sample?: SampleInput, actor?: string): Promise<Person> {
    return this.batch((tx) => tx.addPerson(input, sample, actor));
  }

  /** Adds a sample to a person; the first sample of a store gives it its model. */
  addSample(id: string, sample: SampleInput, actor?: string): Promise<Person> {
    return this.batch((tx) => tx.addSample(id, sample, actor));
  }

  /** Changes name and/or metadata (metadata is replaced, not merged). */
  updatePerson(
    id: string,
    patch: { name?: string; metadata?: Record<string, unknown> },
    actor?: string,
  ): Promise<Person> {
    return this.batch((tx) => tx.updatePerson(id, patch, actor));
  }

  /** Removes one sample and erases its descriptor and crop. */
  removeSample(id: string, sampleId: string, actor?: string): Promise<Person> {
    return this.batch((tx) => tx.removeSample(id, sampleId, actor));
  }

  /**
   * Deletes a person and erases their data everywhere (erasure.ts for the NeDB store, the top of
   * pg/pg-store.ts for PostgreSQL). Resolves to true when the person existed or a pending erasure of
   * the id was finished, false when neither. Rejects with `EERASURE` (naming the step or the eraser
   * that failed) when the erasure could not finish: it stays pending, the person is no longer
   * matched, and the next delete of the id finishes it.
   */
  deletePerson(id: string, actor?: string): Promise<boolean> {
    return this.batch((tx) => tx.deletePerson(id, actor));
  }
}
