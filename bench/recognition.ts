/**
 * `npm run bench -- recognition`: several samples per person, used well (issue: recognition that
 * names more faces at zero strangers). Every labelled set's photos are described once (the fixtures,
 * and the full shared sets when FACEWATCH_TEST_DATA has them); then each person is enrolled with 1,
 * 2, 3 and 5 of their photos (10 random draws) and probed with the rest, matched by the nearest
 * sample (what face-match does today, the baseline of the same run), by the mean of their samples
 * and by the quality-weighted mean. Reported: probes named under the match threshold, the closest
 * stranger (every photo against everyone else's templates) and probes named under it. On top of the
 * mean, with 2, 3 and 5 samples: a threshold per person (lib/eval/samples.ts `personThreshold`,
 * from the spread of their samples and the other enrolled people's samples), every variant beside
 * the global threshold in the same draws, with the strangers each accepts; `perPersonVerdict` says
 * whether a variant names more at zero strangers on every labelled set. And the Hamilton clip, every
 * frame: the frames of Lin-Manuel Miranda's near-frontal stretch face-match names by the threshold
 * alone and with its hold along the track (test/helpers/hamilton.ts), with the faces named wrongly.
 * Writes bench/results/recognition.json.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  measurePerPerson,
  measureSamples,
  PER_PERSON,
  type PerPersonScore,
  type SampleRule,
  type ThresholdVariant,
} from '../lib/eval/samples';
import { Enroller } from '../lib/store/enrol';
import { FaceStore } from '../lib/store/face-store';
import { MATCH } from '../lib/types/defaults';
import { FaceEngine } from '../lib/vision/engine';
import { fixturePath } from '../test/helpers/env';
import { describeHamilton, holdTable } from '../test/helpers/hamilton';
import { labelledScopes } from './labelled';
import { machine } from './machine';

const RULES: SampleRule[] = ['nearest', 'mean', 'weighted-mean'];
const SAMPLES = [1, 2, 3, 5];
const PER_PERSON_SAMPLES = [2, 3, 5];
const VARIANTS: ThresholdVariant[] = ['global', 'spread', 'spread-tighten', 'gallery-gap'];

/** One row of the per-person comparison: which scope, set and sample count it came from. */
interface PerPersonRow {
  scope: 'fixtures' | 'fullSets';
  set: string;
  rows: PerPersonScore[];
}

/** The Hamilton clip with Lin-Manuel Miranda and a decoy enrolled: his stretch named, with and without hold. */
async function hamilton(engine: FaceEngine): Promise<unknown> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'fw-bench-hamilton-'));
  const store = await FaceStore.open({ file: path.join(dir, 'faces.db') });
  try {
    const enroller = new Enroller(store, engine);
    const photo = (f: string): Buffer => readFileSync(fixturePath('face_recognition', 'examples', f));
    const lin = (await enroller.enrol({ image: photo('lin-manuel-miranda.png'), name: 'Lin-Manuel Miranda' }))
      .person.id;
    await enroller.enrol({ image: photo('alex-lacamoire.png'), name: 'Alex Lacamoire' });
    const table = holdTable(await describeHamilton(engine, store), lin);
    for (const [rate, rows] of Object.entries(table))
      for (const [rule, c] of Object.entries(rows))
        process.stdout.write(
          `hamilton ${rate} ${rule.padEnd(9)} his stretch named ${c.stretch} of ${c.frames}, ` +
            `faces named someone else ${c.wrong}, frames of other shots named him ${c.others}\n`,
        );
    return { hold: MATCH.hold.default, ...table };
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Per variant, each (scope, set, samples) in one class: it accepted a stranger (`strangers`, a
 * failure whatever it named), or it accepted none and named more, as many or fewer probes than the
 * global threshold (whose own row says what strangers it accepts), or both named every probe
 * (`ceiling`: nothing can name more there). Kept only if it names more on every one.
 */
function verdict(all: PerPersonRow[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const variant of VARIANTS.filter((v) => v !== 'global')) {
    const at: Record<'strangers' | 'more' | 'same' | 'fewer' | 'ceiling', string[]> = {
      strangers: [],
      more: [],
      same: [],
      fewer: [],
      ceiling: [],
    };
    for (const { scope, set, rows } of all)
      for (const k of PER_PERSON_SAMPLES) {
        const base = rows.find((r) => r.variant === 'global' && r.samples === k);
        const mine = rows.find((r) => r.variant === variant && r.samples === k);
        if (!base || !mine) continue;
        const where = `${scope} ${set} ${k}`;
        if (mine.strangersAccepted > 0) at.strangers.push(where);
        else if (base.named === 1 && mine.named === 1) at.ceiling.push(where);
        else if (mine.named > base.named) at.more.push(where);
        else if (mine.named === base.named) at.same.push(where);
        else at.fewer.push(where);
      }
    out[variant] = {
      namesMoreOnEverySet: at.more.length > 0 && Object.values(at).every((w) => w === at.more || !w.length),
      counts: Object.fromEntries(Object.entries(at).map(([c, w]) => [c, w.length])),
      at,
    };
  }
  return out;
}

export async function run(): Promise<unknown> {
  const engine = await FaceEngine.create({ poolSize: 2 });
  const tables: Record<string, unknown> = {};
  const perPerson: Record<string, Record<string, PerPersonScore[]>> = {};
  const perPersonRows: PerPersonRow[] = [];
  let hamiltonTable: unknown;
  try {
    for (const { full, sets: bySet } of await labelledScopes(engine)) {
      const scope = full ? 'fullSets' : 'fixtures';
      const sets: Record<string, unknown> = {};
      for (const [name, visits] of bySet) {
        const rows = SAMPLES.flatMap((k) =>
          RULES.map((rule) => measureSamples(visits, k, rule, MATCH.threshold.default)),
        ).filter((r) => r.people > 0);
        sets[name] = rows;
        process.stdout.write(`${full ? 'full' : 'fixtures'} ${name}\n`);
        for (const r of rows)
          process.stdout.write(
            `  ${r.samples} × ${r.rule.padEnd(13)} named ${(r.named * 100).toFixed(1)} % at ${MATCH.threshold.default}, ` +
              `closest stranger ${r.closestStranger}, named ${(r.namedAtZeroStrangers * 100).toFixed(1)} % under it ` +
              `(${r.people} people, ${r.probes} probes)\n`,
          );
        const own = PER_PERSON_SAMPLES.flatMap((k) =>
          measurePerPerson(visits, k, MATCH.threshold.default, VARIANTS),
        ).filter((r) => r.people > 0);
        (perPerson[scope] ??= {})[name] = own;
        perPersonRows.push({ scope, set: name, rows: own });
        for (const r of own)
          process.stdout.write(
            `  ${r.samples} × mean, ${`${r.variant} threshold`.padEnd(24)} named ${(r.named * 100).toFixed(1)} %, ` +
              `strangers accepted ${r.strangersAccepted} (${r.drawsWithStrangers} draws), ` +
              `named ${(r.namedAtZeroStrangers * 100).toFixed(1)} % at zero strangers, ` +
              `thresholds ${r.minThreshold}-${r.maxThreshold} (${(r.loosened * 100).toFixed(0)} % looser, ` +
              `${(r.tightened * 100).toFixed(0)} % tighter)\n`,
          );
      }
      tables[scope] = sets;
    }
    hamiltonTable = await hamilton(engine);
  } finally {
    await engine.close();
  }
  const perPersonVerdict = verdict(perPersonRows);
  process.stdout.write(`per-person thresholds against the global one, at zero strangers:\n`);
  for (const [variant, v] of Object.entries(perPersonVerdict))
    process.stdout.write(`  ${variant.padEnd(15)} ${JSON.stringify(v, null, 1).replace(/\n\s*/g, ' ')}\n`);
  const result = {
    generated: new Date().toISOString(),
    machine: machine(),
    threshold: MATCH.threshold.default,
    baseline: 'nearest sample (what face-match does today)',
    tables,
    perPersonSettings: { ...PER_PERSON, variants: VARIANTS, samples: PER_PERSON_SAMPLES },
    perPerson,
    perPersonVerdict,
    hamilton: hamiltonTable,
  };
  const dir = path.join(__dirname, 'results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'recognition.json'), JSON.stringify(result, null, 2) + '\n');
  return result;
}
