/**
 * Rolling backups of a NeDB datafile: `<file>.bak.1` (newest) ... `<file>.bak.N`.
 * Taken before each batch of writes; rewritten when a person is erased.
 */
import { copyFile, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { isMissing, messageOf, removeFile, rewriteLines, syncDir } from './files';

/** One backup file. */
export interface BackupInfo {
  file: string;
  mtime: Date;
  size: number;
}

/** A parsed datafile line; `_id` names the document. */
export type RawDoc = Record<string, unknown> & { _id?: unknown };

/**
 * What to do with one document of a backup during erasure: return it unchanged (same object),
 * a changed copy, or null to drop it.
 */
export type DocRewrite = (doc: RawDoc) => RawDoc | null;

async function exists(file: string): Promise<BackupInfo | null> {
  try {
    const s = await stat(file);
    return s.isFile() ? { file, mtime: s.mtime, size: s.size } : null;
  } catch {
    return null;
  }
}

export class BackupSet {
  constructor(
    readonly datafile: string,
    readonly count: number,
  ) {}

  path(n: number): string {
    return `${this.datafile}.bak.${n}`;
  }

  /** Existing backups, newest first. */
  async list(): Promise<BackupInfo[]> {
    const out: BackupInfo[] = [];
    // Look a little past `count` so backups left by a larger setting are listed (and erased) too.
    for (let n = 1; n <= Math.max(this.count, 10); n++) {
      const info = await exists(this.path(n));
      if (info) out.push(info);
    }
    return out;
  }

  /**
   * Shifts the backups by one and copies the datafile to `.bak.1`. Rejects with a clear message
   * when that fails (a full disk, no permission), leaving no partial copy behind.
   */
  async rotate(): Promise<void> {
    if (this.count <= 0) return;
    const current = await exists(this.datafile);
    if (!current || current.size === 0) return;
    const tmp = this.path(1) + '.tmp';
    try {
      await rm(this.path(this.count), { force: true });
      for (let n = this.count - 1; n >= 1; n--) {
        if (await exists(this.path(n))) await rename(this.path(n), this.path(n + 1));
      }
      await copyFile(this.datafile, tmp);
      await rename(tmp, this.path(1));
    } catch (err) {
      await removeFile(tmp).catch(() => undefined);
      throw new Error(`the backup ${this.path(1)} could not be taken: ${messageOf(err)}`, { cause: err });
    }
  }

  /**
   * Applies `rewrite` to every document line of every backup. A backup is rewritten only when a
   * line changed. A backup that cannot be rewritten (a line that cannot be parsed, so it cannot
   * be checked; a file or folder without permission; a full disk; something else where its
   * temporary file goes) is removed instead: losing a backup beats keeping data that should be
   * gone. Rejects only when such a backup cannot even be removed. Returns what happened per file.
   *
   * `mentions`, when given, is text that every line `rewrite` could change contains (the
   * serialised `"_id":"<id>"`); other lines are copied without parsing, which makes scrubbing a
   * large store's backups several times faster.
   */
  async rewriteAll(
    rewrite: DocRewrite,
    mentions?: string,
  ): Promise<{ rewritten: string[]; removed: string[] }> {
    const result = { rewritten: [] as string[], removed: [] as string[] };
    for (const b of await this.list()) {
      const outcome = await this.rewriteOne(b.file, rewrite, mentions);
      if (outcome === 'rewritten') result.rewritten.push(b.file);
      if (outcome === 'removed') result.removed.push(b.file);
    }
    return result;
  }

  private async rewriteOne(
    file: string,
    rewrite: DocRewrite,
    mentions?: string,
  ): Promise<'unchanged' | 'rewritten' | 'removed'> {
    const lineRewrite = (line: string): string | null => {
      if (mentions !== undefined && !line.includes(mentions)) return line;
      let doc: RawDoc;
      try {
        doc = JSON.parse(line) as RawDoc;
      } catch {
        throw new UnreadableBackup(`${file} has a line that cannot be read`);
      }
      const next = rewrite(doc);
      if (next === null) return null;
      return next === doc ? line : JSON.stringify(next);
    };
    try {
      return (await rewriteLines(file, lineRewrite)) ? 'rewritten' : 'unchanged';
    } catch (err) {
      if (isMissing(err)) return 'unchanged';
      try {
        await rm(file, { force: true });
      } catch (rmErr) {
        throw new Error(
          `backup ${file} can be neither rewritten (${messageOf(err)}) nor removed (${messageOf(rmErr)})`,
        );
      }
      await syncDir(path.dirname(file)).catch(() => undefined);
      return 'removed';
    }
  }

  /** Removes the oldest backup, to make room on a full disk; resolves to its path, or null when none is left. */
  async dropOldest(): Promise<string | null> {
    const oldest = (await this.list()).pop();
    if (!oldest) return null;
    await rm(oldest.file, { force: true });
    return oldest.file;
  }

  /** Removes the temporary files of backups that a crash or a failed write left behind. */
  async sweep(): Promise<void> {
    for (let n = 1; n <= Math.max(this.count, 10) + 1; n++)
      await removeFile(this.path(n) + '.tmp').catch(() => undefined);
  }
}

/** A backup with a line that is not JSON: it cannot be checked, so it is not kept. */
class UnreadableBackup extends Error {}
