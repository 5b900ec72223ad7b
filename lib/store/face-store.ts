/**
 * FaceStore: the people FaceWatch knows, on NeDB (nedb-promises over @seald-io/nedb).
 *
 * One datafile per store holds one document per person (samples and their descriptors inside)
 * and one `#meta` document (id counter, model id). Beside it: face crops under the images folder,
 * rolling backups, an audit log and a lock file. See README "Face store" for the layout.
 *
 * Every change runs inside a batch: batches are serialised (one at a time, in call order), the
 * datafile is backed up before the first write of a batch, and erasures compact the datafile and
 * scrub the backups before the batch ends. A write that fails on disk is undone (datafile.ts).
 *
 * Beside this file, each with one job: load.ts (reading the datafile at open), lock.ts (one
 * process per store), matcher.ts (the index in memory and 1:N matching), changes.ts (enrolment,
 * samples, renames), erasure.ts (erasing a person everywhere, journalled), audit.ts (the audit
 * log), documents.ts (records in memory and their NeDB documents), crops.ts (the images folder),
 * backups.ts, transfer.ts (the JSON export format) and reembed.ts (moving to a new model). This
 * file opens and closes a store, answers its reads and runs its batches.
 */
import { StoreBase } from './store-base';
import { existsSync, statSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { AuditLog, type AuditAction } from './audit';
import { BackupSet } from './backups';
import { CropFolder } from './crops';
import { Datafile } from './datafile';
import { META_ID, newMeta, type MetaDoc } from './documents';
import { Changes } from './changes';
import { Erasures } from './erasure';
import { StoreError } from './errors';
import { errorCode, eventLogFile, messageOf, removeFile } from './files';
import type { ImportReport } from './report';
import type { StoreInternals } from './internals';
import { ErasureJournal, type PendingErasure } from './journal';
import { loadDatafile } from './load';
import { StoreLock } from './lock';
import { DEFAULT_MATCH_OPTIONS, type MatchOptions } from './match';
import { Matcher } from './matcher';
import { reembedStore, type ReembedCompute, type ReembedResult } from './reembed';
import { exportStore, importStore, type StoreExport, type TransferHost } from './transfer';

import type {
  FaceStoreEvents,
  OpenStore,
  PersonEraser,
  PersonInput,
  SampleInfo,
  SampleInput,
  StoreAvailability,
  StoreOptions,
  StoreTx,
} from './types';
import { STORE, STORE_OFFLOAD_ROWS } from '../types/defaults';

export type {
  FaceStoreEvents,
  OpenStore,
  PeopleStore,
  Person,
  PersonEraser,
  PersonInput,
  Sample,
  SampleInfo,
  SampleInput,
  StoreOptions,
  StoreTx,
} from './types';
export type { StoreExport } from './transfer';
export type { PendingErasure } from './journal';
export type { ReembedCompute, ReembedFailure, ReembedResult } from './reembed';

/** The file names of sample images the store writes (`newSampleId()` + `.jpg`); only such files are swept. */
const SAMPLE_IMAGE = /^[0-9a-f]{16}\.jpg$/;

/** The face store. Open with {@link FaceStore.open}; close with {@link FaceStore.close}. */
export class FaceStore extends StoreBase implements OpenStore {
  readonly backend = 'nedb';
  /** The datafile. */
  readonly file: string;
  readonly imagesDir: string;
  readonly auditFile: string;
  readonly lockFile: string;
  /** The erasure journal: `<datafile>.erasures.json`, present while an erasure is pending. */
  readonly journalFile: string;
  readonly defaults: MatchOptions;

  private readonly datafile: Datafile;
  protected readonly matcher: Matcher;
  private readonly erasures: Erasures;
  private readonly changes: Changes;
  private readonly crops: CropFolder;
  private readonly backups: BackupSet;
  private readonly audit: AuditLog;
  private readonly actor: string;
  private meta: MetaDoc = newMeta();
  private lock: StoreLock | null;
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;
  private readonly onExit = (): void => this.lock?.release();
  /** Handed to the modules that work on the whole store (transfer, reembed). */
  private readonly internals: StoreInternals = {
    people: this.people,
    meta: () => this.meta,
    assertOpen: () => this.assertOpen(),
    batch: (fn) => this.batch(fn),
    imagePath: (sample) => this.imagePath(sample),
    saveMeta: (next) => this.saveMeta(next),
    replace: (next) => this.changes.replace(next),
    unit: (fn, opts) => this.unit(fn, opts),
    useIndex: (index) => {
      this.matcher.index = index;
    },
    compact: () => this.datafile.compact(),
    log: (action, actor, p, details) => this.log(action, actor, p, details),
    flushAudit: () => this.audit.flush(),
    emit: (event, ...args) => this.emitSafe(event, ...args),
  };

  private constructor(
    opts: Required<Pick<StoreOptions, 'file' | 'imagesDir' | 'auditFile'>> & StoreOptions,
    datafile: Datafile,
    journal: ErasureJournal,
    lock: StoreLock | null,
  ) {
    super();
    this.file = opts.file;
    this.imagesDir = opts.imagesDir;
    this.crops = new CropFolder(opts.imagesDir);
    this.auditFile = opts.auditFile;
    this.lockFile = `${opts.file}.lock`;
    this.journalFile = journal.file;
    this.backups = new BackupSet(opts.file, opts.backups ?? STORE.backups.default);
    this.audit = new AuditLog(opts.auditFile);
    this.actor = opts.actor ?? 'unknown';
    this.defaults = { ...DEFAULT_MATCH_OPTIONS, ...opts.match };
    this.matcher = new Matcher(
      {
        file: this.file,
        person: (id) => this.people.get(id),
        model: () => ({ modelId: this.meta.modelId, dim: this.meta.dim }),
      },
      this.defaults,
      opts.offloadRows ?? STORE_OFFLOAD_ROWS,
    );
    this.datafile = datafile;
    // What the store's erasures and changes both work on.
    const parts = {
      file: this.file,
      datafile,
      crops: this.crops,
      backups: this.backups,
      people: this.people,
      matcher: this.matcher,
      log: this.log.bind(this),
      emit: this.emitSafe.bind(this),
    };
    this.erasures = new Erasures({ ...parts, journal, audit: this.audit });
    this.changes = new Changes({
      ...parts,
      erasures: this.erasures,
      meta: () => this.meta,
      saveMeta: (next) => this.saveMeta(next),
      unit: (fn, opts) => this.unit(fn, opts),
    });
    this.lock = lock;
    if (lock) process.on('exit', this.onExit);
  }

  /**
   * Opens (or creates) a store: takes the lock, sweeps the temporary files a crash or a failed
   * write left behind, loads the datafile, finishes the store's part of pending erasures, sweeps
   * face images that no sample names (an enrolment cut short) and builds the index.
   * Throws `ESTORE_LOCKED` when another live process holds the store, `ESTORE_CORRUPT` when a
   * line of the datafile cannot be read (the file is left untouched and the newest backup named),
   * `ESTORE_UNREADABLE` when the file or the erasure journal cannot be read at all and
   * `EERASURE` when a pending erasure cannot be finished. The erasers of pending erasures run
   * when their owner calls {@link finishPendingErasures}.
   */
  static async open(opts: StoreOptions): Promise<FaceStore> {
    const file = path.resolve(opts.file);
    const dir = path.dirname(file);
    const base = path.basename(file, path.extname(file));
    const full = {
      ...opts,
      file,
      imagesDir: path.resolve(opts.imagesDir ?? path.join(dir, base)),
      auditFile: path.resolve(opts.auditFile ?? path.join(dir, `${base}.audit.jsonl`)),
    };
    if (full.imagesDir === file)
      throw new StoreError('EINVALID_ID', 'the images folder cannot be the datafile itself');
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const lock =
      opts.lock === false
        ? null
        : StoreLock.acquire(`${file}.lock`, opts.owner ?? `process ${process.title}`, file);
    let store: FaceStore | undefined;
    try {
      if (existsSync(file) && !statSync(file).isFile()) {
        throw new StoreError('ESTORE_UNREADABLE', `face store ${file} is not a file`);
      }
      const journal = await ErasureJournal.open(`${file}.erasures.json`);
      store = new FaceStore(full, Datafile.create(file), journal, lock);
      await store.sweepTemporary(journal);
      await store.load();
      for (const e of journal.list()) {
        try {
          await store.erasures.eraseStorePart(e.id);
        } catch (err) {
          throw new StoreError(
            'EERASURE',
            `face store ${file} cannot open: the pending erasure of ${e.id} cannot be finished: ${messageOf(err)}`,
            { id: e.id, cause: messageOf(err) },
          );
        }
      }
      await store.sweepImages();
      return store;
    } catch (err) {
      if (store) process.removeListener('exit', store.onExit);
      lock?.release();
      throw err;
    }
  }

  /**
   * Removes what a crash or a failed write left half-written: backups' and the journal's and the
   * audit log's `.tmp` files, and NeDB's `<datafile>~` (only beside an existing datafile: without
   * one, NeDB recovers from it).
   */
  private async sweepTemporary(journal: ErasureJournal): Promise<void> {
    await this.backups.sweep();
    await journal.sweep();
    await this.audit.sweep();
    if (existsSync(this.file)) await removeFile(`${this.file}~`).catch(() => undefined);
  }

  /** Removes face images no sample names (an enrolment cut short, an erasure cut short) and `.tmp` files. */
  private async sweepImages(): Promise<void> {
    const named = new Set<string>();
    for (const p of this.people.values()) for (const s of p.samples) if (s.image) named.add(s.image);
    await this.crops.sweep({
      names: SAMPLE_IMAGE,
      keep: (key, name) => named.has(`${key}/${name}`),
    });
  }

  /** Reads the datafile into memory (lib/store/load.ts): the people, the meta document, the index. */
  private async load(): Promise<void> {
    const loaded = await loadDatafile(this.file, this.datafile, this.backups);
    if (loaded.meta) this.meta = loaded.meta;
    for (const p of loaded.people) this.people.set(p.id, p);
    if (loaded.index) this.matcher.index = loaded.index;
  }

  /** The id of the model whose descriptors the store holds; null until the first sample. */
  get modelId(): string | null {
    return this.meta.modelId;
  }

  /** Descriptor length of the store's model; null until the first sample. */
  get dim(): number | null {
    return this.meta.dim;
  }

  /** The descriptors of one person's samples (copies), e.g. for a re-check after enrolment. */
  descriptors(id: string): Float32Array[] {
    return this.people.get(id)?.samples.map((s) => s.descriptor.slice()) ?? [];
  }

  /** Absolute path of a sample's crop, or null. */
  imagePath(sample: Pick<SampleInfo, 'image'>): string | null {
    return sample.image ? this.crops.resolve(sample.image) : null;
  }

  /** The datafile. */
  get location(): string {
    return this.file;
  }

  /** `<dir>/<base>-events/events.db` beside the datafile. */
  get eventsFile(): string {
    return eventLogFile(this.file);
  }

  /** A sample's face crop, read from the images folder; undefined when there is none. */
  async sampleImage(personId: string, sampleId: string): Promise<Buffer | undefined> {
    const sample = this.getPerson(personId)?.samples.find((s) => s.id === sampleId);
    const file = sample && this.imagePath(sample);
    return file ? readFile(file).catch(() => undefined) : undefined;
  }

  /** A datafile is always there. */
  availability(): StoreAvailability {
    return { down: null };
  }

  /** Newest first. */
  listBackups(): Promise<Array<{ file: string; mtime: Date; size: number }>> {
    return this.backups.list();
  }

  // ---------------------------------------------------------------- changes

  /**
   * Runs `fn` as one batch: after every earlier batch, with one backup taken before its first
   * write. Use it to make several changes that belong together (enrolment checks and writes,
   * imports) without another registration slipping in between.
   */
  batch<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T> {
    // A closed store rejects, like every other failure of a change: callers only handle the promise.
    if (this.closed)
      return Promise.reject(new StoreError('ESTORE_CLOSED', `face store ${this.file} is closed`));
    const run = async (): Promise<T> => {
      this.assertOpen();
      let backedUp = false;
      const before = async (): Promise<void> => {
        if (!backedUp) {
          backedUp = true;
          try {
            await this.backups.rotate();
          } catch (err) {
            throw new StoreError(
              'EWRITE',
              `face store ${this.file}: ${messageOf(err)}; nothing was changed`,
              {
                errno: errorCode((err as Error).cause),
              },
            );
          }
        }
      };
      let open = true;
      // An erasure takes no backup first: the backups are scrubbed of the person anyway, and on a
      // full disk the copy would stop the erasure.
      const guard =
        <A extends unknown[], R>(f: (...a: A) => Promise<R>, backup = true) =>
        async (...a: A): Promise<R> => {
          if (!open) throw new Error('a store transaction was used after its batch ended');
          this.assertOpen();
          if (backup) await before();
          return f(...a);
        };
      const tx: StoreTx = {
        addPerson: guard((input: PersonInput, sample?: SampleInput, actor?: string) =>
          this.changes.addPerson(input, sample, actor),
        ),
        addSample: guard((id: string, sample: SampleInput, actor?: string) =>
          this.changes.addSample(id, sample, actor),
        ),
        updatePerson: guard(
          (id: string, patch: { name?: string; metadata?: Record<string, unknown> }, actor?: string) =>
            this.changes.updatePerson(id, patch, actor),
        ),
        removeSample: guard((id: string, sampleId: string, actor?: string) =>
          this.changes.removeSample(id, sampleId, actor),
        ),
        deletePerson: guard((id: string, actor?: string) => this.erasures.deletePerson(id, actor), false),
      };
      try {
        return await fn(tx);
      } finally {
        open = false;
        await this.audit.flush();
      }
    };
    const result = this.queue.then(run);
    this.queue = result.catch(() => undefined);
    return result;
  }

  /**
   * Registers something that keeps copies of people's data, to be erased with them (see
   * {@link PersonEraser}). A later registration under the same name replaces the earlier one.
   * Returns the function that removes it.
   */
  addEraser(name: string, eraser: PersonEraser): () => void {
    return this.erasures.addEraser(name, eraser);
  }

  /** The erasures recorded and not finished (copies), oldest first. */
  pendingErasures(): PendingErasure[] {
    return this.erasures.pending();
  }

  /**
   * Finishes every pending erasure (after a crash, a full disk or a failing eraser): call it
   * after registering the erasers. Resolves to the ids finished; rejects with `EERASURE` when
   * one could not be finished (its entry is kept; the others are finished).
   */
  finishPendingErasures(actor?: string): Promise<string[]> {
    return this.batch(() => this.erasures.finishPending(actor));
  }

  protected assertOpen(): void {
    if (this.closed) throw new StoreError('ESTORE_CLOSED', `face store ${this.file} is closed`);
  }

  private emitSafe<K extends keyof FaceStoreEvents>(event: K, ...args: FaceStoreEvents[K]): void {
    try {
      (this.emit as (e: K, ...a: FaceStoreEvents[K]) => boolean)(event, ...args);
    } catch (err) {
      // A failing listener must not undo or break a change that is already on disk.
      process.emitWarning(`face store listener for ${event} failed: ${(err as Error).message}`);
    }
  }

  private log(
    action: AuditAction,
    actor: string | undefined,
    p: { id?: string; name?: string },
    details?: Record<string, unknown>,
  ): void {
    this.audit
      .write({ action, id: p.id, name: p.name, actor: actor ?? this.actor, ...(details ? { details } : {}) })
      .catch((err: Error) => process.emitWarning(`face store audit log ${this.auditFile}: ${err.message}`));
  }

  private async saveMeta(next: MetaDoc): Promise<void> {
    await this.datafile.update(META_ID, next, true);
    this.meta = next;
  }

  /**
   * Runs `fn` as one unit of datafile writes: when it fails, its writes are undone in NeDB and on
   * disk (datafile.ts), and the meta document, the index and (with `people`) the people in
   * memory are put back as they were.
   */
  private async unit<T>(fn: () => Promise<T>, opts: { people?: boolean } = {}): Promise<T> {
    const meta = this.meta;
    const index = this.matcher.index;
    const people = opts.people ? new Map(this.people) : null;
    try {
      return await this.datafile.unit(fn);
    } catch (err) {
      this.meta = meta;
      this.matcher.index = index;
      if (people) {
        this.people.clear();
        for (const [id, p] of people) this.people.set(id, p);
      }
      throw err;
    }
  }

  // ---------------------------------------------------------------- whole store: transfer.ts, reembed.ts

  /** The whole store as JSON (descriptors and model id included; crops as base64 unless `images: false`). */
  exportJson(opts: { images?: boolean; actor?: string } = {}): Promise<StoreExport> {
    return exportStore(this.transfer(), opts);
  }

  /** What transfer.ts needs: the internals, crops read from the images folder. */
  private transfer(): TransferHost {
    const i = this.internals;
    return {
      people: i.people,
      meta: () => i.meta(),
      assertOpen: () => i.assertOpen(),
      batch: (fn) => i.batch(fn),
      sampleImage: (personId, sampleId) => this.sampleImage(personId, sampleId),
      raiseNextId: (nextId) => i.saveMeta({ ...i.meta(), nextId }),
      log: (action, actor, p, details) => i.log(action, actor, p, details),
      flushAudit: () => i.flushAudit(),
      // The log's read waits for the entries queued before it.
      readAudit: () => this.audit.read(),
      writeAudit: async (entries) => {
        for (const e of entries) await this.audit.write(e);
      },
    };
  }

  /**
   * Imports an export made by {@link exportJson}. A person whose id exists is reported as a
   * duplicate and left as it is; a sample of another model refuses its person (nothing of that
   * person is written). One batch, one backup.
   */
  importJson(data: unknown, actor?: string): Promise<ImportReport> {
    return importStore(this.transfer(), data, actor);
  }

  /**
   * Recomputes every sample's descriptor from its stored crop with `compute` (normally a new
   * model) and moves the store to the new model id. All or nothing: when a sample has no crop or
   * `compute` finds no face, nothing changes and the failures are listed, unless `dropFailed`,
   * which removes those samples (erased like {@link removeSample}).
   */
  reembed(
    compute: ReembedCompute,
    opts: { dropFailed?: boolean; actor?: string } = {},
  ): Promise<ReembedResult> {
    return reembedStore(this.internals, compute, opts);
  }

  /** Appends an entry to the audit log (used by bulk imports and the CLI); never pass descriptors. */
  async recordAudit(action: AuditAction, details: Record<string, unknown>, actor?: string): Promise<void> {
    this.log(action, actor, {}, details);
    await this.audit.flush();
  }

  /** Waits for pending changes, stops the search worker and releases the lock. */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.queue;
    this.closed = true;
    await this.audit.flush();
    await this.matcher.close();
    this.lock?.release();
    this.lock = null;
    process.removeListener('exit', this.onExit);
  }
}
