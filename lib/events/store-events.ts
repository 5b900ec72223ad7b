/**
 * The detection log of a face store. Events belong to their store: a store `faces.db` keeps them in
 * `faces-events/` beside it (`events.db`, the pictures in `events/<event id>/`, the daily files), so
 * two stores in one folder never share events, and erasing a person from a store erases their
 * events, their face in other people's frames and their daily lines, whether a detection-log is
 * deployed or not: the log is one of the store's erasers.
 */
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename } from 'node:fs/promises';
import path from 'node:path';
import { FaceStore, type StoreOptions } from '../store/face-store';
import { EventLog, type EventLogSettings } from './log';

/** The events datafile of a store's datafile: `<dir>/<base>-events/events.db`. */
export function eventLogFile(storeFile: string): string {
  const file = path.resolve(storeFile);
  const base = path.basename(file, path.extname(file));
  return path.join(path.dirname(file), `${base}-events`, 'events.db');
}

const LEGACY_DAILY = /^detections_\d{4}-\d{2}-\d{2}\.jsonl$/;

/**
 * Moves the events of an older FaceWatch (`events.db`, `events/` and the daily files beside the
 * datafile, shared by every store of the folder) to the store's own folder, when this store is the
 * only one in the folder. Resolves to a warning when they cannot be told apart (several stores).
 */
async function adoptLegacyEvents(storeFile: string, target: string): Promise<string | undefined> {
  const dir = path.dirname(path.resolve(storeFile));
  const legacy = path.join(dir, 'events.db');
  if (!existsSync(legacy) || existsSync(target)) return undefined;
  const names = await readdir(dir);
  const stores: string[] = [];
  for (const n of names) {
    if (!n.endsWith('.db') || n === 'events.db') continue;
    const head = await readFile(path.join(dir, n), 'utf8').catch(() => '');
    if (head.includes('"_id":"#meta"') || path.join(dir, n) === path.resolve(storeFile)) stores.push(n);
  }
  if (stores.length > 1)
    return (
      `${legacy} holds the events of several face stores (${stores.join(', ')}) and was left where it is: ` +
      `events now belong to their store (${path.relative(dir, target)}); move the old ones by hand or let retention remove them`
    );
  const to = path.dirname(target);
  await mkdir(to, { recursive: true, mode: 0o700 });
  await rename(legacy, target);
  if (existsSync(path.join(dir, 'events'))) await rename(path.join(dir, 'events'), path.join(to, 'events'));
  for (const n of names) if (LEGACY_DAILY.test(n)) await rename(path.join(dir, n), path.join(to, n));
  return undefined;
}

/** Who configured a store's log, and how. */
interface Configurer {
  who: string;
  settings: EventLogSettings;
}

function sameSettings(a: EventLogSettings, b: EventLogSettings): boolean {
  const keys: Array<keyof EventLogSettings> = [
    'dailyFiles',
    'timezone',
    'retainKnownDays',
    'retainUnknownDays',
    'maxDiskMB',
  ];
  return keys.every((k) => (a[k] ?? '') === (b[k] ?? ''));
}

/** A store's detection log, opened on first use and closed with the store. */
export class StoreEvents {
  /** The events datafile. */
  readonly file: string;
  private opening?: Promise<EventLog>;
  private readonly configurers: Configurer[] = [];
  private readonly detach: () => void;
  /** A warning of the legacy move, said once by whoever opens the log. */
  private legacyWarning?: string;

  constructor(readonly store: FaceStore) {
    this.file = eventLogFile(store.file);
    this.detach = store.addEraser('detection log', {
      erasePerson: (person) => this.erasePerson(person.id),
    });
  }

  /** Opens the log (creating its files); every caller gets the same one. */
  open(): Promise<EventLog> {
    this.opening ??= (async () => {
      this.legacyWarning = await adoptLegacyEvents(this.store.file, this.file);
      const first = this.configurers[0];
      return EventLog.open({ file: this.file, ...first?.settings });
    })();
    // A failed open is tried again by the next caller.
    this.opening.catch(() => (this.opening = undefined));
    return this.opening;
  }

  /** The log when it is open or its files exist; undefined otherwise (a read never creates files). */
  async existing(): Promise<EventLog | undefined> {
    if (this.opening) return this.opening;
    const dir = path.dirname(path.resolve(this.store.file));
    if (existsSync(this.file) || existsSync(path.join(dir, 'events.db'))) return this.open();
    return undefined;
  }

  /** The warning of moving an older FaceWatch's shared events, once. */
  takeWarning(): string | undefined {
    const w = this.legacyWarning;
    this.legacyWarning = undefined;
    return w;
  }

  /**
   * Opens the log with a detection-log's settings. One store keeps one log, so the first
   * detection-log's settings are used; a later one that differs gets a warning saying whose are in
   * force. When the first one leaves ({@link unconfigure}) the next one's apply.
   */
  async configure(who: string, settings: EventLogSettings): Promise<{ log: EventLog; warning?: string }> {
    this.configurers.push({ who, settings });
    const log = await this.open();
    const first = this.configurers[0];
    if (first.who === who) {
      log.configure(settings);
      return { log };
    }
    if (sameSettings(first.settings, settings)) return { log };
    return {
      log,
      warning:
        `this detection-log's retention, disk cap, time zone or daily files differ from those of detection-log ${first.who}, ` +
        `which the events of face store ${this.store.file} follow: a store keeps one detection log, give its detection-logs the same settings`,
    };
  }

  /** A detection-log leaves: when it was the one whose settings applied, the next one's apply. */
  unconfigure(who: string): void {
    const i = this.configurers.findIndex((c) => c.who === who);
    if (i < 0) return;
    this.configurers.splice(i, 1);
    if (i === 0 && this.configurers[0] && this.opening)
      void this.opening.then((log) => log.configure(this.configurers[0].settings)).catch(() => undefined);
  }

  /** Erases a person's events (see {@link EventLog.erasePerson}); 0 when the store has no events. */
  async erasePerson(id: string): Promise<number> {
    const log = await this.existing();
    return log ? log.erasePerson(id) : 0;
  }

  /** Waits for the log's writes and stops erasing with the store. */
  async close(): Promise<void> {
    this.detach();
    attached.delete(this.store);
    const log = await this.opening?.catch(() => undefined);
    await log?.close();
  }
}

const attached = new WeakMap<FaceStore, StoreEvents>();

/**
 * The detection log of an open store, attached (as one of its erasers) on the first call. Close it
 * before the store ({@link StoreEvents.close}).
 */
export function storeEvents(store: FaceStore): StoreEvents {
  let events = attached.get(store);
  if (!events) {
    events = new StoreEvents(store);
    attached.set(store, events);
  }
  return events;
}

/**
 * Opens a store with its detection log attached as an eraser, and finishes the erasures an earlier
 * run left pending (a crash, a full disk) before anybody uses it: a store whose pending erasure
 * cannot be finished does not open, and says why.
 */
export async function openStore(opts: StoreOptions): Promise<FaceStore> {
  const store = await FaceStore.open(opts);
  try {
    storeEvents(store);
    finishedAtOpen.set(store, await store.finishPendingErasures(opts.actor));
  } catch (err) {
    await closeStore(store).catch(() => undefined);
    throw err;
  }
  return store;
}

const finishedAtOpen = new WeakMap<FaceStore, string[]>();

/** The ids whose erasure, cut short by an earlier run, {@link openStore} finished. */
export function erasuresFinishedAtOpen(store: FaceStore): string[] {
  return finishedAtOpen.get(store) ?? [];
}

/** Closes a store opened by {@link openStore}: its detection log first, then the store. */
export async function closeStore(store: FaceStore): Promise<void> {
  await attached.get(store)?.close();
  await store.close();
}
