/**
 * The face store's public types: its options, people and samples as it shows them, its events and
 * a batch's changes. In a module of their own so that face-store.ts and the modules beside it
 * (documents, internals, reembed, transfer) all take them from here and import one way.
 */
import type { EventEmitter } from 'node:events';
import type { FaceMatch } from '../types';
import type { AuditAction, AuditEntry } from './audit';
import type { PendingErasure } from './journal';
import type { ImportReport } from './report';
import type { MatchOptions } from './match';

/** How to open a store. Only `file` is required. */
export interface StoreOptions {
  /** The NeDB datafile, e.g. `<userDir>/facewatch/faces.db`. */
  file: string;
  /** Face crops; default: a folder named after the datafile without extension (`faces.db` → `faces/`). */
  imagesDir?: string;
  /** Audit log (JSON lines); default `<datafile without extension>.audit.jsonl`. */
  auditFile?: string;
  /** Rolling backups kept (`<file>.bak.1` newest); default STORE.backups (lib/types/defaults.ts), 0 disables. */
  backups?: number;
  /** Take the lock file (one process per store); default true. */
  lock?: boolean;
  /** Default actor recorded in the audit log; default `unknown`. */
  actor?: string;
  /** Who holds the lock, shown to a process that is refused; default `process <title>`. */
  owner?: string;
  /** Default match options of this store (DEFAULT_MATCH_OPTIONS: lib/types/defaults.ts MATCH). */
  match?: Partial<MatchOptions>;
  /**
   * Searches over at least this many samples run in a worker thread in FaceStore.matchAsync, keeping
   * the event loop free; default STORE_OFFLOAD_ROWS (lib/types/defaults.ts). 0 = never.
   */
  offloadRows?: number;
}

/** A sample to store with a person. */
export interface SampleInput {
  /** The face descriptor (128 numbers for face-api's recognition model). */
  descriptor: ArrayLike<number>;
  /** Id of the model that computed it; must equal the store's model id once the store has one. */
  modelId: string;
  /** JPEG crop of the face; kept so `facewatch reembed` can recompute the descriptor with new weights. */
  crop?: Buffer;
  /** Where the sample came from: a file name, `camera:<name>`, `import:<file>`, ... */
  source?: string;
  /** ISO time the photo was taken or received; default now. */
  time?: string;
  /** The sample's id in the store it was exported from (imports keep it when it is free); default a new one. */
  id?: string;
}

/** A sample as the store shows it (descriptors are not handed out with people). */
export interface SampleInfo {
  id: string;
  modelId: string;
  /** Crop file relative to the images folder (`PERSON_0001/<sample>.jpg`), or null. */
  image: string | null;
  source: string;
  time: string;
}

/** A sample with its descriptor, as carried by the `sample-added` and `sample-removed` events. */
export interface Sample extends SampleInfo {
  descriptor: Float32Array;
}

/** A person as the store shows it. */
export interface Person {
  id: string;
  name: string;
  metadata: Record<string, unknown>;
  samples: SampleInfo[];
  createdAt: string;
  updatedAt: string;
}

/**
 * Something beside the store that keeps copies of a person's data (the detection log, ...),
 * registered with {@link FaceStore.addEraser}. `erasePerson` must be idempotent (an erasure that
 * failed part-way runs it again) and must not change the face store (it runs inside the
 * erasure's batch). A rejection fails the erasure, which stays pending.
 */
export interface PersonEraser {
  erasePerson(person: { id: string; name: string }): Promise<unknown>;
}

/** Input of {@link FaceStore.addPerson}. */
export interface PersonInput {
  /** Given id; generated (`PERSON_0001`, ...) when absent. */
  id?: string;
  name: string;
  metadata?: Record<string, unknown>;
  /** When they were enrolled in the store an import comes from (an ISO time in the past); default now. */
  createdAt?: string;
}

/**
 * Events a store emits (all synchronous, after the change is on disk):
 * - `person-added` (person: Person): a new person, samples included.
 * - `person-updated` (person: Person): name, metadata or samples changed, or the model changed (reembed).
 * - `person-deleted` (person: Person): the person as it was; their data is already erased from
 *   the datafile, the backups, the images folder, every registered eraser and the audit log.
 *   An erasure finished after a restart carries the person without samples or metadata.
 * - `sample-added` (event: {person: Person; sample: Sample}): also after `person-added`, per sample.
 * - `sample-removed` (event: {person: Person; sample: Sample}): also before `person-deleted`, per sample.
 * - `model-changed` (event: {from: string | null; to: string}): after reembed.
 */
export interface FaceStoreEvents {
  /** The database went away (`down`: since when) or came back (`down`: null); PostgreSQL stores only. */
  availability: [StoreAvailability];
  'person-added': [Person];
  'person-updated': [Person];
  'person-deleted': [Person];
  'sample-added': [{ person: Person; sample: Sample }];
  'sample-removed': [{ person: Person; sample: Sample }];
  'model-changed': [{ from: string | null; to: string }];
}

/**
 * The changes one batch may make. Obtained from {@link FaceStore.batch}; only valid until the
 * batch's function resolves. Each method has the same meaning as the FaceStore method of the
 * same name.
 */
export interface StoreTx {
  addPerson(input: PersonInput, sample?: SampleInput, actor?: string): Promise<Person>;
  addSample(id: string, sample: SampleInput, actor?: string): Promise<Person>;
  updatePerson(
    id: string,
    patch: { name?: string; metadata?: Record<string, unknown> },
    actor?: string,
  ): Promise<Person>;
  removeSample(id: string, sampleId: string, actor?: string): Promise<Person>;
  deletePerson(id: string, actor?: string): Promise<boolean>;
}

/**
 * What enrolment, matching and erasure need of a store, whichever its backend: the NeDB store of one
 * instance (face-store.ts) and the PostgreSQL store shared by several (pg/pg-store.ts) both are one.
 * Reads answer from memory; changes run in batches, one at a time.
 */
export interface PeopleStore extends EventEmitter<FaceStoreEvents>, StoreTx {
  /** The model of the store's descriptors; null until the first sample. */
  readonly modelId: string | null;
  /** Their length; null until the first sample. */
  readonly dim: number | null;
  /** The match options a call does not override. */
  readonly defaults: MatchOptions;
  /** Number of people. */
  size(): number;
  /** Number of samples in the matching index. */
  samples(): number;
  getPerson(id: string): Person | undefined;
  listPeople(): Person[];
  /** 1:N search on the calling thread; `EMODEL_MISMATCH` for a descriptor of another model. */
  match(descriptor: ArrayLike<number>, modelId: string, opts?: Partial<MatchOptions>): FaceMatch;
  /** The same, off the event loop for a large store. */
  matchAsync(
    descriptor: ArrayLike<number>,
    modelId: string,
    opts?: Partial<MatchOptions>,
  ): Promise<FaceMatch>;
  /**
   * Runs `fn` with no other change in between (a check and the change it guards). The changes
   * ({@link StoreTx}) are also the store's own methods, each a batch of one.
   */
  batch<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T>;
  /** Registers something that keeps copies of people's data; returns its removal. */
  addEraser(name: string, eraser: PersonEraser): () => void;
  close(): Promise<void>;
}

/** Whether a store can take changes now, as the nodes' statuses say it. */
export interface StoreAvailability {
  /** Since when the database is unreachable; null while it answers (always, for a datafile). */
  down: Date | null;
  /** Why this instance refuses every change even while the database answers (a newer schema). */
  readOnly?: string;
}

/**
 * An open store as the nodes, the Face Library and the detection log use it, whichever its backend:
 * a datafile of this instance (NeDB, face-store.ts) or a PostgreSQL schema shared by several
 * (pg/pg-store.ts).
 */
export interface OpenStore extends PeopleStore {
  readonly backend: 'nedb' | 'postgres';
  /** Where it is, as it may be shown: the datafile, or the database URL without its password and the schema. */
  readonly location: string;
  /** The detection log's datafile on this machine (lib/events/store-events.ts). */
  readonly eventsFile: string;
  /** A sample's face crop (JPEG) of a person; undefined when there is none. */
  sampleImage(personId: string, sampleId: string): Promise<Buffer | undefined>;
  /** The erasures recorded and not finished, oldest first. */
  pendingErasures(): PendingErasure[] | Promise<PendingErasure[]>;
  /** Finishes them (call after registering the erasers); resolves to the ids finished. */
  finishPendingErasures(actor?: string): Promise<string[]>;
  availability(): StoreAvailability;
  /** The whole store as JSON (descriptors, model ids; crops as base64 unless `images: false`). */
  exportJson(opts?: { images?: boolean; actor?: string }): Promise<StoreExport>;
  /** Imports an export of either backend (ids, samples and model ids kept; an existing id is a duplicate). */
  importJson(data: unknown, actor?: string): Promise<ImportReport>;
  /** Appends an audit line (bulk imports, the command line); never pass descriptors. */
  recordAudit(action: AuditAction, details: Record<string, unknown>, actor?: string): Promise<void>;
  /**
   * Elects one instance of the installation for `role`, on a store several instances share; absent
   * on a store only this instance uses (it is always the one).
   */
  elect?(role: string): Election;
}

/** This instance's part in an election among the instances sharing a store (see OpenStore.elect). */
export interface Election {
  /** Whether this instance holds the role now. */
  readonly leader: boolean;
  /** `change` with the new value whenever it takes or loses the role. */
  on(event: 'change', listener: (leader: boolean) => void): this;
  off(event: 'change', listener: (leader: boolean) => void): this;
  /** Gives the role up and stops taking part. */
  close(): Promise<void>;
}

/** The whole store as JSON, for moving between installations. */
export interface StoreExport {
  format: 'facewatch-store';
  version: 1;
  exportedAt: string;
  modelId: string | null;
  nextId: number;
  /**
   * The store's audit, oldest first (absent in exports before it was carried): an import adds the
   * lines it does not hold yet, so a store moved to another backend keeps its history.
   */
  audit?: AuditEntry[];
  people: Array<{
    id: string;
    name: string;
    metadata: Record<string, unknown>;
    createdAt: string;
    updatedAt: string;
    samples: Array<{
      id: string;
      modelId: string;
      descriptor: number[];
      source: string;
      time: string;
      /** Base64 JPEG crop, when exported with images. */
      image?: string;
    }>;
  }>;
}
