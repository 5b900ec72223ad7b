/**
 * The erasure of a person from a store and from every room that keeps copies of their data.
 *
 * An erasure is recorded in the erasure journal (journal.ts) before any of it is done, then done
 * in this order: the store's part (the person leaves matching at once; backups scrubbed, or
 * removed when they cannot be; the document removed and the datafile compacted; the images
 * deleted), the erasers other rooms registered ({@link Erasures.addEraser}), the person's name
 * scrubbed from the audit log, the events; only then the journal entry is removed. Every step is
 * idempotent: an erasure that fails part-way stays recorded and is finished by the next delete of
 * the same id, and its store part by the next open. On a full disk the oldest backups are removed
 * to make room (losing a backup beats keeping data that should be erased).
 *
 * The face store runs these inside its batches (one change at a time); this module does not
 * queue anything itself.
 */
import type { AuditAction, AuditLog } from './audit';
import type { BackupSet } from './backups';
import { sanitiseId } from './codec';
import type { CropFolder } from './crops';
import { EraserSet } from './erasers';
import type { Datafile } from './datafile';
import { eventSample, mentionsPerson, publicPerson, withoutPerson, type PersonRecord } from './documents';
import { StoreError } from './errors';
import { errorCode, isNoSpace, messageOf } from './files';
import type { ErasureJournal, PendingErasure } from './journal';
import type { Matcher } from './matcher';
import type { FaceStoreEvents, Person, PersonEraser } from './types';

/** The parts of a store an erasure works on. */
export interface ErasureContext {
  /** The datafile (named in warnings). */
  readonly file: string;
  readonly journal: ErasureJournal;
  readonly backups: BackupSet;
  readonly audit: AuditLog;
  readonly crops: CropFolder;
  readonly datafile: Datafile;
  /** The people in memory: an erased person leaves it at once. */
  readonly people: Map<string, PersonRecord>;
  readonly matcher: Matcher;
  /** Queues an audit entry. */
  log(
    action: AuditAction,
    actor: string | undefined,
    p: { id?: string },
    details?: Record<string, unknown>,
  ): void;
  /** Emits a store event; a failing listener becomes a process warning. */
  emit<K extends keyof FaceStoreEvents>(event: K, ...args: FaceStoreEvents[K]): void;
}

export class Erasures {
  private readonly erasers = new EraserSet();
  /** People whose erasure has started in this process, as they were (for the events). */
  private readonly erasing = new Map<string, PersonRecord>();
  /** Ids whose store part of a pending erasure is done since the store opened. */
  private readonly storeErased = new Set<string>();

  constructor(private readonly store: ErasureContext) {}

  /** Registers something that keeps copies of people's data, to be erased with them ({@link EraserSet.add}). */
  addEraser(name: string, eraser: PersonEraser): () => void {
    return this.erasers.add(name, eraser);
  }

  /** The erasures recorded and not finished (copies), oldest first. */
  pending(): PendingErasure[] {
    return this.store.journal.list();
  }

  /** The pending erasure of an id, if any (its id is not to be used again until it finishes). */
  pendingOf(id: string): PendingErasure | undefined {
    return this.store.journal.get(id);
  }

  /**
   * Erases a person, or finishes the pending erasure of the id. Resolves to false when there was
   * neither (the backups, datafile and images are scrubbed of the id anyway).
   */
  async deletePerson(rawId: string, actor?: string): Promise<boolean> {
    const id = sanitiseId(rawId);
    const p = this.store.people.get(id);
    let entry = this.store.journal.get(id);
    if (!p && !entry) {
      // Nothing to erase; scrub what an erasure cut short by an earlier version may have left.
      await this.scrubStore(id);
      return false;
    }
    if (!entry) {
      entry = { id, name: p!.name, since: new Date().toISOString() };
      const recorded = entry;
      try {
        await this.withRoom(() => this.store.journal.add(recorded));
      } catch (err) {
        throw new StoreError(
          'EERASURE',
          `the erasure of ${id} could not be recorded in ${this.store.journal.file}: ${messageOf(err)}; nothing was erased`,
          { id, errno: errorCode(err) },
        );
      }
    }
    await this.finish(entry, actor);
    return true;
  }

  /**
   * Finishes every pending erasure. Resolves to the ids finished; rejects with `EERASURE` when
   * one could not be finished (its entry is kept; the others are finished).
   */
  async finishPending(actor?: string): Promise<string[]> {
    const finished: string[] = [];
    const failed: Error[] = [];
    for (const entry of this.store.journal.list()) {
      try {
        await this.finish(entry, actor);
        finished.push(entry.id);
      } catch (err) {
        failed.push(err as Error);
      }
    }
    if (failed.length === 1) throw failed[0];
    if (failed.length > 1) {
      throw new StoreError(
        'EERASURE',
        `${failed.length} erasures are not finished: ${failed.map((e) => e.message).join(' | ')}`,
        { finished },
      );
    }
    return finished;
  }

  /**
   * The store's part of an erasure: the person leaves matching at once, then backups, datafile
   * and images are scrubbed. Done once per open for a pending erasure.
   */
  async eraseStorePart(id: string): Promise<void> {
    if (this.storeErased.has(id)) return;
    const p = this.store.people.get(id);
    if (p) {
      this.store.people.delete(id);
      this.store.matcher.index?.removePerson(id);
      this.erasing.set(id, p);
    }
    await this.scrubStore(id);
    this.storeErased.add(id);
  }

  /** Runs every step of a recorded erasure (each is idempotent). */
  private async finish(entry: PendingErasure, actor?: string): Promise<void> {
    const { id, name } = entry;
    const { journal } = this.store;
    let step = "the face store's files";
    try {
      await this.eraseStorePart(id);
      step = 'the erasers';
      await this.runErasers(entry);
      step = 'the audit log';
      await this.withRoom(() => this.store.audit.scrubPerson(id, name));
    } catch (err) {
      throw new StoreError(
        'EERASURE',
        `the erasure of ${id} is not finished (${step}): ${messageOf(err)}. ` +
          `It stays recorded in ${journal.file} and is finished by deleting ${id} again or at the next start.`,
        { id, step, errno: errorCode(err) ?? (err as StoreError).details?.errno },
      );
    }
    const rec = this.erasing.get(id);
    this.store.log('delete', actor, { id }, rec ? { samples: rec.samples.length } : undefined);
    const person: Person = rec
      ? publicPerson(rec)
      : { id, name, metadata: {}, samples: [], createdAt: entry.since, updatedAt: entry.since };
    if (rec)
      for (const s of rec.samples) this.store.emit('sample-removed', { person, sample: eventSample(s) });
    this.store.emit('person-deleted', person);
    try {
      await this.withRoom(() => journal.remove(id));
    } catch (err) {
      throw new StoreError(
        'EERASURE',
        `${id} is erased, but its entry in the erasure journal ${journal.file} could not be removed (${messageOf(err)}); ` +
          `the erasure runs again at the next delete of ${id} or the next start`,
        { id, step: 'the journal', errno: errorCode(err) },
      );
    }
    this.erasing.delete(id);
    this.storeErased.delete(id);
    if (rec) for (const s of rec.samples) s.descriptor.fill(0);
  }

  /**
   * Removes an id from the backups, the datafile and the images folder. Backups first: one that
   * cannot be rewritten is removed, which also makes room on a full disk for the compaction.
   */
  private async scrubStore(id: string): Promise<void> {
    const { backups, datafile, crops } = this.store;
    await backups.rewriteAll(withoutPerson(id), mentionsPerson(id));
    if (datafile.has(id)) await this.withRoom(() => datafile.remove(id));
    await this.withRoom(() => datafile.compact());
    await crops.removeKey(id);
  }

  /** Runs every registered eraser; rejects naming each one that failed (after running them all). */
  private async runErasers(entry: PendingErasure): Promise<void> {
    const failed = await this.erasers.run(entry);
    if (failed.length) throw new StoreError('EERASURE', failed.join('; '), { id: entry.id });
  }

  /**
   * Runs a step of an erasure; on a full disk, removes the oldest backup and tries again, until no
   * backup is left.
   */
  private async withRoom<T>(fn: () => Promise<T>): Promise<T> {
    for (;;) {
      try {
        return await fn();
      } catch (err) {
        const errno = errorCode(err) ?? (err as StoreError).details?.errno;
        if (!isNoSpace({ code: errno })) throw err;
        const dropped = await this.store.backups.dropOldest().catch(() => null);
        if (!dropped) throw err;
        process.emitWarning(
          `face store ${this.store.file}: the disk is full; backup ${dropped} was removed to make room for an erasure`,
        );
      }
    }
  }
}
