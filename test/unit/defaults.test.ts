/**
 * The defaults module (lib/types/defaults.ts) and the settings migrations (lib/types/migrate.ts):
 * every editor default, runtime parser, library default and CLI help text agrees with the module,
 * and old flows are upgraded.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import { DEFAULT_ENROL_OPTIONS, resolveEnrolOptions } from '../../lib/store/enrol';
import { DEFAULT_MATCH_OPTIONS, resolveMatchOptions } from '../../lib/store/match';
import { DEFAULT_DETECT_OPTIONS } from '../../lib/types';
import {
  CAMERA,
  DETECT,
  DETECT_NODE,
  describeLimit,
  ENGINE,
  ENROL,
  EVENTS,
  inLimit,
  isNumberLimit,
  MATCH,
  MOTION,
  MQTT,
  readChoice,
  readNumber,
  STORE,
  type FaceWatchNodeType,
  type Limit,
  type NumberLimit,
} from '../../lib/types/defaults';
import {
  migrateSettings,
  OLD_MATCH_THRESHOLD,
  SETTINGS_VERSION,
  settingsVersion,
} from '../../lib/types/migrate';
import { NODE_TYPES } from '../../lib/types/node-types';
import { resolveDetectOptions } from '../../lib/vision/engine';
import { detectSettings } from '../../nodes/face-detect/config';
import { engineConfig } from '../../nodes/face-engine/config';
import { matchSettings } from '../../nodes/face-match/config';
import { enrolSettings } from '../../lib/store/enrol-settings';
import { storeSettings } from '../../nodes/face-store/config';
import { upgradeSettings } from '../../nodes/shared/settings';
import { ROOT } from '../helpers/env';

const TYPES: readonly FaceWatchNodeType[] = NODE_TYPES;

/** Which limit each editor setting of each node takes its default and validator from. */
const EDITOR_LIMITS: Partial<Record<FaceWatchNodeType, Record<string, Limit>>> = {
  'face-engine': {
    backend: ENGINE.backend,
    poolSize: ENGINE.poolSize,
    detector: DETECT.detector,
    inputSize: DETECT.inputSize,
    minConfidence: DETECT.minConfidence,
    minFaceSize: DETECT.minFaceSize,
    maxDimension: DETECT.maxDimension,
  },
  // face-detect's numbers are empty by default (the engine's apply); their validators follow DETECT.
  'face-detect': {
    keepImage: DETECT_NODE.keepImage,
    motion: MOTION.mode,
    motionSensitivity: MOTION.sensitivity,
    motionMinArea: MOTION.minArea,
    motionKeepAlive: MOTION.keepAlive,
    motionRefresh: MOTION.refresh,
    motionSkipped: MOTION.skipped,
  },
  'face-store': { backups: STORE.backups, backend: STORE.backend, poolSize: STORE.poolSize },
  'face-match': {
    threshold: MATCH.threshold,
    margin: MATCH.margin,
    candidates: MATCH.candidates,
    rule: MATCH.rule,
    hold: MATCH.hold,
  },
  'face-register': {
    faces: ENROL.faces,
    existing: ENROL.existing,
    duplicatePolicy: ENROL.duplicatePolicy,
    duplicateThreshold: ENROL.duplicateThreshold,
    minFaceSize: ENROL.minFaceSize,
    minSharpness: ENROL.minSharpness,
    maxYaw: ENROL.maxYaw,
    maxMegabytes: ENROL.maxMegabytes,
  },
  'face-camera': {
    source: CAMERA.source,
    transport: CAMERA.transport,
    fps: CAMERA.fps,
    width: CAMERA.width,
    describeFrom: CAMERA.describeFrom,
    stallTimeout: CAMERA.stallTimeout,
    maxAttempts: CAMERA.maxAttempts,
  },
  'rtsp-source': {},
  'detection-log': {
    cooldown: EVENTS.cooldown,
    retainKnownDays: EVENTS.retainKnownDays,
    retainUnknownDays: EVENTS.retainUnknownDays,
    maxDiskMB: EVENTS.maxDiskMB,
  },
  'face-mqtt-broker': { qos: MQTT.qos, queueLimit: MQTT.queueLimit },
  'face-mqtt': { presenceTimeout: MQTT.presenceTimeout },
};
/** Editor settings that carry no limit (names, references, booleans, the outputs switch). */
const FREE = new Set([
  'name',
  'store',
  'engine',
  'file',
  'modelPath',
  'outputs',
  'version',
  'url',
  'camera',
  'timezone',
  // face-store (postgres): the schema's name ('' is the default schema).
  'schema',
  // face-mqtt-broker and face-mqtt: texts (their defaults are MQTT_TEXT's) and references.
  'clientId',
  'baseTopic',
  'discoveryPrefix',
  'tlsCa',
  'tlsCert',
  'tlsKey',
  'broker',
  // face-camera: the ONVIF address it was set up from, saved by the editor.
  'onvifAddress',
]);

interface EditorDefault {
  value: unknown;
  validate?: (v: unknown) => boolean;
  type?: string;
}
type EditorDefinition = { defaults: Record<string, EditorDefault>; oneditprepare?: () => void };

/** Loads each editor script with a stand-in RED and returns what it registered. */
async function loadEditors(): Promise<Map<string, EditorDefinition>> {
  const registered = new Map<string, EditorDefinition>();
  (globalThis as Record<string, unknown>).RED = {
    nodes: { registerType: (type: string, def: EditorDefinition) => registered.set(type, def) },
  };
  for (const type of TYPES) {
    const file = path.join(ROOT, 'nodes', type, 'editor', 'index.ts');
    if (existsSync(file)) await import(file);
  }
  return registered;
}

/** A value just outside the limit (above its max). */
const over = (l: NumberLimit): number => l.max + (l.multipleOf ?? l.step ?? 1);

describe('the defaults module', () => {
  it('has every default within its own limits and every choice default among its values', () => {
    for (const group of [DETECT, ENGINE, MATCH, ENROL, STORE, DETECT_NODE, MOTION, CAMERA]) {
      for (const [name, limit] of Object.entries(group) as Array<[string, Limit]>) {
        if (isNumberLimit(limit)) {
          assert.ok(limit.min <= limit.max, name);
          assert.ok(
            inLimit(limit, limit.default),
            `${name}: default ${limit.default} is ${describeLimit(limit)}`,
          );
        } else assert.ok(limit.values.includes(limit.default), name);
      }
    }
  });

  it('is what the library defaults are made of', () => {
    assert.deepEqual(DEFAULT_MATCH_OPTIONS, {
      threshold: MATCH.threshold.default,
      margin: MATCH.margin.default,
      k: MATCH.candidates.default,
      rule: MATCH.rule.default,
    });
    assert.equal(DEFAULT_DETECT_OPTIONS.detector, DETECT.detector.default);
    for (const k of [
      'inputSize',
      'minConfidence',
      'minFaceSize',
      'maxFaces',
      'maxDimension',
      'cropMargin',
    ] as const)
      assert.equal(DEFAULT_DETECT_OPTIONS[k], DETECT[k].default, k);
    for (const k of [
      'faces',
      'existing',
      'duplicatePolicy',
      'duplicateThreshold',
      'minFaceSize',
      'minSharpness',
      'maxYaw',
    ] as const)
      assert.equal(DEFAULT_ENROL_OPTIONS[k], ENROL[k].default, k);
    assert.equal(DEFAULT_ENROL_OPTIONS.maxBytes, ENROL.maxMegabytes.default * 2 ** 20);
  });

  it('makes the duplicate check catch every face face-match would name', () => {
    assert.ok(ENROL.duplicateThreshold.default >= MATCH.threshold.default);
  });

  it('checks values the way the library does', () => {
    assert.ok(inLimit(DETECT.inputSize, 416));
    assert.ok(!inLimit(DETECT.inputSize, 300), 'not a multiple of 32');
    assert.ok(!inLimit(DETECT.inputSize, 640), 'over 608');
    assert.ok(
      inLimit(DETECT.maxDimension, 0) &&
        !inLimit(DETECT.maxDimension, 32) &&
        inLimit(DETECT.maxDimension, 64),
    );
    assert.ok(!inLimit(MATCH.candidates, 2.5));
    assert.ok(!inLimit(MATCH.threshold, Number.NaN));
    assert.equal(describeLimit(DETECT.inputSize), 'a multiple of 32 from 128 to 608');
    assert.equal(describeLimit(DETECT.maxDimension), '0 or a whole number from 64 to 10000');
    for (const [limit, v] of [
      [DETECT.inputSize, 300],
      [DETECT.minConfidence, 0],
      [DETECT.maxDimension, 32],
      [DETECT.maxFaces, 1.5],
    ] as const) {
      assert.throws(() => resolveDetectOptions(DEFAULT_DETECT_OPTIONS, { [limitName(limit)]: v }), {
        code: 'INVALID_OPTIONS',
      });
    }
    assert.throws(() => resolveMatchOptions({ threshold: 3 }), /threshold must be a number from 0.05 to 2/);
    assert.throws(() => resolveMatchOptions({ k: 0 }), /k must be a whole number from 1 to 20/);
    assert.deepEqual(resolveMatchOptions({ threshold: undefined }), DEFAULT_MATCH_OPTIONS);
    assert.throws(() => resolveEnrolOptions({ maxYaw: 120 }), /maxYaw must be a number from 0 to 90/);
    assert.throws(
      () => resolveEnrolOptions({ duplicatePolicy: 'keep' as 'allow' }),
      /refuse, add-sample or allow/,
    );
    assert.throws(() => resolveEnrolOptions({ duplicateThreshold: 0 }), /duplicateThreshold/);
  });

  it('reads settings: empty gives the default, a bad value the default with the problem named', () => {
    assert.deepEqual(readNumber(MATCH.threshold, ''), { value: MATCH.threshold.default });
    assert.deepEqual(readNumber(MATCH.threshold, '0.45'), { value: 0.45 });
    assert.deepEqual(readNumber(MATCH.threshold, 0.45), { value: 0.45 });
    const bad = readNumber(MATCH.threshold, 'abc', 'setting threshold');
    assert.equal(bad.value, MATCH.threshold.default);
    assert.match(
      bad.problem ?? '',
      /setting threshold "abc" is not a number from 0\.05 to 2: using the default/,
    );
    assert.equal(readNumber(MATCH.threshold, '  ').value, MATCH.threshold.default);
    assert.equal(readChoice(ENROL.faces, 'several').value, 'single');
    assert.match(readChoice(ENROL.faces, 'several').problem ?? '', /single or largest/);
  });
});

/** The DETECT key of a limit object. */
function limitName(limit: NumberLimit): string {
  return Object.entries(DETECT).find(([, l]) => l === limit)?.[0] ?? '?';
}

describe('the node types', () => {
  it("are one list: the folders under nodes/, package.json's node-red.nodes and the settings versions follow it", () => {
    const folders = readdirSync(path.join(ROOT, 'nodes'), { withFileTypes: true })
      .filter((d) => d.isDirectory() && d.name !== 'shared' && d.name !== 'library')
      .map((d) => d.name);
    assert.deepEqual(folders.sort(), [...NODE_TYPES].sort());
    const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
      'node-red': { nodes: Record<string, string> };
    };
    assert.deepEqual(Object.keys(pkg['node-red'].nodes).sort(), [...NODE_TYPES].sort());
    for (const [type, file] of Object.entries(pkg['node-red'].nodes))
      assert.equal(file, `dist/nodes/${type}/${type}.js`);
    assert.deepEqual(Object.keys(SETTINGS_VERSION).sort(), [...NODE_TYPES].sort());
  });

  it('have a settings version that is the number of their migration steps', () => {
    // face-camera has three steps (1: versions began; 2: the source setting; 3: describe from), face-match three
    // (0.6 → 0.5, then the match rule, then holding a name along a track).
    assert.equal(SETTINGS_VERSION['face-camera'], 3);
    assert.equal(SETTINGS_VERSION['face-match'], 3);
    for (const type of NODE_TYPES) {
      const m = migrateSettings(type, {});
      assert.equal(m.to, SETTINGS_VERSION[type]);
      assert.equal(m.settings.version, SETTINGS_VERSION[type]);
    }
  });
});

describe('the editor scripts', () => {
  let editors: Map<string, EditorDefinition>;
  before(async () => {
    editors = await loadEditors();
  });

  it('register every node type with the module defaults, its validators and the current settings version', () => {
    for (const type of Object.keys(EDITOR_LIMITS) as FaceWatchNodeType[])
      assert.ok(editors.has(type), `${type} registered`);
    for (const [type, def] of editors) {
      const limits: Record<string, Limit> | undefined = EDITOR_LIMITS[type as FaceWatchNodeType];
      assert.equal(
        def.defaults.version?.value,
        SETTINGS_VERSION[type as FaceWatchNodeType],
        `${type}: version`,
      );
      // Node types of other parts of the package list their limits here as they move to the module.
      if (!limits) continue;
      for (const [name, entry] of Object.entries(def.defaults)) {
        const limit: Limit | undefined = limits[name];
        if (!limit) {
          const free =
            FREE.has(name) ||
            typeof entry.value === 'boolean' ||
            (type === 'face-detect' && entry.value === '');
          assert.ok(
            free,
            `${type}.${name} (default ${String(entry.value)}) takes no limit from the defaults module`,
          );
          continue;
        }
        assert.equal(entry.value, limit.default, `${type}.${name}: editor default`);
        assert.ok(entry.validate, `${type}.${name}: validated`);
        if (isNumberLimit(limit)) {
          assert.ok(
            entry.validate(limit.min) && entry.validate(String(limit.max)),
            `${type}.${name}: bounds accepted`,
          );
          assert.ok(
            !entry.validate(over(limit)) && !entry.validate(''),
            `${type}.${name}: beyond the max, empty`,
          );
        } else {
          for (const v of limit.values) assert.ok(entry.validate(v), `${type}.${name}: ${v}`);
          assert.ok(!entry.validate('nonsense'), `${type}.${name}: an unknown value`);
        }
      }
    }
    const detect = editors.get('face-detect')?.defaults ?? {};
    for (const name of ['minConfidence', 'minFaceSize', 'maxFaces'] as const) {
      const limit = DETECT[name];
      assert.ok(detect[name].validate?.('') && detect[name].validate(limit.max), `face-detect.${name}`);
      assert.ok(!detect[name].validate?.(over(limit)), `face-detect.${name}: beyond the max`);
    }
  });

  it('leave number limits out of the form templates (they come from the module) and keep the version', () => {
    for (const type of Object.keys(EDITOR_LIMITS)) {
      const html = readFileSync(path.join(ROOT, 'nodes', type, 'editor', 'template.html'), 'utf8');
      for (const input of html.match(/<input type="number"[^>]*>/g) ?? [])
        assert.doesNotMatch(input, /\b(min|max|step)=/, `${type}: ${input}`);
      assert.match(html, /<input type="hidden" id="node-(config-)?input-version" \/>/, type);
    }
  });
});

describe('the node settings parsers', () => {
  const collect = (): { warn: (m: string) => void; warnings: string[] } => {
    const warnings: string[] = [];
    return { warn: (m) => warnings.push(m), warnings };
  };

  it('fall back to the module default for an empty value, silently', () => {
    const { warn, warnings } = collect();
    assert.deepEqual(matchSettings({ threshold: '', margin: '', candidates: '' }, warn), {
      threshold: MATCH.threshold.default,
      margin: MATCH.margin.default,
      candidates: MATCH.candidates.default,
      rule: MATCH.rule.default,
      hold: MATCH.hold.default,
      split: false,
    });
    const enrol = enrolSettings(
      { duplicateThreshold: '', minFaceSize: '', minSharpness: '', maxYaw: '', maxMegabytes: '' },
      warn,
    );
    assert.deepEqual(enrol, {
      faces: ENROL.faces.default,
      existing: ENROL.existing.default,
      duplicatePolicy: ENROL.duplicatePolicy.default,
      duplicateThreshold: ENROL.duplicateThreshold.default,
      minFaceSize: ENROL.minFaceSize.default,
      minSharpness: ENROL.minSharpness.default,
      maxYaw: ENROL.maxYaw.default,
      maxBytes: DEFAULT_ENROL_OPTIONS.maxBytes,
    });
    assert.deepEqual(storeSettings({ backups: '', poolSize: '' }, warn), {
      backend: STORE.backend.default,
      backups: STORE.backups.default,
      url: '',
      schema: '',
      poolSize: STORE.poolSize.default,
    });
    const engine = engineConfig(
      { poolSize: '', inputSize: '', minConfidence: '', minFaceSize: '', maxDimension: '' },
      warn,
    );
    assert.deepEqual(engine.defaults, {
      detector: DETECT.detector.default,
      inputSize: DETECT.inputSize.default,
      minConfidence: DETECT.minConfidence.default,
      minFaceSize: DETECT.minFaceSize.default,
      maxDimension: DETECT.maxDimension.default,
    });
    assert.equal(engine.backend, ENGINE.backend.default);
    // face-detect: empty means "the engine's setting", so the option is left out.
    const detect = detectSettings({ minConfidence: '', minFaceSize: '', maxFaces: '', detector: '' }, warn);
    for (const k of ['minConfidence', 'minFaceSize', 'maxFaces', 'detector'] as const)
      assert.equal(detect.options[k], undefined, k);
    assert.equal(detect.keepImage, DETECT_NODE.keepImage.default);
    assert.deepEqual(warnings, []);
  });

  it('fall back to the module default for a value out of range or not a number, with one warning each', () => {
    const { warn, warnings } = collect();
    assert.deepEqual(
      matchSettings(
        { threshold: 5, margin: '-1', candidates: 'many', rule: 'median' as 'mean', outputs: 2 },
        warn,
      ),
      {
        threshold: MATCH.threshold.default,
        margin: MATCH.margin.default,
        candidates: MATCH.candidates.default,
        rule: MATCH.rule.default,
        hold: MATCH.hold.default,
        split: true,
      },
    );
    assert.equal(warnings.length, 4);
    assert.match(warnings[0], /setting threshold 5 is not a number from 0\.05 to 2: using the default 0\.5/);
    const enrol = enrolSettings(
      {
        duplicateThreshold: 3,
        minFaceSize: -5,
        minSharpness: 'x',
        maxYaw: 120,
        maxMegabytes: 0,
        faces: 'all' as 'single',
      },
      warn,
    );
    assert.equal(enrol.duplicateThreshold, ENROL.duplicateThreshold.default);
    assert.equal(enrol.minFaceSize, ENROL.minFaceSize.default);
    assert.equal(enrol.minSharpness, ENROL.minSharpness.default);
    assert.equal(enrol.maxYaw, ENROL.maxYaw.default);
    assert.equal(enrol.maxBytes, DEFAULT_ENROL_OPTIONS.maxBytes);
    assert.equal(enrol.faces, ENROL.faces.default);
    assert.equal(warnings.length, 4 + 6);
    assert.equal(storeSettings({ backups: 51 }, warn).backups, STORE.backups.default);
    assert.equal(storeSettings({ backups: 1.5 }, warn).backups, STORE.backups.default);
    assert.equal(storeSettings({ poolSize: 1 }, warn).poolSize, STORE.poolSize.default);
    assert.equal(storeSettings({ backend: 'mysql' as 'nedb' }, warn).backend, STORE.backend.default);
    const engine = engineConfig(
      {
        poolSize: 100,
        inputSize: 300,
        minConfidence: 2,
        minFaceSize: -1,
        maxDimension: 10,
        backend: 'gpu' as 'cpu',
      },
      warn,
    );
    assert.deepEqual(engine, {
      backend: ENGINE.backend.default,
      poolSize: undefined,
      modelPath: undefined,
      defaults: {
        detector: DETECT.detector.default,
        inputSize: DETECT.inputSize.default,
        minConfidence: DETECT.minConfidence.default,
        minFaceSize: DETECT.minFaceSize.default,
        maxDimension: DETECT.maxDimension.default,
      },
    });
    const before = warnings.length;
    const detect = detectSettings(
      { minConfidence: 7, minFaceSize: 'big', maxFaces: 2000, keepImage: 'x' as 'never' },
      warn,
    );
    assert.equal(detect.options.minConfidence, undefined);
    assert.equal(detect.options.minFaceSize, undefined);
    assert.equal(detect.options.maxFaces, undefined);
    assert.equal(detect.keepImage, DETECT_NODE.keepImage.default);
    assert.equal(warnings.length, before + 4);
    assert.match(warnings.at(-1) ?? '', /keepImage "x" is not faces, always or never/);
  });

  it('keep values in range as given', () => {
    assert.equal(matchSettings({ threshold: '0.45' }).threshold, 0.45);
    assert.equal(enrolSettings({ maxMegabytes: 2 }).maxBytes, 2 * 2 ** 20);
    assert.equal(engineConfig({ poolSize: 2, maxDimension: 0 }).poolSize, 2);
    assert.equal(detectSettings({ minConfidence: '0.3', detector: 'tiny' }).options.minConfidence, 0.3);
  });
});

describe('settings migrations', () => {
  it('treat settings without a version as version 0', () => {
    assert.equal(settingsVersion({}), 0);
    assert.equal(settingsVersion({ version: '' }), 0);
    assert.equal(settingsVersion({ version: '1' }), 1);
    assert.equal(settingsVersion({ version: 1 }), 1);
    assert.equal(settingsVersion({ version: 'x' }), 0);
  });

  it('move a face-match saved at version 0 with the old default threshold 0.6 to the new default, and say so', () => {
    for (const threshold of [OLD_MATCH_THRESHOLD, String(OLD_MATCH_THRESHOLD), '0.60']) {
      const saved = { threshold, margin: 0.05 };
      const m = migrateSettings('face-match', saved);
      assert.equal(m.settings.threshold, MATCH.threshold.default);
      assert.equal(m.settings.version, SETTINGS_VERSION['face-match']);
      assert.deepEqual([m.from, m.to], [0, 3]);
      assert.equal(
        (m.settings as Record<string, unknown>).rule,
        MATCH.rule.default,
        'and the match rule of today',
      );
      assert.equal(m.changes.length, 1);
      assert.equal(m.changes[0].setting, 'threshold');
      assert.match(m.changes[0].reason, /old default/);
      assert.equal(saved.threshold, threshold, 'the input is not changed');
    }
  });

  it('keep any other threshold, and a 0.6 saved at the current version', () => {
    for (const threshold of [0.55, '0.65', '', 0.5]) {
      const m = migrateSettings('face-match', { threshold });
      assert.equal(m.settings.threshold, threshold);
      assert.deepEqual(m.changes, []);
    }
    const current = migrateSettings('face-match', { threshold: 0.6, version: 2 });
    assert.equal(current.settings.threshold, 0.6);
    assert.deepEqual(current.changes, []);
    // A face-match of version 1 compared with the nearest sample; it gets the mean, silently (with
    // one sample per person the two are the same), and a rule set since is kept.
    const v1 = migrateSettings<Record<string, unknown>>('face-match', { threshold: 0.55, version: 1 });
    assert.deepEqual([v1.settings.threshold, v1.settings.rule, v1.changes], [0.55, 'mean', []]);
    const chosen = migrateSettings('face-match', { rule: 'nearest', version: 2 });
    assert.equal(chosen.settings.rule, 'nearest');
    // A face-match of version 2 held no name along a track; it gets the default hold, silently (a
    // name is only held after the threshold gave it), and a hold set since (0: off) is kept.
    const v2 = migrateSettings<Record<string, unknown>>('face-match', { threshold: 0.5, version: 2 });
    assert.deepEqual([v2.settings.hold, v2.changes], [MATCH.hold.default, []]);
    assert.equal(migrateSettings('face-match', { hold: 0, version: 3 }).settings.hold, 0);
  });

  it('give every node type the current version without changing other settings', () => {
    for (const type of TYPES) {
      const m = migrateSettings(type, { name: 'x', minFaceSize: 80 });
      assert.equal(m.settings.version, SETTINGS_VERSION[type]);
      assert.equal(m.settings.minFaceSize, 80);
      if (type !== 'face-match') assert.deepEqual(m.changes, []);
    }
    const newer = migrateSettings('face-match', { threshold: 0.6, version: 7 });
    assert.deepEqual([newer.from, newer.to, newer.settings.threshold], [7, 7, 0.6]);
  });

  it('are applied by the runtime before parsing, with one warning naming the change', () => {
    const warnings: string[] = [];
    const settings = matchSettings(
      upgradeSettings('face-match', { threshold: 0.6 }, (m) => warnings.push(m)),
    );
    assert.equal(settings.threshold, MATCH.threshold.default);
    assert.equal(warnings.length, 1);
    assert.match(
      warnings[0],
      /face-match settings upgraded from version 0 to 3: threshold 0\.6, the old default/,
    );
    upgradeSettings('face-match', { threshold: 0.6, version: 3 }, (m) => warnings.push(m));
    assert.equal(warnings.length, 1);
  });
});

describe('the CLI help texts', () => {
  const help = (command: string): Promise<string> =>
    new Promise((resolve, reject) => {
      execFile(
        process.execPath,
        ['--import', 'tsx', path.join(ROOT, 'cli', 'facewatch.ts'), command, '--help'],
        { cwd: ROOT, timeout: 60_000 },
        (err, stdout) => (err ? reject(new Error(err.message)) : resolve(stdout)),
      );
    });

  it('state the module defaults', async () => {
    const identify = await help('identify');
    assert.match(identify, new RegExp(`--threshold T .*\\(default ${MATCH.threshold.default}\\)`));
    assert.match(identify, new RegExp(`--margin M .*\\(default ${MATCH.margin.default}\\)`));
    const evalHelp = await help('eval');
    assert.match(evalHelp, new RegExp(`--threshold T .*\\(default ${MATCH.threshold.default}\\)`));
    assert.match(evalHelp, /closest_impostor/);
    const enrol = await help('enrol');
    assert.match(enrol, new RegExp(`closer than ${ENROL.duplicateThreshold.default} to an enrolled person`));
    assert.match(enrol, new RegExp(`--min-face-size PX .*\\(default ${ENROL.minFaceSize.default}\\)`));
    const detect = await help('detect');
    assert.match(detect, new RegExp(`--min-confidence X .*\\(default ${DETECT.minConfidence.default}\\)`));
    assert.match(detect, new RegExp(`--input-size N .*\\(default ${DETECT.inputSize.default}\\)`));
  });
});
