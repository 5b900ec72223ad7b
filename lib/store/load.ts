/**
 * Opening a face store's datafile: NeDB's documents read into the people in memory, the meta document
 * and the matching index; a file that cannot be read or is corrupt is left untouched and refused with
 * an error that names the newest backup and how to restore it.
 */
import { open } from 'node:fs/promises';
import type { BackupSet } from './backups';
import type { Datafile } from './datafile';
import { DescriptorIndex } from './descriptor-index';
import { corruptLines, readDocuments, type MetaDoc, type PersonRecord } from './documents';
import { StoreError } from './errors';
import { isMissing } from './files';

/** What a datafile holds. */
export interface LoadedDatafile {
  /** The meta document; undefined in a new store. */
  meta: MetaDoc | undefined;
  people: PersonRecord[];
  /** The matching index over every sample; null while the store has no model (no sample yet). */
  index: DescriptorIndex | null;
}

/** Loads `datafile` (the store's `file`); rejects with ESTORE_UNREADABLE or ESTORE_CORRUPT. */
export async function loadDatafile(
  file: string,
  datafile: Datafile,
  backups: BackupSet,
): Promise<LoadedDatafile> {
  try {
    // NeDB reads the datafile through a stream whose errors it does not handle: a file it
    // cannot open would be an uncaught exception, so it is opened here first.
    await (await open(file, 'r')).close();
  } catch (err) {
    if (!isMissing(err)) throw await loadError(file, backups, err as Error);
  }
  try {
    await datafile.load();
  } catch (err) {
    throw await loadError(file, backups, err as Error & { corruptItems?: number; dataLength?: number });
  }
  const docs = await datafile.all();
  let loaded: ReturnType<typeof readDocuments>;
  try {
    loaded = readDocuments(docs);
  } catch (err) {
    throw await loadError(file, backups, err as Error);
  }
  const records = loaded.people;
  let index: DescriptorIndex | null = null;
  if (loaded.meta?.dim) {
    index = new DescriptorIndex(loaded.meta.dim);
    index.reserve(records.reduce((n, p) => n + p.samples.length, 0));
    for (const p of records) for (const s of p.samples) index.add(p.id, s.id, s.descriptor);
  }
  return { meta: loaded.meta ?? undefined, people: records, index };
}

/** Why a datafile cannot be opened, naming the newest backup and how to restore it. */
async function loadError(
  file: string,
  backups: BackupSet,
  err: Error & { corruptItems?: number; dataLength?: number; code?: string },
): Promise<StoreError> {
  const newest = (await backups.list())[0];
  const backupText = newest
    ? `The newest backup is ${newest.file} (${newest.mtime.toISOString()}); to restore it, stop every user of the store and copy it over ${file}.`
    : 'No backup exists.';
  const details = { file, backup: newest?.file ?? null, cause: err.message };
  if (err.corruptItems !== undefined) {
    let where = '';
    try {
      const lines = corruptLines(file);
      if (lines.length)
        where = ` (line${lines.length > 1 ? 's' : ''} ${lines.slice(0, 10).join(', ')}${lines.length > 10 ? ', ...' : ''})`;
    } catch {
      // The count from NeDB is enough.
    }
    return new StoreError(
      'ESTORE_CORRUPT',
      `face store ${file} is corrupt: ${err.corruptItems} of ${err.dataLength} lines cannot be read${where}. ` +
        `The file was left untouched. ${backupText}`,
      { ...details, corruptLines: err.corruptItems },
    );
  }
  if (err.message.startsWith('document ') || err.message.startsWith('sample ')) {
    return new StoreError(
      'ESTORE_CORRUPT',
      `face store ${file} is corrupt: ${err.message}. The file was left untouched. ${backupText}`,
      details,
    );
  }
  return new StoreError(
    'ESTORE_UNREADABLE',
    `face store ${file} cannot be read: ${err.message}. ${backupText}`,
    details,
  );
}
