/**
 * A folder of small private images kept per key: the face store's crops (`faces/<PERSON_ID>/<sample>.jpg`)
 * and, with the same rules, a detection log's event snapshots (`snapshots/<event>/<n>.jpg`).
 */
import { mkdir, readdir, readFile, rename, rm, rmdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';

/** One stored file, as {@link CropFolder.list} reports it. */
export interface CropEntry {
  key: string;
  name: string;
  /** Absolute path. */
  file: string;
  size: number;
  mtime: Date;
}

/** File and folder modes of a {@link CropFolder}. */
export interface CropFolderModes {
  /** Default 0o600: the images are biometric data, readable by the owner only. */
  fileMode?: number;
  /** Default 0o700. */
  dirMode?: number;
}

/**
 * Keys and names become path segments: letters, digits, `_`, `-` and `.`, 1-128 characters, not
 * starting with `.` or `-` and without `..`, so no segment can climb out of the root, hide as a
 * dot file, or read as an option to a tool. The face store's person ids are a subset.
 */
const SEGMENT_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

/** Suffix of a file being written; such files are never listed. */
const TMP_SUFFIX = '.tmp';

function checkSegment(what: 'key' | 'name', value: string): string {
  if (typeof value !== 'string' || !SEGMENT_RE.test(value) || value.includes('..')) {
    throw new RangeError(
      `invalid image ${what} "${String(value).slice(0, 80)}": use 1-128 letters, digits, "_", "-" or "." (not starting with "." or "-", no "..")`,
    );
  }
  return value;
}

/**
 * Images under `<root>/<key>/<name>`, one sub-folder per key (a person, an event). Files are
 * written atomically (a temporary file renamed into place) with mode 0600 in folders of mode
 * 0700; a failed write leaves neither half a file nor an empty key folder behind. Keys and names
 * are checked (see {@link CropFolder.relative}), so a caller's id can never address a file
 * outside the root. {@link list} and {@link size} are there for retention: find the oldest
 * files or the total size, then {@link remove} or {@link removeKey}.
 *
 * The folders are created on the first write; reading or removing in a missing folder is not
 * an error (`remove`, `removeKey`) or reports nothing (`list`, `size`).
 */
export class CropFolder {
  /** The root folder, absolute. */
  readonly root: string;
  readonly fileMode: number;
  readonly dirMode: number;

  constructor(root: string, modes: CropFolderModes = {}) {
    this.root = path.resolve(root);
    this.fileMode = modes.fileMode ?? 0o600;
    this.dirMode = modes.dirMode ?? 0o700;
  }

  /** The path of a file relative to the root (`<key>/<name>`, always with `/`). Throws a RangeError for an unsafe key or name. */
  relative(key: string, name: string): string {
    return `${checkSegment('key', key)}/${checkSegment('name', name)}`;
  }

  /** The absolute path of a file. Throws a RangeError for an unsafe key or name. */
  path(key: string, name: string): string {
    return path.join(this.root, checkSegment('key', key), checkSegment('name', name));
  }

  /**
   * Splits a relative path made by {@link relative} (as stored in a document) into key and
   * name; null when it is not one, e.g. a tampered document pointing outside the root.
   */
  parse(relative: string): { key: string; name: string } | null {
    const parts = typeof relative === 'string' ? relative.split('/') : [];
    if (parts.length !== 2) return null;
    const [key, name] = parts;
    return SEGMENT_RE.test(key) && SEGMENT_RE.test(name) && !key.includes('..') && !name.includes('..')
      ? { key, name }
      : null;
  }

  /** The absolute path for a relative path made by {@link relative}; null when it is not one. */
  resolve(relative: string): string | null {
    const ref = this.parse(relative);
    return ref && path.join(this.root, ref.key, ref.name);
  }

  /** Writes a file atomically, creating the root and key folders as needed; resolves to its path. */
  async write(key: string, name: string, data: Buffer): Promise<string> {
    const file = this.path(key, name);
    const dir = path.dirname(file);
    await mkdir(dir, { recursive: true, mode: this.dirMode });
    const tmp = file + TMP_SUFFIX;
    try {
      await writeFile(tmp, data, { mode: this.fileMode });
      await rename(tmp, file);
    } catch (err) {
      // A full disk must not leave half a file (or an empty key folder) behind.
      await rm(tmp, { force: true });
      await rmdir(dir).catch(() => undefined);
      throw err;
    }
    return file;
  }

  /** Reads a file; rejects like fs.readFile when it is missing. */
  read(key: string, name: string): Promise<Buffer> {
    return readFile(this.path(key, name));
  }

  /** Removes a file, and its key folder when that is left empty. A missing file is not an error. */
  async remove(key: string, name: string): Promise<void> {
    const file = this.path(key, name);
    await rm(file, { force: true });
    // ENOTEMPTY while other files of the key remain.
    await rmdir(path.dirname(file)).catch(() => undefined);
  }

  /** Removes a key's folder with everything in it. A missing folder is not an error. */
  async removeKey(key: string): Promise<void> {
    await rm(path.join(this.root, checkSegment('key', key)), { recursive: true, force: true });
  }

  /**
   * The files of one key, or of every key, oldest first (by modification time, then key and
   * name). Entries whose names could not have been written here, and files being written,
   * are left out.
   */
  async list(key?: string): Promise<CropEntry[]> {
    const keys =
      key !== undefined
        ? [checkSegment('key', key)]
        : (await readdir(this.root, { withFileTypes: true }).catch(() => []))
            .filter((e) => e.isDirectory() && this.parse(`${e.name}/x`))
            .map((e) => e.name);
    const out: CropEntry[] = [];
    for (const k of keys) {
      const names = await readdir(path.join(this.root, k)).catch(() => [] as string[]);
      for (const name of names) {
        if (name.endsWith(TMP_SUFFIX) || !this.parse(`${k}/${name}`)) continue;
        const file = path.join(this.root, k, name);
        const s = await stat(file).catch(() => null);
        if (s?.isFile()) out.push({ key: k, name, file, size: s.size, mtime: s.mtime });
      }
    }
    return out.sort(
      (a, b) =>
        a.mtime.getTime() - b.mtime.getTime() || a.key.localeCompare(b.key) || a.name.localeCompare(b.name),
    );
  }

  /**
   * Removes what a crash or a failed write left behind: every `.tmp` file, and, when `keep` is
   * given, every file whose name matches `names` (default: any valid name) that `keep` refuses;
   * key folders left empty go too. Only files a CropFolder could have written are touched.
   * Resolves to the number of files removed.
   */
  async sweep(opts: { keep?: (key: string, name: string) => boolean; names?: RegExp } = {}): Promise<number> {
    let removed = 0;
    const keys = (await readdir(this.root, { withFileTypes: true }).catch(() => []))
      .filter((e) => e.isDirectory() && SEGMENT_RE.test(e.name) && !e.name.includes('..'))
      .map((e) => e.name);
    const sweepKey = async (key: string): Promise<void> => {
      const dir = path.join(this.root, key);
      const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
      let left = entries.length;
      for (const e of entries) {
        if (!e.isFile()) continue;
        const tmp = e.name.endsWith(TMP_SUFFIX);
        const name = tmp ? e.name.slice(0, -TMP_SUFFIX.length) : e.name;
        if (!this.parse(`${key}/${name}`)) continue;
        const orphan = !tmp && opts.keep && (opts.names ?? SEGMENT_RE).test(name) && !opts.keep(key, name);
        if (!tmp && !orphan) continue;
        await rm(path.join(dir, e.name), { force: true });
        removed++;
        left--;
      }
      if (left === 0) await rmdir(dir).catch(() => undefined);
    };
    // Several folders at a time: a large store has one per person.
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < keys.length) await sweepKey(keys[next++]);
    };
    await Promise.all(Array.from({ length: Math.min(16, keys.length) }, worker));
    return removed;
  }

  /** Total bytes of the files {@link list} reports. */
  async size(key?: string): Promise<number> {
    return (await this.list(key)).reduce((n, e) => n + e.size, 0);
  }
}
