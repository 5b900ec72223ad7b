/**
 * Recurring visitors on real faces: every person of the labelled sets treated as unknown, their
 * photos given to a fresh visitor gallery as visits in five shuffled orders, at the default visitor
 * threshold. No visitor id may hold two people (purity 100 %, each set alone and the three together,
 * where strangers of different sets meet); completeness (people whose visits all got one id) is
 * reported, with a table over thresholds. On the shipped fixtures always, on the full sets when there.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { measureVisitors, photoVisits, shuffled, type LabelledVisit } from '../../lib/eval/visitors';
import { VISITORS } from '../../lib/types/defaults';
import { FaceEngine } from '../../lib/vision/engine';
import { SETS, fullDataSkip, labelledPhotos } from '../helpers/env';

const SEEDS = [1, 2, 3, 4, 5];
const THRESHOLD = VISITORS.threshold.default;

describe('recurring visitors on the labelled photos', () => {
  let engine: FaceEngine;
  before(async () => {
    engine = await FaceEngine.create({ poolSize: 2 });
  });
  after(async () => {
    await engine?.close();
  });

  /** Every labelled photo with a face, as a one-frame visit of `<set>:<identity>`. */
  async function visitsOf(full: boolean): Promise<Map<string, LabelledVisit[]>> {
    const out = new Map<string, LabelledVisit[]>();
    for (const set of SETS) {
      const photos = labelledPhotos(set, { full }).map((p) => ({ ...p, identity: `${set}:${p.identity}` }));
      out.set(set, await photoVisits(engine, photos));
    }
    return out;
  }

  async function check(full: boolean): Promise<string[]> {
    const bySet = await visitsOf(full);
    const groups: Array<[string, LabelledVisit[]]> = [
      ...bySet,
      ['all three sets', [...bySet.values()].flat()],
    ];
    const lines: string[] = [];
    for (const [name, visits] of groups) {
      const scores = SEEDS.map((seed) => measureVisitors(shuffled(visits, seed), THRESHOLD));
      for (const [i, s] of scores.entries())
        assert.equal(
          s.purity,
          1,
          `${name}, order ${SEEDS[i]}: visitor ids holding two people at ${THRESHOLD}: ${JSON.stringify(s.impure)}`,
        );
      const mean = scores.reduce((n, s) => n + s.completeness, 0) / scores.length;
      const ids = scores.map((s) => Math.max(...Object.values(s.idsPerPerson), 1));
      lines.push(
        `${full ? 'full' : 'fixtures'} ${name}: ${visits.length} visits of ${scores[0].people} people ` +
          `(${scores[0].recurring} with several): purity 100 % in ${SEEDS.length} orders, completeness ` +
          `${(mean * 100).toFixed(1)} % (worst ${(Math.min(...scores.map((s) => s.completeness)) * 100).toFixed(1)} %), ` +
          `at most ${Math.max(...ids)} ids for one person`,
      );
      // The table over thresholds: what a stricter or looser threshold would give.
      const table = [0.3, 0.35, 0.4, 0.45, 0.5, 0.55].map((t) => {
        const s = SEEDS.map((seed) => measureVisitors(shuffled(visits, seed), t));
        const worstPurity = Math.min(...s.map((x) => x.purity));
        const meanComplete = s.reduce((n, x) => n + x.completeness, 0) / s.length;
        return `${t}: purity ${(worstPurity * 100).toFixed(1)} %, completeness ${(meanComplete * 100).toFixed(1)} %`;
      });
      lines.push(`  ${table.join('; ')}`);
    }
    return lines;
  }

  it('never gives two people one visitor id on the shipped fixtures', async (t) => {
    for (const line of await check(false)) t.diagnostic(line);
  });

  it('never gives two people one visitor id on the full shared sets', fullDataSkip(), async (t) => {
    for (const line of await check(true)) t.diagnostic(line);
  });
});
