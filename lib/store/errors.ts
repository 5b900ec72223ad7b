/**
 * Errors of the face store. Every error carries a stable `code` so that nodes, the CLI and the
 * import report can react to the kind of failure without parsing messages.
 */

/** Codes used by {@link StoreError}. */
export type StoreErrorCode =
  | 'ESTORE_LOCKED'
  | 'ESTORE_CORRUPT'
  | 'ESTORE_UNREADABLE'
  | 'ESTORE_CLOSED'
  | 'EWRITE'
  | 'EERASURE'
  | 'EMODEL_MISMATCH'
  | 'EDESCRIPTOR'
  | 'EINVALID_ID'
  | 'EINVALID_NAME'
  | 'EINVALID_METADATA'
  | 'EEXISTS'
  | 'ENOTFOUND'
  | 'EIMPORT_FORMAT'
  | 'EFILETYPE'
  | 'ETOOLARGE'
  | 'ENOFILE'
  | 'ENOFACE'
  | 'EMULTIFACE'
  | 'EFACESMALL'
  | 'EBLURRY'
  | 'EYAW'
  | 'EDUPLICATE'
  /** A photo added to a person does not look like their other samples. */
  | 'ENOTSAME'
  | 'EIMAGE'
  /** A shared store's database is unreachable: nothing was changed. */
  | 'EDB_DOWN'
  /** A shared store's schema is newer than this FaceWatch knows: it reads, never writes. */
  | 'ESCHEMA_NEWER';

/** An error of the face store or of enrolment, with a machine-readable `code`. */
export class StoreError extends Error {
  readonly code: StoreErrorCode;
  /** Extra facts for callers (the person a duplicate matched, the newest backup, ...). */
  readonly details: Record<string, unknown>;

  constructor(code: StoreErrorCode, message: string, details: Record<string, unknown> = {}) {
    super(message);
    this.name = 'StoreError';
    this.code = code;
    this.details = details;
  }
}

/** True for a {@link StoreError}, optionally of one code. */
export function isStoreError(err: unknown, code?: StoreErrorCode): err is StoreError {
  return err instanceof StoreError && (code === undefined || err.code === code);
}
