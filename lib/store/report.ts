/**
 * The report of an import, row by row. Apart from the import itself (import.ts, which loads the
 * face engine) so that the store's JSON import does not load it.
 */

/** Per row outcome of an import. */
export interface ImportRow {
  /** What the row is: a file path, `line 3`, `person PERSON_0002`. */
  row: string;
  status: 'enrolled' | 'duplicate' | 'refused';
  /** The person the row enrolled into (or duplicated). */
  id?: string;
  name?: string;
  /** Why a row was refused or is a duplicate. */
  reason?: string;
  /** The error code behind a refusal. */
  code?: string;
  /** For duplicates by face: the person matched and the distance. */
  duplicateOf?: { id: string; name: string; distance: number };
}

/** Outcome of an import. */
export interface ImportReport {
  rows: ImportRow[];
  enrolled: number;
  duplicate: number;
  refused: number;
}

/** Counts the rows of a report. */
export function summarise(rows: ImportRow[]): ImportReport {
  return {
    rows,
    enrolled: rows.filter((r) => r.status === 'enrolled').length,
    duplicate: rows.filter((r) => r.status === 'duplicate').length,
    refused: rows.filter((r) => r.status === 'refused').length,
  };
}
