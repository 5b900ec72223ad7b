/**
 * The audit log: one JSON object per line, appended. It records who did what to whom and when,
 * never a descriptor or an image, so that it can be kept after a person is erased.
 */
import { appendFile } from 'node:fs/promises';

/** Actions recorded in the audit log. */
export type AuditAction =
  'enrol' | 'add-sample' | 'remove-sample' | 'update' | 'delete' | 'import' | 'export' | 'reembed' | 'open';

/** One line of the audit log. */
export interface AuditEntry {
  /** ISO time. */
  time: string;
  action: AuditAction;
  /** Person id, when the action is about one person. */
  id?: string;
  name?: string;
  /** Who did it: a Node-RED node or user, `cli:<user>`, or `unknown`. */
  actor: string;
  /** Counts, sources and other facts; never descriptors. */
  details?: Record<string, unknown>;
}

/** Appends entries; writes are chained so lines never interleave. */
export class AuditLog {
  private tail: Promise<void> = Promise.resolve();

  constructor(readonly file: string) {}

  /** Queues one entry and resolves when it is on disk. Failures are reported to the caller. */
  write(entry: Omit<AuditEntry, 'time'> & { time?: string }): Promise<void> {
    const line = JSON.stringify({ time: entry.time ?? new Date().toISOString(), ...entry }) + '\n';
    const next = this.tail.then(() => appendFile(this.file, line, { mode: 0o600 }));
    this.tail = next.catch(() => undefined);
    return next;
  }

  /** Resolves when every queued entry is written. */
  flush(): Promise<void> {
    return this.tail;
  }
}
