/**
 * The audit log: one JSON object per line, appended. It records who did what to whom and when,
 * never a descriptor or an image. When a person is erased their earlier lines keep only time,
 * action, id and actor (see {@link AuditLog.scrubPerson}), so after an erasure their name is
 * nowhere in it.
 */
import { appendFile, readFile } from 'node:fs/promises';
import { isMissing, removeFile, rewriteLines } from './files';

/** Actions recorded in the audit log. */
export type AuditAction =
  | 'enrol'
  | 'add-sample'
  | 'remove-sample'
  | 'update'
  | 'delete'
  | 'import'
  | 'export'
  | 'reembed'
  | 'open'
  // Recurring visitors (the Face Library's Visitors view): details name the visitor ids.
  | 'visitor-enrol'
  | 'visitor-merge'
  | 'visitor-split'
  | 'visitor-forget';

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
  /** The instance that did it, on a store shared by several (PostgreSQL). */
  instance?: string;
}

/** The audit entries of an export that have an entry's shape; anything else is left out. */
export function auditEntriesOf(data: unknown): AuditEntry[] {
  if (!Array.isArray(data)) return [];
  const out: AuditEntry[] = [];
  for (const e of data as Array<Partial<Record<keyof AuditEntry, unknown>> | null>) {
    if (!e || typeof e !== 'object') continue;
    const { time, action, id, name, actor, details, instance } = e;
    if (typeof time !== 'string' || !Number.isFinite(Date.parse(time))) continue;
    if (typeof action !== 'string' || typeof actor !== 'string') continue;
    out.push({
      time: new Date(time).toISOString(),
      action: action as AuditAction,
      ...(typeof id === 'string' ? { id } : {}),
      ...(typeof name === 'string' ? { name } : {}),
      actor,
      ...(details && typeof details === 'object' && !Array.isArray(details)
        ? { details: details as Record<string, unknown> }
        : {}),
      ...(typeof instance === 'string' ? { instance } : {}),
    });
  }
  return out;
}

/** What tells one audit entry from another when a history is imported twice. */
export function auditKey(e: AuditEntry): string {
  return JSON.stringify([new Date(e.time).toISOString(), e.action, e.id ?? null, e.actor]);
}

/** Appends entries; writes (and scrubs) are chained so lines never interleave or get lost. */
export class AuditLog {
  private tail: Promise<void> = Promise.resolve();

  constructor(readonly file: string) {}

  /** Queues one entry and resolves when it is on disk. Failures are reported to the caller. */
  write(entry: Omit<AuditEntry, 'time'> & { time?: string }): Promise<void> {
    const line = JSON.stringify({ time: entry.time ?? new Date().toISOString(), ...entry }) + '\n';
    return this.chain(() => appendFile(this.file, line, { mode: 0o600 }));
  }

  /**
   * Rewrites the log so that the lines about person `id` keep only time, action, id and actor:
   * their name, earlier names, sources (photo file names often carry a name) and other details
   * go. A line that cannot be read and mentions the name or the id is dropped. Atomic: the log is
   * either as it was or scrubbed. Resolves when done; rejects when the log cannot be rewritten.
   */
  scrubPerson(id: string, name: string): Promise<void> {
    const idText = `"id":${JSON.stringify(id)}`;
    const nameText = JSON.stringify(name).slice(1, -1);
    const scrub = (line: string): string | null => {
      if (!line.includes(idText) && !line.includes(nameText)) return line;
      let entry: Partial<AuditEntry>;
      try {
        entry = JSON.parse(line) as Partial<AuditEntry>;
      } catch {
        return null;
      }
      if (entry.id !== id) return line;
      // An already scrubbed line prints the same and is left as it is.
      return JSON.stringify({ time: entry.time, action: entry.action, id: entry.id, actor: entry.actor });
    };
    return this.chain(async () => {
      try {
        await rewriteLines(this.file, scrub);
      } catch (err) {
        if (!isMissing(err)) throw err;
      }
    });
  }

  /** Every entry, oldest first (after the queued ones are written); a line that cannot be read is left out. */
  read(): Promise<AuditEntry[]> {
    return this.chain(() => Promise.resolve()).then(async () => {
      let text: string;
      try {
        text = await readFile(this.file, 'utf8');
      } catch (err) {
        if (isMissing(err)) return [];
        throw err;
      }
      const lines: unknown[] = [];
      for (const line of text.split('\n')) {
        if (!line.trim()) continue;
        try {
          lines.push(JSON.parse(line));
        } catch {
          // A line torn by a crash.
        }
      }
      return auditEntriesOf(lines);
    });
  }

  /** Removes the temporary file a crash during a scrub left behind. */
  async sweep(): Promise<void> {
    await removeFile(`${this.file}.tmp`).catch(() => undefined);
  }

  /** Resolves when every queued entry is written. */
  flush(): Promise<void> {
    return this.tail;
  }

  private chain(task: () => Promise<void>): Promise<void> {
    const next = this.tail.then(task);
    this.tail = next.catch(() => undefined);
    return next;
  }
}
