/**
 * The store's NeDB datafile (nedb-promises over @seald-io/nedb), with failed writes undone.
 *
 * NeDB changes its in-memory copy first and appends the change to the file after: a write that
 * fails on disk (a full disk, no permission) stays in memory and would become real at the next
 * compaction, which writes memory to disk; a partly appended line would make the file unreadable
 * at the next start. Here every write belongs to a unit (one write, or several that belong
 * together, see {@link Datafile.unit}); when a unit fails, the documents it changed are put back
 * in NeDB's memory as they were and the file is cut back to its length before the unit (or,
 * after a compaction inside the unit, compacted again from the restored memory), so memory equals
 * disk, and the caller's promise rejects with `EWRITE`.
 */
import { stat, truncate } from 'node:fs/promises';
import Datastore from 'nedb-promises';
import type { RawDoc } from './backups';
import { StoreError } from './errors';
import { errorCode, messageOf, removeFile } from './files';

/** A query's results as NeDB's cursor gives them: sorted, skipped and limited, or all. */
export type Cursor<D> = {
  sort(s: object): { skip(n: number): { limit(n: number): Promise<D[]> } };
} & Promise<D[]>;

/** The part of nedb-promises' Datastore the store uses. */
interface DatastoreLike {
  load(): Promise<void>;
  find(q: object): Cursor<RawDoc>;
  count(q: object): Promise<number>;
  insert(doc: object): Promise<unknown>;
  update(q: object, doc: object, opts?: object): Promise<unknown>;
  remove(q: object, opts?: object): Promise<number>;
  compactDatafileAsync(): Promise<void>;
}

/**
 * The @seald-io/nedb internals an undo needs: its cached documents by `_id` and the functions
 * that add a document to, or remove one from, every index (the cache). Checked when a datafile
 * is opened, so an upgrade of NeDB that changes them fails at once, not at the first full disk.
 */
interface NedbCache {
  indexes: { _id: { getMatching(value: unknown): object[] } };
  _addToIndexes(doc: object): void;
  _removeFromIndexes(doc: object): void;
}

function cacheOf(db: unknown): NedbCache {
  const raw = (db as { __original?: Partial<NedbCache> }).__original;
  if (
    !raw ||
    typeof raw._addToIndexes !== 'function' ||
    typeof raw._removeFromIndexes !== 'function' ||
    typeof raw.indexes?._id?.getMatching !== 'function'
  ) {
    throw new Error(
      'this version of @seald-io/nedb does not expose the cache FaceWatch uses to undo a failed write; install the version package.json names',
    );
  }
  return raw as NedbCache;
}

/** One unit of writes: what it changed in memory and the file as it was before. */
interface Unit {
  /** The cached document of each id before its first change in this unit (null: none). */
  before: Map<string, object | null>;
  /** Length and inode of the file before the unit; null when it did not exist. */
  file: { size: number; ino: number } | null;
}

/** What a datafile holds, for its messages, and how strict its loading is. */
export interface DatafileOptions {
  /** Named in every message: `face store` (default), `detection log`. */
  label?: string;
  /**
   * Share of lines that may be unreadable at load (NeDB's corruptAlertThreshold): 0 (default) for
   * the face store, where nothing may be dropped silently.
   */
  corruptAlertThreshold?: number;
}

/** The NeDB datafile of one store (or of a store's detection log). */
export class Datafile {
  private unitNow: Unit | null = null;
  /** Why the file may differ from memory after a failed undo; writes repair it first. */
  private damaged: string | null = null;

  private constructor(
    readonly file: string,
    private readonly db: DatastoreLike,
    private readonly cache: NedbCache,
    private readonly label: string,
  ) {}

  /** A datafile (not loaded yet): mode 0600, folder 0700, by default no line may be corrupt. */
  static create(file: string, options: DatafileOptions = {}): Datafile {
    const db = Datastore.create({
      filename: file,
      autoload: false,
      corruptAlertThreshold: options.corruptAlertThreshold ?? 0,
      // Biometric data: readable by the owner only.
      modes: { fileMode: 0o600, dirMode: 0o700 },
    } as Parameters<typeof Datastore.create>[0]) as unknown as DatastoreLike;
    return new Datafile(file, db, cacheOf(db), options.label ?? 'face store');
  }

  /** Loads the file (NeDB rewrites it compacted). */
  load(): Promise<void> {
    return this.db.load();
  }

  /** Every document in memory. */
  all(): Promise<RawDoc[]> {
    return this.db.find({});
  }

  /** The documents matching a NeDB query, as a cursor (sort, skip, limit). Reads only. */
  find<D = RawDoc>(q: object): Cursor<D> {
    return this.db.find(q) as unknown as Cursor<D>;
  }

  /** How many documents match a NeDB query. */
  count(q: object): Promise<number> {
    return this.db.count(q);
  }

  /** Whether NeDB holds a document with this id. */
  has(id: string): boolean {
    return this.cache.indexes._id.getMatching(id).length > 0;
  }

  /** Inserts a document. */
  insert(doc: { _id: string }): Promise<void> {
    return this.write(doc._id, () => this.db.insert(doc));
  }

  /** Replaces the document `id` (or inserts it, with `upsert`). */
  update(id: string, doc: object, upsert = false): Promise<void> {
    return this.write(id, () => this.db.update({ _id: id }, doc, upsert ? { upsert: true } : {}));
  }

  /** Removes the document `id` (its old lines stay in the file until the next compaction). */
  remove(id: string): Promise<void> {
    return this.write(id, () => this.db.remove({ _id: id }));
  }

  /**
   * Rewrites the file from memory, so no appended line still holds replaced or removed data.
   * A compaction that fails leaves the file as it was (NeDB writes `<file>~` and renames it);
   * its partial `<file>~` is removed.
   */
  async compact(): Promise<void> {
    await this.repair();
    try {
      await this.db.compactDatafileAsync();
    } catch (err) {
      await removeFile(`${this.file}~`).catch(() => undefined);
      throw new StoreError('EWRITE', `${this.label} ${this.file} could not be compacted: ${messageOf(err)}`, {
        file: this.file,
        cause: messageOf(err),
        errno: errorCode(err),
      });
    }
  }

  /**
   * Runs `fn` as one unit of writes: when it rejects, every write it made is undone in memory
   * and on disk (see the module comment) and the rejection is passed on (`EWRITE` for a failed
   * write). A unit inside a unit belongs to the outer one.
   */
  async unit<T>(fn: () => Promise<T>): Promise<T> {
    if (this.unitNow) return fn();
    await this.repair();
    const unit: Unit = { before: new Map(), file: await this.fileState() };
    this.unitNow = unit;
    try {
      return await fn();
    } catch (err) {
      throw await this.rollback(unit, err);
    } finally {
      this.unitNow = null;
    }
  }

  private async write(id: string, op: () => Promise<unknown>): Promise<void> {
    const unit = this.unitNow;
    if (!unit) return this.unit(() => this.write(id, op));
    if (!unit.before.has(id)) unit.before.set(id, this.cache.indexes._id.getMatching(id)[0] ?? null);
    try {
      await op();
    } catch (err) {
      throw new StoreError('EWRITE', `${this.label} ${this.file} could not be written: ${messageOf(err)}`, {
        file: this.file,
        cause: messageOf(err),
        errno: errorCode(err),
      });
    }
  }

  private async fileState(): Promise<Unit['file']> {
    try {
      const s = await stat(this.file);
      return { size: s.size, ino: s.ino };
    } catch {
      return null;
    }
  }

  /** Undoes a unit; resolves to the error to throw. */
  private async rollback(unit: Unit, err: unknown): Promise<unknown> {
    // Memory first: it cannot fail, and it is what the store answers from.
    for (const [id, before] of [...unit.before].reverse()) {
      for (const doc of [...this.cache.indexes._id.getMatching(id)]) this.cache._removeFromIndexes(doc);
      if (before) this.cache._addToIndexes(before);
    }
    if (unit.before.size === 0) return err;
    try {
      const now = await this.fileState();
      if (unit.file && now && now.ino === unit.file.ino) {
        // Only appended: cut the file back, a partly written line included.
        if (now.size !== unit.file.size) await truncate(this.file, unit.file.size);
      } else {
        // Compacted inside the unit (a new file): write the restored memory over it.
        await this.db.compactDatafileAsync();
      }
    } catch (undoErr) {
      await removeFile(`${this.file}~`).catch(() => undefined);
      this.damaged = messageOf(undoErr);
      const message = `${messageOf(err)}; the change was undone in memory, but the file could not be restored (${this.damaged}): it is rewritten before the next change`;
      return err instanceof StoreError
        ? new StoreError(err.code, message, err.details)
        : new StoreError('EWRITE', message, { file: this.file });
    }
    return err;
  }

  /** After a failed undo: rewrites the file from memory before anything else is written. */
  private async repair(): Promise<void> {
    if (!this.damaged) return;
    try {
      await this.db.compactDatafileAsync();
      this.damaged = null;
    } catch (err) {
      await removeFile(`${this.file}~`).catch(() => undefined);
      throw new StoreError(
        'EWRITE',
        `${this.label} ${this.file} cannot be written: after an earlier failed write it could not be restored (${this.damaged}), and rewriting it failed too (${messageOf(err)})`,
        { file: this.file },
      );
    }
  }
}
