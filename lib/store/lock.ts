/**
 * One process owns a face store at a time: `<datafile>.lock` holds the owner's pid, host and a
 * label. A lock of a process that no longer runs on this host is stale and taken over.
 *
 * A lock is created whole: its content is written to a temporary file that is then hard-linked
 * to the lock's name, which fails (EEXIST) when the name is taken. So a lock is never seen
 * half-written, and of several processes creating it at once exactly one succeeds.
 *
 * Taking over a stale lock means removing it, and two processes must not both remove "the stale
 * lock" when one of them has already replaced it with its own: only the holder of the takeover
 * guard (`<lock>.takeover`, itself created whole with its holder's pid) removes a lock, and only
 * after checking, under the guard, that the lock is still the one it found stale (same inode and
 * token). A guard whose process no longer runs, or older than a few seconds, is stale in turn.
 */
import {
  closeSync,
  fsyncSync,
  linkSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { StoreError } from './errors';

/** What a lock file holds. */
export interface LockInfo {
  pid: number;
  host: string;
  owner: string;
  since: string;
  token: string;
}

/** A takeover guard older than this was left by a process that died (or hangs) while holding it. */
const STALE_GUARD_MS = 5000;
/** An unreadable lock younger than this may be one an older version is still writing. */
const YOUNG_LOCK_MS = 5000;
/** How long {@link StoreLock.acquire} waits out another process's takeover or a lock being written. */
const WAIT_MS = 1000;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to another user.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function code(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException).code;
}

function sleep(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function unlinkQuietly(file: string): void {
  try {
    unlinkSync(file);
  } catch {
    // Already gone.
  }
}

function parseLock(text: string): LockInfo | null {
  try {
    const info = JSON.parse(text) as Partial<LockInfo>;
    return typeof info.pid === 'number' && typeof info.token === 'string' ? (info as LockInfo) : null;
  } catch {
    return null;
  }
}

function readLock(file: string): LockInfo | null {
  try {
    return parseLock(readFileSync(file, 'utf8'));
  } catch {
    return null;
  }
}

/** A lock file as found: its content (null: unreadable), identity and age; null when there is none. */
interface Found {
  info: LockInfo | null;
  ino: number;
  size: number;
  mtimeMs: number;
}

function find(file: string): Found | null {
  let s;
  try {
    s = statSync(file);
  } catch (err) {
    if (code(err) === 'ENOENT') return null;
    throw err;
  }
  return { info: readLock(file), ino: s.ino, size: s.size, mtimeMs: s.mtimeMs };
}

function same(a: Found | null, b: Found): boolean {
  if (!a || a.ino !== b.ino) return false;
  // Inode numbers are re-used: the token tells two locks apart (an unreadable one, its size and time).
  return a.info || b.info ? a.info?.token === b.info?.token : a.size === b.size && a.mtimeMs === b.mtimeMs;
}

/** The temporary files of {@link createWhole}, named after the target and the writer's pid. */
function tempName(target: string): string {
  return `${target}.${process.pid}-${Math.random().toString(36).slice(2, 10)}.tmp`;
}

/**
 * Creates `target` with `text` as one step: true when created, false when it exists. File
 * systems without hard links fall back to an exclusive create (written just after).
 */
function createWhole(target: string, text: string): boolean {
  const tmp = tempName(target);
  const fd = openSync(tmp, 'wx', 0o644);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    linkSync(tmp, target);
    return true;
  } catch (err) {
    if (code(err) === 'EEXIST') return false;
    if (code(err) !== 'EPERM' && code(err) !== 'ENOTSUP' && code(err) !== 'ENOSYS') throw err;
  } finally {
    unlinkQuietly(tmp);
  }
  let fd2: number;
  try {
    fd2 = openSync(target, 'wx', 0o644);
  } catch (err) {
    if (code(err) === 'EEXIST') return false;
    throw err;
  }
  try {
    writeSync(fd2, text);
  } finally {
    closeSync(fd2);
  }
  return true;
}

/** A held lock; `release()` removes the file if it is still ours. */
export class StoreLock {
  /**
   * Lock files held by this process. A lock naming our own pid that is not in this set was left
   * by an earlier process that had the same pid (common in containers, where Node-RED is often
   * pid 1 after every restart), so it is stale.
   */
  private static readonly held = new Set<string>();

  private released = false;

  private constructor(
    readonly file: string,
    readonly info: LockInfo,
  ) {}

  /** Takes the lock or throws `ESTORE_LOCKED` naming the process that holds it. */
  static acquire(file: string, owner: string, storeFile: string): StoreLock {
    const info: LockInfo = {
      pid: process.pid,
      host: os.hostname(),
      owner,
      since: new Date().toISOString(),
      token: `${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}`,
    };
    const text = JSON.stringify(info);
    const deadline = Date.now() + WAIT_MS;
    for (;;) {
      let created: boolean;
      try {
        created = createWhole(file, text);
      } catch (err) {
        throw new Error(`the lock ${file} of ${storeFile} cannot be created: ${(err as Error).message}`, {
          cause: err,
        });
      }
      if (created) {
        StoreLock.held.add(file);
        StoreLock.sweep(file);
        return new StoreLock(file, info);
      }
      const found = find(file);
      if (!found) continue;
      const other = found.info;
      if (other && !StoreLock.isStale(file, other)) {
        throw new StoreError(
          'ESTORE_LOCKED',
          `face store ${storeFile} is in use by ${other.owner} (pid ${other.pid} on ${other.host}, since ${other.since}); ` +
            `stop that process first (for Node-RED: stop Node-RED or disable the flows using this store). ` +
            `If no such process runs, delete ${file}.`,
          { lock: other },
        );
      }
      let busy: string | null = null;
      if (!other && Date.now() - found.mtimeMs < YOUNG_LOCK_MS) {
        // Not ours to judge yet: a lock that an older version is writing in two steps.
        busy = `the lock ${file} is being written by another process, or is damaged; if no process uses ${storeFile}, delete it`;
      } else if (!StoreLock.takeOver(file, found)) {
        busy = `another process is taking over the stale lock ${file} of ${storeFile}`;
      }
      if (busy) {
        if (Date.now() > deadline) throw new StoreError('ESTORE_LOCKED', busy);
        sleep(5 + Math.random() * 10);
      }
    }
  }

  /**
   * Removes a stale lock under the takeover guard, if it is still the one found. False when
   * another process holds the guard.
   */
  private static takeOver(file: string, found: Found): boolean {
    const guard = `${file}.takeover`;
    const me = JSON.stringify({ pid: process.pid, host: os.hostname() });
    if (!createWhole(guard, me)) {
      StoreLock.clearStaleGuard(guard);
      return false;
    }
    try {
      // Under the guard nobody else removes a lock: if this is still the stale one, it goes.
      if (same(find(file), found)) unlinkQuietly(file);
    } finally {
      unlinkQuietly(guard);
    }
    return true;
  }

  /** Removes a guard left by a process that died (or hangs) while holding it. */
  private static clearStaleGuard(guard: string): void {
    let s;
    let holder: { pid?: number; host?: string } = {};
    try {
      s = statSync(guard);
      holder = JSON.parse(readFileSync(guard, 'utf8')) as typeof holder;
    } catch {
      return;
    }
    const dead = holder.host === os.hostname() && typeof holder.pid === 'number' && !alive(holder.pid);
    if (!dead && Date.now() - s.mtimeMs < STALE_GUARD_MS) return;
    // Moved aside first, so that a guard someone created in between is not the one removed.
    const aside = tempName(guard).replace(/\.tmp$/, '.stale');
    try {
      renameSync(guard, aside);
    } catch {
      return;
    }
    try {
      if (statSync(aside).ino !== s.ino) linkSync(aside, guard);
    } catch {
      // The name was taken again meanwhile: that process holds the guard now.
    } finally {
      unlinkQuietly(aside);
    }
  }

  /** Removes the temporary files of lock writers that no longer run. */
  private static sweep(file: string): void {
    const dir = path.dirname(file);
    const base = path.basename(file).replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    const re = new RegExp(`^${base}(?:\\.takeover)?\\.(\\d+)-[a-z0-9]+\\.(?:tmp|stale)$`);
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      return;
    }
    for (const name of names) {
      const m = re.exec(name);
      if (m && Number(m[1]) !== process.pid && !alive(Number(m[1]))) unlinkQuietly(path.join(dir, name));
    }
  }

  private static isStale(file: string, other: LockInfo): boolean {
    if (other.host !== os.hostname()) return false;
    if (other.pid === process.pid) return !StoreLock.held.has(file);
    return !alive(other.pid);
  }

  /** Reads the lock of a store without taking it; null when none is held by a live process. */
  static holder(file: string): LockInfo | null {
    const other = readLock(file);
    return other && !StoreLock.isStale(file, other) ? other : null;
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    StoreLock.held.delete(this.file);
    if (readLock(this.file)?.token === this.info.token) unlinkQuietly(this.file);
  }
}
