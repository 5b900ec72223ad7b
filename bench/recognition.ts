/**
 * `npm run bench -- recognition`: several samples per person, used well (issue: recognition that
 * names more faces at zero strangers). Every labelled set's photos are described once (the fixtures,
 * and the full shared sets when FACEWATCH_TEST_DATA has them); then each person is enrolled with 1,
 * 2, 3 and 5 of their photos (10 random draws) and probed with the rest, matched by the nearest
 * sample (what face-match does today, the baseline of the same run), by the mean of their samples
 * and by the quality-weighted mean. Reported: probes named under the match threshold, the closest
 * stranger (every photo against everyone else's templates) and probes named under it.
 * Writes bench/results/recognition.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { measureSamples, type SampleRule } from '../lib/eval/samples';
import { MATCH } from '../lib/types/defaults';
import { FaceEngine } from '../lib/vision/engine';
import { labelledScopes } from './labelled';

const RULES: SampleRule[] = ['nearest', 'mean', 'weighted-mean'];
const SAMPLES = [1, 2, 3, 5];

export async function run(): Promise<unknown> {
  const engine = await FaceEngine.create({ poolSize: 2 });
  const tables: Record<string, unknown> = {};
  try {
    for (const { full, sets: bySet } of await labelledScopes(engine)) {
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
      }
      tables[full ? 'fullSets' : 'fixtures'] = sets;
    }
  } finally {
    await engine.close();
  }
  const result = {
    generated: new Date().toISOString(),
    machine: {
      cpus: os.cpus().length,
      model: os.cpus()[0]?.model,
      node: process.version,
      loadavg: os.loadavg(),
    },
    threshold: MATCH.threshold.default,
    baseline: 'nearest sample (what face-match does today)',
    tables,
  };
  const dir = path.join(__dirname, 'results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'recognition.json'), JSON.stringify(result, null, 2) + '\n');
  return result;
}
