/**
 * The labelled sets' photos described once, as visits (each photo's largest face), for the
 * benchmarks that measure on them (visitors, recognition): the fixtures, and the full shared sets
 * when FACEWATCH_TEST_DATA has them, each set alone and all three together.
 */
import { existsSync } from 'node:fs';
import { photoVisits, type LabelledVisit } from '../lib/eval/visitors';
import type { EnrolEngine } from '../lib/store/enrol';
import { DATA_DIR, labelledPhotos, SETS } from '../test/helpers/env';

/** One scope's sets: `full` false for the fixtures, true for the full shared sets. */
export interface LabelledScope {
  full: boolean;
  sets: Array<[name: string, visits: LabelledVisit[]]>;
}

/** Every scope present on this machine, its sets' photos described by `engine`. */
export async function labelledScopes(engine: EnrolEngine): Promise<LabelledScope[]> {
  const out: LabelledScope[] = [];
  for (const full of existsSync(DATA_DIR) ? [false, true] : [false]) {
    const sets: LabelledScope['sets'] = [];
    for (const set of SETS) {
      const photos = labelledPhotos(set, { full }).map((p) => ({ ...p, identity: `${set}:${p.identity}` }));
      sets.push([set, await photoVisits(engine, photos)]);
    }
    sets.push(['all three sets', sets.flatMap(([, v]) => v)]);
    out.push({ full, sets });
  }
  return out;
}
