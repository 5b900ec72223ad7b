/**
 * Rolling backups of a NeDB datafile: `<file>.bak.1` (newest) ... `<file>.bak.N`.
 * Taken before each batch of writes; rewritten when a person is erased.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { copyFile, rename, rm, stat, unlink } from 'node:fs/promises';
import { once } from 'node:events';
import readline from 'node:readline';

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

  /** Shifts the backups by one and copies the datafile to `.bak.1`. */
  async rotate(): Promise<void> {
    if (this.count <= 0) return;
    const current = await exists(this.datafile);
    if (!current || current.size === 0) return;
    await rm(this.path(this.count), { force: true });
    for (let n = this.count - 1; n >= 1; n--) {
      if (await exists(this.path(n))) await rename(this.path(n), this.path(n + 1));
    }
    const tmp = this.path(1) + '.tmp';
    await copyFile(this.datafile, tmp);
    await rename(tmp, this.path(1));
  }

  /**
   * Applies `rewrite` to every document line of every backup. A backup is rewritten only when a
   * line changed; a backup with a line that cannot be parsed cannot be checked, so it is removed
   * rather than left holding data that should be gone. Returns what happened per file.
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
    const tmp = file + '.tmp';
    const input = createReadStream(file, { encoding: 'utf8' });
    const output = createWriteStream(tmp, { encoding: 'utf8', mode: 0o600 });
    let changed = false;
    let unreadable = false;
    try {
      for await (const line of readline.createInterface({ input, crlfDelay: Infinity })) {
        if (line === '') continue;
        if (mentions !== undefined && !line.includes(mentions)) {
          if (!output.write(line + '\n')) await once(output, 'drain');
          continue;
        }
        let doc: RawDoc;
        try {
          doc = JSON.parse(line) as RawDoc;
        } catch {
          unreadable = true;
          break;
        }
        const next = rewrite(doc);
        let text = line;
        if (next === null) {
          changed = true;
          continue;
        }
        if (next !== doc) {
          changed = true;
          text = JSON.stringify(next);
        }
        if (!output.write(text + '\n')) await once(output, 'drain');
      }
    } finally {
      input.destroy();
      output.end();
      await once(output, 'close');
    }
    if (unreadable) {
      await unlink(tmp);
      await unlink(file);
      return 'removed';
    }
    if (!changed) {
      await unlink(tmp);
      return 'unchanged';
    }
    await rename(tmp, file);
    return 'rewritten';
  }
}
