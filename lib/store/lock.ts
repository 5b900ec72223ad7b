/**
 * One process owns a face store at a time: `<datafile>.lock` holds the owner's pid, host and a
 * label. A lock of a process that no longer runs on this host is stale and taken over.
 */
import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import os from 'node:os';
import { StoreError } from './errors';

/** What a lock file holds. */
export interface LockInfo {
  pid: number;
  host: string;
  owner: string;
  since: string;
  token: string;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to another user.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readLock(file: string): LockInfo | null {
  try {
    const info = JSON.parse(readFileSync(file, 'utf8')) as Partial<LockInfo>;
    return typeof info.pid === 'number' ? (info as LockInfo) : null;
  } catch {
    return null;
  }
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
    for (let attempt = 0; attempt < 3; attempt++) {
      let fd: number;
      try {
        fd = openSync(file, 'wx', 0o644);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        const other = readLock(file);
        if (other && !StoreLock.isStale(file, other)) {
          throw new StoreError(
            'ESTORE_LOCKED',
            `face store ${storeFile} is in use by ${other.owner} (pid ${other.pid} on ${other.host}, since ${other.since}); ` +
              `stop that process first (for Node-RED: stop Node-RED or disable the flows using this store). ` +
              `If no such process runs, delete ${file}.`,
            { lock: other },
          );
        }
        // Stale (or unreadable, i.e. half-written by a crash): take it over.
        try {
          unlinkSync(file);
        } catch {
          // Another process may have taken it over in between; the next attempt tells.
        }
        continue;
      }
      try {
        writeSync(fd, JSON.stringify(info));
      } finally {
        closeSync(fd);
      }
      // Two processes taking over the same stale lock: the later writer wins, the other backs off.
      const check = readLock(file);
      if (check?.token !== info.token) continue;
      StoreLock.held.add(file);
      return new StoreLock(file, info);
    }
    throw new StoreError(
      'ESTORE_LOCKED',
      `could not take the lock ${file} for ${storeFile}: another process keeps taking it`,
    );
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
    if (readLock(this.file)?.token === this.info.token) {
      try {
        unlinkSync(this.file);
      } catch {
        // Already gone: nothing to release.
      }
    }
  }
}
