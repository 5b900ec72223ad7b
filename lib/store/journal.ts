/**
 * The erasure journal: the erasures that were asked for and have not finished, in a small file
 * beside the datafile (`<datafile>.erasures.json`, mode 0600). An erasure is recorded before any
 * of it is done and removed only when all of it is done, so a crash, a full disk or a failing
 * eraser leaves an entry that the next delete of the same id, or the next start, finishes.
 *
 * The file is written atomically (a temporary file, fsynced, renamed over it, the folder
 * fsynced): it is either the old list or the new one, never half of either. It holds the
 * person's name while their erasure is pending (the erasers need it) and is removed when the
 * list is empty.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { StoreError } from './errors';
import { isMissing, messageOf, removeFile, syncDir, writeFileDurably } from './files';

/** An erasure that was recorded and has not finished. */
export interface PendingErasure {
  /** The person's id. */
  id: string;
  /** The person's name, for the erasers that keep names (an event log, a retained MQTT message). */
  name: string;
  /** ISO time the erasure was asked for. */
  since: string;
}

interface JournalFile {
  format: 'facewatch-erasures';
  version: 1;
  pending: PendingErasure[];
}

function isEntry(e: unknown): e is PendingErasure {
  const x = e as Partial<PendingErasure> | null;
  return !!x && typeof x.id === 'string' && typeof x.name === 'string' && typeof x.since === 'string';
}

/** The erasure journal of one store. Open with {@link ErasureJournal.open}. */
export class ErasureJournal {
  private entries: PendingErasure[];

  private constructor(
    readonly file: string,
    entries: PendingErasure[],
  ) {
    this.entries = entries;
  }

  /**
   * Reads the journal (none: nothing pending). Throws `ESTORE_UNREADABLE` when it exists but
   * cannot be read: pending erasures must not be forgotten.
   */
  static async open(file: string): Promise<ErasureJournal> {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      if (isMissing(err)) return new ErasureJournal(file, []);
      throw new StoreError(
        'ESTORE_UNREADABLE',
        `the erasure journal ${file} cannot be read (${messageOf(err)}); it lists erasures that have not finished, so the store does not open without it`,
        { file },
      );
    }
    let data: Partial<JournalFile>;
    try {
      data = JSON.parse(text) as Partial<JournalFile>;
    } catch (err) {
      throw new StoreError(
        'ESTORE_UNREADABLE',
        `the erasure journal ${file} is not JSON (${messageOf(err)}); it lists erasures that have not finished, so the store does not open without it`,
        { file },
      );
    }
    if (
      data?.format !== 'facewatch-erasures' ||
      !Array.isArray(data.pending) ||
      !data.pending.every(isEntry)
    ) {
      throw new StoreError(
        'ESTORE_UNREADABLE',
        `the erasure journal ${file} is not a FaceWatch erasure journal; it lists erasures that have not finished, so the store does not open without it`,
        { file },
      );
    }
    return new ErasureJournal(
      file,
      data.pending.map((e) => ({ id: e.id, name: e.name, since: e.since })),
    );
  }

  /** The pending erasures, oldest first (copies). */
  list(): PendingErasure[] {
    return this.entries.map((e) => ({ ...e }));
  }

  /** The pending erasure of an id, if any (a copy). */
  get(id: string): PendingErasure | undefined {
    const e = this.entries.find((x) => x.id === id);
    return e && { ...e };
  }

  /** Records an erasure durably; resolves when it is on disk. On failure nothing is recorded. */
  async add(entry: PendingErasure): Promise<void> {
    if (this.entries.some((e) => e.id === entry.id)) return;
    await this.save([...this.entries, { ...entry }]);
  }

  /** Removes a finished erasure durably. On failure the entry stays. */
  async remove(id: string): Promise<void> {
    if (!this.entries.some((e) => e.id === id)) return;
    await this.save(this.entries.filter((e) => e.id !== id));
  }

  /** Removes the temporary file a crash left behind: an erasure is recorded only once renamed into place. */
  async sweep(): Promise<void> {
    await removeFile(`${this.file}.tmp`).catch(() => undefined);
  }

  private async save(next: PendingErasure[]): Promise<void> {
    if (next.length === 0) {
      await removeFile(this.file);
      await syncDir(path.dirname(this.file));
    } else {
      const data: JournalFile = { format: 'facewatch-erasures', version: 1, pending: next };
      await writeFileDurably(this.file, JSON.stringify(data) + '\n');
    }
    this.entries = next;
  }
}
