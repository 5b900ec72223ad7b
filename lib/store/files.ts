/**
 * File helpers of the face store: durable atomic writes, line-by-line rewrites, and the checks
 * every fault path shares. Nothing here uses a stream's events: every failure is a rejected
 * promise, so no write error can become an uncaught exception.
 */
import { open, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import readline from 'node:readline';

/** The detection log's datafile of a store's datafile: `<dir>/<base>-events/events.db`. */
export function eventLogFile(storeFile: string): string {
  const file = path.resolve(storeFile);
  const base = path.basename(file, path.extname(file));
  return path.join(path.dirname(file), `${base}-events`, 'events.db');
}

/** The error code of a failed file operation, if it has one. */
export function errorCode(err: unknown): string | undefined {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** True for "the file is not there". */
export function isMissing(err: unknown): boolean {
  return errorCode(err) === 'ENOENT';
}

/** True for a full disk or an exhausted quota. */
export function isNoSpace(err: unknown): boolean {
  const code = errorCode(err);
  return code === 'ENOSPC' || code === 'EDQUOT';
}

/** The message of any thrown value. */
export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Flushes a folder's entries (a rename or an unlink in it) to disk. File systems that cannot
 * fsync a folder (EINVAL, EISDIR, EPERM on some platforms) are not an error.
 */
export async function syncDir(dir: string): Promise<void> {
  let fh: FileHandle | undefined;
  try {
    fh = await open(dir, 'r');
    await fh.sync();
  } catch (err) {
    const code = errorCode(err);
    if (code !== 'EINVAL' && code !== 'EISDIR' && code !== 'EPERM' && code !== 'ENOTSUP') throw err;
  } finally {
    await fh?.close().catch(() => undefined);
  }
}

/** Removes a plain file; a missing file is not an error. Refuses (rejects) anything but a file. */
export async function removeFile(file: string): Promise<void> {
  try {
    const s = await stat(file);
    if (!s.isFile()) throw Object.assign(new Error(`${file} is not a file`), { code: 'EISDIR' });
  } catch (err) {
    if (isMissing(err)) return;
    throw err;
  }
  await rm(file, { force: true });
}

/**
 * Writes a whole file atomically and durably: into `<file>.tmp` (created with `mode`), fsynced,
 * renamed over `file`, the folder fsynced. On failure the temporary file is removed and `file`
 * is as it was.
 */
export async function writeFileDurably(file: string, data: string | Buffer, mode = 0o600): Promise<void> {
  const tmp = `${file}.tmp`;
  let fh: FileHandle | undefined;
  try {
    fh = await open(tmp, 'w', mode);
    await fh.chmod(mode);
    await fh.writeFile(data);
    await fh.sync();
    await fh.close();
    fh = undefined;
    await rename(tmp, file);
  } catch (err) {
    await fh?.close().catch(() => undefined);
    await removeFile(tmp).catch(() => undefined);
    throw err;
  }
  await syncDir(path.dirname(file));
}

/**
 * Calls `onLine` with every non-empty line of a text file (awaiting it, so reading follows the
 * caller's pace), until it returns false. Rejects when
 * the file cannot be opened or read (never an uncaught stream error).
 */
export async function readLines(
  file: string,
  onLine: (line: string) => boolean | void | Promise<boolean | void>,
): Promise<void> {
  // Opened first, so a missing or unreadable file rejects here; reading starts only under the
  // loop below, whose iterator receives every read error (an error before iteration would hang it).
  const src = await open(file, 'r');
  const input = src.createReadStream({ encoding: 'utf8', autoClose: false });
  // The loop may end early; a read still in flight then must not become an uncaught 'error' event.
  input.on('error', () => undefined);
  try {
    for await (const line of readline.createInterface({ input, crlfDelay: Infinity })) {
      if (line !== '' && (await onLine(line)) === false) break;
    }
  } finally {
    input.destroy();
    await src.close().catch(() => undefined);
  }
}

/** What {@link rewriteLines} does with one line: the same string keeps it, another replaces it, null drops it. */
export type LineRewrite = (line: string) => string | null;

/**
 * Rewrites a text file line by line: every non-empty line goes through `rewrite` (which must be
 * pure: it is called twice for a line it changes), the result is written to `<file>.tmp` (mode
 * `mode`), fsynced and renamed over `file`. A first, read-only pass looks for a line to change,
 * so a file with none is neither copied nor touched. `rewrite` may throw to abandon the rewrite
 * (the file is left untouched). Resolves to whether the file was rewritten; rejects on any read
 * or write error, after removing the temporary file.
 */
export async function rewriteLines(file: string, rewrite: LineRewrite, mode = 0o600): Promise<boolean> {
  let changes = false;
  await readLines(file, (line) => {
    changes = rewrite(line) !== line;
    return !changes;
  });
  if (!changes) return false;
  const tmp = `${file}.tmp`;
  let out: FileHandle | undefined;
  try {
    out = await open(tmp, 'w', mode);
    await out.chmod(mode);
    let chunk = '';
    const handle = out;
    await readLines(file, async (line) => {
      const next = rewrite(line);
      if (next === null) return;
      chunk += next + '\n';
      if (chunk.length >= 65536) {
        await handle.write(chunk);
        chunk = '';
      }
    });
    if (chunk) await out.write(chunk);
    await out.sync();
    await out.close();
    out = undefined;
    await rename(tmp, file);
  } catch (err) {
    await out?.close().catch(() => undefined);
    await removeFile(tmp).catch(() => undefined);
    throw err;
  }
  await syncDir(path.dirname(file));
  return true;
}
