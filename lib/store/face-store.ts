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
 * An erasure is recorded in the erasure journal (journal.ts) before any of it is done, then done
 * in this order: the store's part (the person leaves matching at once; backups scrubbed, or
 * removed when they cannot be; the document removed and the datafile compacted; the images
 * deleted), the erasers other rooms registered ({@link FaceStore.addEraser}), the person's name
 * scrubbed from the audit log, the events; only then the journal entry is removed. An erasure
 * that fails part-way stays recorded and is finished by the next delete of the same id, and its
 * store part by the next open.
 *
 * Beside this file: documents.ts (records in memory and their NeDB documents), crops.ts (the
 * images folder), transfer.ts (the JSON export format) and reembed.ts (moving to a new model).
 */
import { EventEmitter } from 'node:events';
import { existsSync, statSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { FaceMatch } from '../types';
import { AuditLog, type AuditAction } from './audit';
import { BackupSet } from './backups';
import {
  formatGeneratedId,
  generatedIdNumber,
  sanitiseId,
  sanitiseMetadata,
  sanitiseName,
  toDescriptor,
} from './codec';
import { CropFolder } from './crops';
import { Datafile } from './datafile';
import { DescriptorIndex, type IndexHit } from './descriptor-index';
import {
  eventSample,
  mentionsPerson,
  META_ID,
  newMeta,
  newSampleId,
  publicPerson,
  toDoc,
  withoutPerson,
  withoutSample,
  type MetaDoc,
  type PersonRecord,
  type SampleRecord,
} from './documents';
import { StoreError } from './errors';
import { errorCode, isNoSpace, messageOf, removeFile } from './files';
import type { ImportReport } from './report';
import type { StoreInternals } from './internals';
import { ErasureJournal, type PendingErasure } from './journal';
import { loadDatafile } from './load';
import { StoreLock } from './lock';
import { decideMatch, DEFAULT_MATCH_OPTIONS, type MatchOptions } from './match';
import { reembedStore, type ReembedCompute, type ReembedResult } from './reembed';
import { SearchWorker } from './search-worker';
import { exportStore, importStore, type StoreExport } from './transfer';

import type {
  FaceStoreEvents,
  Person,
  PersonEraser,
  PersonInput,
  SampleInfo,
  SampleInput,
  StoreOptions,
  StoreTx,
} from './types';
import { STORE, STORE_OFFLOAD_ROWS } from '../types/defaults';
import { quoteValue } from '../shared/quote';

export type {
  FaceStoreEvents,
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
export class FaceStore extends EventEmitter<FaceStoreEvents> {
  /** The datafile. */
  readonly file: string;
  readonly imagesDir: string;
  readonly auditFile: string;
  readonly lockFile: string;
  /** The erasure journal: `<datafile>.erasures.json`, present while an erasure is pending. */
  readonly journalFile: string;
  readonly defaults: MatchOptions;

  private readonly datafile: Datafile;
  private readonly journal: ErasureJournal;
  /** Registered erasers, by name, in registration order. */
  private readonly erasers = new Map<string, PersonEraser>();
  /** People whose erasure has started in this process, as they were (for the events). */
  private readonly erasing = new Map<string, PersonRecord>();
  /** Ids whose store part of a pending erasure is done since the store opened. */
  private readonly storeErased = new Set<string>();
  private readonly crops: CropFolder;
  private readonly backups: BackupSet;
  private readonly audit: AuditLog;
  private readonly actor: string;
  private readonly people = new Map<string, PersonRecord>();
  private meta: MetaDoc = newMeta();
  private index: DescriptorIndex | null = null;
  private lock: StoreLock | null;
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;
  private readonly offloadRows: number;
  private worker: SearchWorker | null = null;
  private readonly onExit = (): void => this.lock?.release();
  /** Handed to the modules that work on the whole store (transfer, reembed). */
  private readonly internals: StoreInternals = {
    people: this.people,
    meta: () => this.meta,
    assertOpen: () => this.assertOpen(),
    batch: (fn) => this.batch(fn),
    imagePath: (sample) => this.imagePath(sample),
    saveMeta: (next) => this.saveMeta(next),
    replace: (next) => this.replace(next),
    unit: (fn, opts) => this.unit(fn, opts),
    useIndex: (index) => {
      this.index = index;
    },
    compact: () => this.compact(),
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
    this.offloadRows = opts.offloadRows ?? STORE_OFFLOAD_ROWS;
    this.datafile = datafile;
    this.journal = journal;
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
      await store.sweepTemporary();
      await store.load();
      for (const e of journal.list()) {
        try {
          await store.eraseStorePart(e.id);
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
  private async sweepTemporary(): Promise<void> {
    await this.backups.sweep();
    await this.journal.sweep();
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
    if (loaded.index) this.index = loaded.index;
  }

  /** The id of the model whose descriptors the store holds; null until the first sample. */
  get modelId(): string | null {
    return this.meta.modelId;
  }

  /** Descriptor length of the store's model; null until the first sample. */
  get dim(): number | null {
    return this.meta.dim;
  }

  /** Number of people. */
  size(): number {
    return this.people.size;
  }

  /** Number of samples in the matching index. */
  samples(): number {
    return this.index?.rows ?? 0;
  }

  getPerson(id: string): Person | undefined {
    const p = this.people.get(id);
    return p && publicPerson(p);
  }

  listPeople(): Person[] {
    return [...this.people.values()].map(publicPerson);
  }

  /** The descriptors of one person's samples (copies), e.g. for a re-check after enrolment. */
  descriptors(id: string): Float32Array[] {
    return this.people.get(id)?.samples.map((s) => s.descriptor.slice()) ?? [];
  }

  /** Absolute path of a sample's crop, or null. */
  imagePath(sample: Pick<SampleInfo, 'image'>): string | null {
    return sample.image ? this.crops.resolve(sample.image) : null;
  }

  /** Newest first. */
  listBackups(): Promise<Array<{ file: string; mtime: Date; size: number }>> {
    return this.backups.list();
  }

  // ---------------------------------------------------------------- matching

  private checkQuery(descriptor: ArrayLike<number>, modelId: string): Float32Array | null {
    if (this.meta.modelId && modelId !== this.meta.modelId) {
      throw new StoreError(
        'EMODEL_MISMATCH',
        `descriptor was made by model ${modelId}, but face store ${this.file} holds descriptors of model ${this.meta.modelId}; ` +
          'descriptors of different models cannot be compared (run `facewatch reembed` to move the store to the new model)',
        { modelId, storeModelId: this.meta.modelId },
      );
    }
    if (!this.index || this.index.rows === 0) return null;
    return toDescriptor(descriptor, this.meta.dim);
  }

  /**
   * 1:N search on the calling thread. A person's distance is the minimum over their samples.
   * Throws `EMODEL_MISMATCH` for a descriptor of another model. See {@link decideMatch} for how
   * `known`, `ambiguous` and `confidence` are derived.
   */
  match(descriptor: ArrayLike<number>, modelId: string, opts: Partial<MatchOptions> = {}): FaceMatch {
    this.assertOpen();
    const o = { ...this.defaults, ...opts };
    const q = this.checkQuery(descriptor, modelId);
    const hits = q && this.index ? this.index.search(q, Math.max(o.k, 2)) : [];
    return this.decide(hits, o);
  }

  /**
   * Same as {@link match}, but a store with at least `offloadRows` samples is searched in a
   * worker thread over shared memory, so the event loop stays free. Use this from nodes.
   */
  async matchAsync(
    descriptor: ArrayLike<number>,
    modelId: string,
    opts: Partial<MatchOptions> = {},
  ): Promise<FaceMatch> {
    this.assertOpen();
    const o = { ...this.defaults, ...opts };
    const q = this.checkQuery(descriptor, modelId);
    const index = this.index;
    if (!q || !index) return this.decide([], o);
    const k = Math.max(o.k, 2);
    if (this.offloadRows <= 0 || index.rows < this.offloadRows) return this.decide(index.search(q, k), o);
    this.worker ??= new SearchWorker();
    // A patch during the search may move rows or re-use a person slot: retry, then scan here.
    for (let attempt = 0; attempt < 3; attempt++) {
      const view = index.view();
      const res = await this.worker.search(view, q, k);
      if (this.closed) throw new StoreError('ESTORE_CLOSED', `face store ${this.file} is closed`);
      if (index === this.index && index.version === view.version)
        return this.decide(index.hits(res.slots, res.d2), o);
    }
    return this.decide(this.index ? this.index.search(q, k) : [], o);
  }

  private decide(hits: IndexHit[], o: MatchOptions): FaceMatch {
    return decideMatch(hits, o, (id) => {
      const p = this.people.get(id);
      return p ? { id: p.id, name: p.name, metadata: structuredClone(p.metadata) } : null;
    });
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
          if (backup) await before();
          return f(...a);
        };
      const tx: StoreTx = {
        addPerson: guard((input: PersonInput, sample?: SampleInput, actor?: string) =>
          this.txAddPerson(input, sample, actor),
        ),
        addSample: guard((id: string, sample: SampleInput, actor?: string) =>
          this.txAddSample(id, sample, actor),
        ),
        updatePerson: guard(
          (id: string, patch: { name?: string; metadata?: Record<string, unknown> }, actor?: string) =>
            this.txUpdatePerson(id, patch, actor),
        ),
        removeSample: guard((id: string, sampleId: string, actor?: string) =>
          this.txRemoveSample(id, sampleId, actor),
        ),
        deletePerson: guard((id: string, actor?: string) => this.txDeletePerson(id, actor), false),
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

  /** Adds a person, optionally with a first sample. Throws `EEXISTS` when the id is taken. */
  addPerson(input: PersonInput, sample?: SampleInput, actor?: string): Promise<Person> {
    return this.batch((tx) => tx.addPerson(input, sample, actor));
  }

  /** Adds a sample to a person. */
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

  /** Removes one sample and erases its descriptor and crop like {@link deletePerson} does. */
  removeSample(id: string, sampleId: string, actor?: string): Promise<Person> {
    return this.batch((tx) => tx.removeSample(id, sampleId, actor));
  }

  /**
   * Deletes a person and erases their data everywhere. The erasure is first recorded in the
   * erasure journal (durably); then the person leaves matching, every backup is rewritten
   * without them (or removed when it cannot be rewritten), their document is removed and the
   * datafile compacted (NeDB appends, so the old lines would otherwise stay), their image folder
   * is deleted, every registered eraser runs, their earlier audit lines lose their name and
   * details, `sample-removed` and `person-deleted` are emitted, and only then the journal entry
   * is removed. On a full disk the oldest backups are removed to make room.
   *
   * Resolves to true when the person existed or a pending erasure of the id was finished, false
   * when neither (the backups and images are scrubbed for the id either way). Rejects with
   * `EERASURE` (naming the step or the eraser that failed) when the erasure could not finish: it
   * stays pending, the person is no longer matched, and the next delete of the id (or, for the
   * store's own part, the next open) finishes it.
   */
  deletePerson(id: string, actor?: string): Promise<boolean> {
    return this.batch((tx) => tx.deletePerson(id, actor));
  }

  /**
   * Registers something that keeps copies of people's data, to be erased with them (see
   * {@link PersonEraser}). A later registration under the same name replaces the earlier one.
   * Returns the function that removes it.
   */
  addEraser(name: string, eraser: PersonEraser): () => void {
    if (typeof name !== 'string' || !name) throw new TypeError('an eraser needs a name');
    if (typeof eraser?.erasePerson !== 'function') throw new TypeError(`eraser ${name} has no erasePerson()`);
    this.erasers.set(name, eraser);
    return () => {
      if (this.erasers.get(name) === eraser) this.erasers.delete(name);
    };
  }

  /** The erasures recorded and not finished (copies), oldest first. */
  pendingErasures(): PendingErasure[] {
    return this.journal.list();
  }

  /**
   * Finishes every pending erasure (after a crash, a full disk or a failing eraser): call it
   * after registering the erasers. Resolves to the ids finished; rejects with `EERASURE` when
   * one could not be finished (its entry is kept; the others are finished).
   */
  finishPendingErasures(actor?: string): Promise<string[]> {
    return this.batch(async () => {
      const finished: string[] = [];
      const failed: Error[] = [];
      for (const entry of this.journal.list()) {
        try {
          await this.finishErasure(entry, actor);
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
    });
  }

  private assertOpen(): void {
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
    const index = this.index;
    const people = opts.people ? new Map(this.people) : null;
    try {
      return await this.datafile.unit(fn);
    } catch (err) {
      this.meta = meta;
      this.index = index;
      if (people) {
        this.people.clear();
        for (const [id, p] of people) this.people.set(id, p);
      }
      throw err;
    }
  }

  private async nextId(): Promise<string> {
    let n = this.meta.nextId;
    while (this.people.has(formatGeneratedId(n)) || this.journal.get(formatGeneratedId(n))) n++;
    await this.saveMeta({ ...this.meta, nextId: n + 1 });
    return formatGeneratedId(n);
  }

  /** Validates a sample against the store's model; adopts the model when the store has none. */
  private prepareSample(personId: string, input: SampleInput): { rec: SampleRecord; adoptModel: boolean } {
    if (!input || typeof input.modelId !== 'string' || !input.modelId) {
      throw new StoreError('EDESCRIPTOR', 'a sample needs the id of the model that computed its descriptor');
    }
    if (this.meta.modelId && input.modelId !== this.meta.modelId) {
      throw new StoreError(
        'EMODEL_MISMATCH',
        `descriptor was made by model ${input.modelId}, but face store ${this.file} holds descriptors of model ${this.meta.modelId}; ` +
          'refusing to mix them (run `facewatch reembed` to move the store to the new model)',
        { modelId: input.modelId, storeModelId: this.meta.modelId },
      );
    }
    const descriptor = toDescriptor(input.descriptor, this.meta.dim);
    const id = newSampleId();
    const rec: SampleRecord = {
      id,
      descriptor,
      modelId: input.modelId,
      image: input.crop ? this.crops.relative(personId, `${id}.jpg`) : null,
      source: typeof input.source === 'string' ? input.source.slice(0, 500) : '',
      time: input.time ?? new Date().toISOString(),
    };
    return { rec, adoptModel: !this.meta.modelId };
  }

  /** Writes a new sample's crop, when it has one. */
  private async writeImage(rec: SampleRecord, crop: Buffer | undefined): Promise<void> {
    const ref = rec.image && this.crops.parse(rec.image);
    if (!crop || !ref) return;
    try {
      await this.crops.write(ref.key, ref.name, crop);
    } catch (err) {
      throw new StoreError(
        'EWRITE',
        `face store ${this.file}: the face image could not be written: ${messageOf(err)}; nothing was changed`,
        { errno: errorCode(err) },
      );
    }
  }

  /** Deletes a sample's crop, and the person's folder when no other crop is left in it. */
  private async dropImage(rec: SampleRecord): Promise<void> {
    const ref = rec.image && this.crops.parse(rec.image);
    if (ref) await this.crops.remove(ref.key, ref.name);
  }

  private async adopt(rec: SampleRecord): Promise<void> {
    await this.saveMeta({ ...this.meta, modelId: rec.modelId, dim: rec.descriptor.length });
    if (!this.index || this.index.dim !== rec.descriptor.length)
      this.index = new DescriptorIndex(rec.descriptor.length);
  }

  private async txAddPerson(input: PersonInput, sample?: SampleInput, actor?: string): Promise<Person> {
    this.assertOpen();
    const name = sanitiseName(input?.name);
    const metadata = sanitiseMetadata(input?.metadata);
    const given =
      input.id !== undefined && input.id !== null && input.id !== '' ? sanitiseId(input.id) : null;
    if (given !== null) {
      if (this.people.has(given)) {
        throw new StoreError(
          'EEXISTS',
          `a person with id ${given} already exists (${this.people.get(given)?.name})`,
          { id: given },
        );
      }
      const pending = this.journal.get(given);
      if (pending) {
        throw new StoreError(
          'EEXISTS',
          `person ${given} is being erased (since ${pending.since}); delete ${given} again to finish the erasure before using the id again`,
          { id: given },
        );
      }
    }
    return this.unit(async () => {
      let id: string;
      if (given !== null) {
        id = given;
        const n = generatedIdNumber(id);
        // Generated ids skip ids users chose: never hand out this number later, even after a delete.
        if (n !== null && n >= this.meta.nextId) await this.saveMeta({ ...this.meta, nextId: n + 1 });
      } else {
        id = await this.nextId();
      }
      const prepared = sample ? this.prepareSample(id, sample) : null;
      const now = new Date().toISOString();
      const rec: PersonRecord = {
        id,
        name,
        metadata,
        samples: prepared ? [prepared.rec] : [],
        createdAt: now,
        updatedAt: now,
      };
      if (prepared) await this.writeImage(prepared.rec, sample?.crop);
      try {
        if (prepared?.adoptModel) await this.adopt(prepared.rec);
        await this.datafile.insert(toDoc(rec));
      } catch (err) {
        if (prepared) await this.dropImage(prepared.rec).catch(() => undefined);
        throw err;
      }
      this.people.set(id, rec);
      if (prepared) this.index?.add(id, prepared.rec.id, prepared.rec.descriptor);
      const person = publicPerson(rec);
      this.log('enrol', actor, rec, { samples: rec.samples.length, source: prepared?.rec.source });
      this.emitSafe('person-added', person);
      if (prepared) this.emitSafe('sample-added', { person, sample: eventSample(prepared.rec) });
      return person;
    });
  }

  private get(id: string): PersonRecord {
    const p = this.people.get(String(id));
    if (!p)
      throw new StoreError('ENOTFOUND', `no person with id ${String(id)} in face store ${this.file}`, { id });
    return p;
  }

  private async replace(next: PersonRecord): Promise<void> {
    await this.datafile.update(next.id, toDoc(next));
    this.people.set(next.id, next);
  }

  private async txAddSample(id: string, sample: SampleInput, actor?: string): Promise<Person> {
    this.assertOpen();
    const p = this.get(id);
    const { rec: s, adoptModel } = this.prepareSample(p.id, sample);
    await this.writeImage(s, sample.crop);
    const next: PersonRecord = { ...p, samples: [...p.samples, s], updatedAt: new Date().toISOString() };
    try {
      await this.unit(async () => {
        if (adoptModel) await this.adopt(s);
        await this.replace(next);
      });
    } catch (err) {
      await this.dropImage(s).catch(() => undefined);
      throw err;
    }
    this.index?.add(p.id, s.id, s.descriptor);
    const person = publicPerson(next);
    this.log('add-sample', actor, next, { samples: next.samples.length, source: s.source });
    this.emitSafe('sample-added', { person, sample: eventSample(s) });
    this.emitSafe('person-updated', person);
    return person;
  }

  private async txUpdatePerson(
    id: string,
    patch: { name?: string; metadata?: Record<string, unknown> },
    actor?: string,
  ): Promise<Person> {
    this.assertOpen();
    const p = this.get(id);
    const next: PersonRecord = {
      ...p,
      name: patch.name !== undefined ? sanitiseName(patch.name) : p.name,
      metadata: patch.metadata !== undefined ? sanitiseMetadata(patch.metadata) : p.metadata,
      updatedAt: new Date().toISOString(),
    };
    await this.unit(() => this.replace(next));
    const person = publicPerson(next);
    const changed = [
      patch.name !== undefined ? 'name' : '',
      patch.metadata !== undefined ? 'metadata' : '',
    ].filter(Boolean);
    this.log('update', actor, next, { changed, ...(next.name !== p.name ? { previousName: p.name } : {}) });
    this.emitSafe('person-updated', person);
    return person;
  }

  /** Compacts the datafile so no appended line still holds erased data. */
  private async compact(): Promise<void> {
    await this.datafile.compact();
  }

  private async txRemoveSample(id: string, sampleId: string, actor?: string): Promise<Person> {
    this.assertOpen();
    const p = this.get(id);
    const s = p.samples.find((x) => x.id === sampleId);
    if (!s)
      throw new StoreError('ENOTFOUND', `person ${id} has no sample ${quoteValue(sampleId)}`, {
        id,
        sampleId,
      });
    const next: PersonRecord = {
      ...p,
      samples: p.samples.filter((x) => x !== s),
      updatedAt: new Date().toISOString(),
    };
    // Backups first: one that cannot be rewritten is removed, which also makes room on a full disk.
    await this.backups.rewriteAll(withoutSample(id, sampleId), mentionsPerson(id));
    // The changed document and the compaction that drops its old lines succeed or fail together.
    await this.unit(async () => {
      await this.datafile.update(next.id, toDoc(next));
      await this.compact();
    });
    this.people.set(next.id, next);
    this.index?.removeSample(s.id);
    await this.dropImage(s).catch((err: Error) =>
      process.emitWarning(
        `face store ${this.file}: the image of removed sample ${s.id} could not be deleted (${err.message}); it is swept at the next open`,
      ),
    );
    const person = publicPerson(next);
    this.log('remove-sample', actor, next, { samples: next.samples.length });
    this.emitSafe('sample-removed', { person, sample: eventSample(s) });
    this.emitSafe('person-updated', person);
    s.descriptor.fill(0);
    return person;
  }

  private async txDeletePerson(rawId: string, actor?: string): Promise<boolean> {
    this.assertOpen();
    const id = sanitiseId(rawId);
    const p = this.people.get(id);
    let entry = this.journal.get(id);
    if (!p && !entry) {
      // Nothing to erase; scrub what an erasure cut short by an earlier version may have left.
      await this.scrubStore(id);
      return false;
    }
    if (!entry) {
      entry = { id, name: p!.name, since: new Date().toISOString() };
      const recorded = entry;
      try {
        await this.withRoom(() => this.journal.add(recorded));
      } catch (err) {
        throw new StoreError(
          'EERASURE',
          `the erasure of ${id} could not be recorded in ${this.journalFile}: ${messageOf(err)}; nothing was erased`,
          { id, errno: errorCode(err) },
        );
      }
    }
    await this.finishErasure(entry, actor);
    return true;
  }

  /** Runs every step of a recorded erasure (each is idempotent); see {@link deletePerson}. */
  private async finishErasure(entry: PendingErasure, actor?: string): Promise<void> {
    const { id, name } = entry;
    let step = "the face store's files";
    try {
      await this.eraseStorePart(id);
      step = 'the erasers';
      await this.runErasers(entry);
      step = 'the audit log';
      await this.withRoom(() => this.audit.scrubPerson(id, name));
    } catch (err) {
      throw new StoreError(
        'EERASURE',
        `the erasure of ${id} is not finished (${step}): ${messageOf(err)}. ` +
          `It stays recorded in ${this.journalFile} and is finished by deleting ${id} again or at the next start.`,
        { id, step, errno: errorCode(err) ?? (err as StoreError).details?.errno },
      );
    }
    const rec = this.erasing.get(id);
    this.log('delete', actor, { id }, rec ? { samples: rec.samples.length } : undefined);
    const person: Person = rec
      ? publicPerson(rec)
      : { id, name, metadata: {}, samples: [], createdAt: entry.since, updatedAt: entry.since };
    if (rec) for (const s of rec.samples) this.emitSafe('sample-removed', { person, sample: eventSample(s) });
    this.emitSafe('person-deleted', person);
    try {
      await this.withRoom(() => this.journal.remove(id));
    } catch (err) {
      throw new StoreError(
        'EERASURE',
        `${id} is erased, but its entry in the erasure journal ${this.journalFile} could not be removed (${messageOf(err)}); ` +
          `the erasure runs again at the next delete of ${id} or the next start`,
        { id, step: 'the journal', errno: errorCode(err) },
      );
    }
    this.erasing.delete(id);
    this.storeErased.delete(id);
    if (rec) for (const s of rec.samples) s.descriptor.fill(0);
  }

  /**
   * The store's part of an erasure: the person leaves matching at once, then backups, datafile
   * and images are scrubbed. Done once per open for a pending erasure.
   */
  private async eraseStorePart(id: string): Promise<void> {
    if (this.storeErased.has(id)) return;
    const p = this.people.get(id);
    if (p) {
      this.people.delete(id);
      this.index?.removePerson(id);
      this.erasing.set(id, p);
    }
    await this.scrubStore(id);
    this.storeErased.add(id);
  }

  /**
   * Removes an id from the backups, the datafile and the images folder. Backups first: one that
   * cannot be rewritten is removed, which also makes room on a full disk for the compaction.
   */
  private async scrubStore(id: string): Promise<void> {
    await this.backups.rewriteAll(withoutPerson(id), mentionsPerson(id));
    if (this.datafile.has(id)) await this.withRoom(() => this.datafile.remove(id));
    await this.withRoom(() => this.compact());
    await this.crops.removeKey(id);
  }

  /** Runs every registered eraser; rejects naming each one that failed (after running them all). */
  private async runErasers(entry: PendingErasure): Promise<void> {
    const failed: string[] = [];
    for (const [name, eraser] of [...this.erasers]) {
      try {
        await eraser.erasePerson({ id: entry.id, name: entry.name });
      } catch (err) {
        failed.push(`eraser "${name}" failed: ${messageOf(err)}`);
      }
    }
    if (failed.length) throw new StoreError('EERASURE', failed.join('; '), { id: entry.id });
  }

  /**
   * Runs a step of an erasure; on a full disk, removes the oldest backup and tries again (losing
   * a backup beats keeping data that should be erased), until no backup is left.
   */
  private async withRoom<T>(fn: () => Promise<T>): Promise<T> {
    for (;;) {
      try {
        return await fn();
      } catch (err) {
        const errno = errorCode(err) ?? (err as StoreError).details?.errno;
        if (!isNoSpace({ code: errno })) throw err;
        const dropped = await this.backups.dropOldest().catch(() => null);
        if (!dropped) throw err;
        process.emitWarning(
          `face store ${this.file}: the disk is full; backup ${dropped} was removed to make room for an erasure`,
        );
      }
    }
  }

  // ---------------------------------------------------------------- whole store: transfer.ts, reembed.ts

  /** The whole store as JSON (descriptors and model id included; crops as base64 unless `images: false`). */
  exportJson(opts: { images?: boolean; actor?: string } = {}): Promise<StoreExport> {
    return exportStore(this.internals, opts);
  }

  /**
   * Imports an export made by {@link exportJson}. A person whose id exists is reported as a
   * duplicate and left as it is; a sample of another model refuses its person (nothing of that
   * person is written). One batch, one backup.
   */
  importJson(data: unknown, actor?: string): Promise<ImportReport> {
    return importStore(this.internals, data, actor);
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
    await this.worker?.close();
    this.worker = null;
    this.lock?.release();
    this.lock = null;
    process.removeListener('exit', this.onExit);
    this.index?.clear();
  }
}
