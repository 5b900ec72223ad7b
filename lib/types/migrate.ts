/**
 * Upgrades a node's saved settings to the current settings version (SETTINGS_VERSION, which is the
 * number of migration steps of each node type). The runtime applies it when a node loads, before reading the settings; the editor
 * applies it when the edit dialog opens, so a node saved by an older version shows what it will run
 * with. Settings saved without a `version` are version 0.
 *
 * Isomorphic: used by the editor bundles and the runtime.
 */
import { CAMERA, CAMERA_SOURCES, MATCH, STORE, type CameraSource } from './defaults';
import type { FaceWatchNodeType } from './node-types';

/** One setting a migration changed. */
export interface SettingChange {
  setting: string;
  from: unknown;
  to: unknown;
  /** Why, in a sentence a user can act on. */
  reason: string;
}

/** The outcome of {@link migrateSettings}. */
export interface Migrated<T> {
  /** The settings at the current version (a copy; the input is not changed). */
  settings: T & { version: number };
  /** The version the settings were saved with. */
  from: number;
  /** The version they are at now. */
  to: number;
  /** Every setting whose value changed. */
  changes: SettingChange[];
}

type Settings = Record<string, unknown>;
/** A step from version i to i + 1: changes the settings in place and says what it changed. */
type Step = (s: Settings) => SettingChange[];

/** The threshold every face-match node got by default before settings version 1. */
export const OLD_MATCH_THRESHOLD = 0.6;

/**
 * The source a face-camera saved before version 2 had, from its literal URL: before then the URL
 * alone decided, and anything without a scheme was read as a file. A `${VAR}` is a network camera
 * (the example flow's, and the only safe reading of an address nobody can see yet).
 */
export function inferCameraSource(url: unknown): CameraSource {
  const u = typeof url === 'string' ? url.trim() : '';
  if (!u || u.includes('${')) return 'network';
  if (/^\/dev\/video\d+$/.test(u)) return 'device';
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(u)?.[1];
  // A single letter before the colon is a Windows drive (C:\clips\door.mp4).
  if (!scheme || scheme.length === 1 || scheme.toLowerCase() === 'file') return 'file';
  return 'network';
}

/** Steps per node type; index i upgrades version i to i + 1. */
const STEPS: Record<FaceWatchNodeType, Step[]> = {
  'face-engine': [() => []],
  'face-detect': [() => []],
  'face-store': [
    () => [],
    // 1 → 2: a backend (a datafile, as before, or PostgreSQL) and the PostgreSQL settings.
    (s) => {
      s.backend ??= STORE.backend.default;
      s.url ??= '';
      s.schema ??= '';
      s.poolSize ??= STORE.poolSize.default;
      return [];
    },
  ],
  'face-match': [
    // 0 → 1: the default threshold went from 0.6 to 0.5 (README "Recognition"). A threshold of
    // exactly 0.6 is the old default that the editor wrote into the flow; any other was chosen.
    (s) => {
      const t = s.threshold;
      if ((typeof t === 'number' || typeof t === 'string') && t !== '' && Number(t) === OLD_MATCH_THRESHOLD) {
        s.threshold = MATCH.threshold.default;
        return [
          {
            setting: 'threshold',
            from: t,
            to: MATCH.threshold.default,
            reason:
              `threshold ${OLD_MATCH_THRESHOLD}, the old default, is now the new default ${MATCH.threshold.default}: ` +
              'at 0.6 a stranger can be named (closest different-person pair of the shared photos: 0.595). ' +
              `Set ${OLD_MATCH_THRESHOLD} again in the node to keep the old behaviour.`,
          },
        ];
      }
      return [];
    },
    // 1 → 2: a rule for comparing a person's samples; a node saved before compared with the nearest
    // sample, and gets the new default, the mean, which names more and keeps strangers farther
    // (README "Recognition"). With one sample per person the two are the same.
    (s) => {
      s.rule ??= MATCH.rule.default;
      return [];
    },
    // 2 → 3: a name is held along a camera's track (README "Recognition"); a node saved before gets
    // the default too: it names a face only after the threshold named it, so no stranger more.
    (s) => {
      s.hold ??= MATCH.hold.default;
      return [];
    },
  ],
  'face-register': [() => []],
  'face-camera': [
    () => [],
    // 1 → 2: the camera's source (network, file, device) is a setting of its own; before, the URL
    // alone decided. A network camera is what the default says, so only a file or a device is news.
    (s) => {
      if (typeof s.source === 'string' && (CAMERA_SOURCES as readonly string[]).includes(s.source)) return [];
      const source = inferCameraSource(s.url);
      s.source = source;
      if (source === 'network') return [];
      return [
        {
          setting: 'source',
          from: undefined,
          to: source,
          reason: `the camera's address is a local ${source === 'file' ? 'video file' : 'video device'}: its source is now set to "${source}" (a camera says whether it is a network camera, a file or a device).`,
        },
      ];
    },
    // 2 → 3: faces are described from the camera's full picture by default (a camera wider than
    // the frames); a camera saved before gets it too, silently: its frames and boxes stay the same.
    (s) => {
      s.describeFrom ??= CAMERA.describeFrom.default;
      return [];
    },
  ],
  'rtsp-source': [() => []],
  'detection-log': [() => []],
  'face-mqtt-broker': [() => []],
  'face-mqtt': [() => []],
};

/**
 * The current settings version of each node type (a `version` setting in the flow file; absent
 * means 0): the number of its steps above, so a migration and the version cannot disagree. Add a
 * step when a default changes meaning.
 */
export const SETTINGS_VERSION: Readonly<Record<FaceWatchNodeType, number>> = Object.freeze(
  Object.fromEntries(Object.entries(STEPS).map(([type, steps]) => [type, steps.length])) as Record<
    FaceWatchNodeType,
    number
  >,
);

/** The version a node's settings were saved with: 0 when absent or unreadable. */
export function settingsVersion(settings: { version?: unknown }): number {
  const v = settings.version;
  const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
  return Number.isInteger(n) && n >= 0 ? n : 0;
}

/**
 * Upgrades `settings` of a node of `type` to the current version. Settings from a newer version
 * (a downgrade) are returned unchanged.
 */
export function migrateSettings<T extends object>(type: FaceWatchNodeType, settings: T): Migrated<T> {
  const current = SETTINGS_VERSION[type];
  const from = settingsVersion(settings);
  const s = { ...settings } as unknown as Settings;
  const changes: SettingChange[] = [];
  if (from > current) return { settings: s as T & { version: number }, from, to: from, changes };
  const steps = STEPS[type];
  for (let v = from; v < current; v++) changes.push(...(steps[v]?.(s) ?? []));
  s.version = current;
  return { settings: s as T & { version: number }, from, to: current, changes };
}

/** One line saying what a migration changed, for a node's log. */
export function describeMigration(type: FaceWatchNodeType, m: Migrated<unknown>): string | undefined {
  if (!m.changes.length) return undefined;
  return `${type} settings upgraded from version ${m.from} to ${m.to}: ${m.changes.map((c) => c.reason).join(' ')}`;
}
