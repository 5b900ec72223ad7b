/**
 * What the modules that work on a whole store (transfer, reembed) may use of a FaceStore beyond
 * its public API. A store hands this to them and to nobody else; it is not exported from
 * lib/store's index.
 */
import type { AuditAction } from './audit';
import type { DescriptorIndex } from './descriptor-index';
import type { MetaDoc, PersonRecord } from './documents';
import type { FaceStoreEvents, SampleInfo, StoreTx } from './types';

export interface StoreInternals {
  /** The people in memory. Read only: change them in a batch, or with {@link replace}. */
  readonly people: ReadonlyMap<string, PersonRecord>;
  /** The current meta document. */
  meta(): MetaDoc;
  /** Throws `ESTORE_CLOSED` when the store is closed. */
  assertOpen(): void;
  /** {@link FaceStore.batch}. */
  batch<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T>;
  /** {@link FaceStore.imagePath}. */
  imagePath(sample: Pick<SampleInfo, 'image'>): string | null;
  /** Writes the meta document. Only inside a batch. */
  saveMeta(next: MetaDoc): Promise<void>;
  /** Writes a person's document and keeps the record. Only inside a batch; the index is not updated. */
  replace(next: PersonRecord): Promise<void>;
  /**
   * Runs `fn` as one unit of datafile writes: when it fails, its writes are undone on disk and in
   * NeDB, and the meta document, the index and (with `people`) the people in memory are put back.
   */
  unit<T>(fn: () => Promise<T>, opts?: { people?: boolean }): Promise<T>;
  /** Matches against this index from now on. */
  useIndex(index: DescriptorIndex): void;
  /** Compacts the datafile, so no appended line still holds replaced or erased data. */
  compact(): Promise<void>;
  /** Queues an audit entry (never pass descriptors); a failure becomes a process warning. */
  log(
    action: AuditAction,
    actor: string | undefined,
    p: { id?: string; name?: string },
    details?: Record<string, unknown>,
  ): void;
  /** Resolves when the queued audit entries are written. */
  flushAudit(): Promise<void>;
  /** Emits an event; a failing listener becomes a process warning. */
  emit<K extends keyof FaceStoreEvents>(event: K, ...args: FaceStoreEvents[K]): void;
}
