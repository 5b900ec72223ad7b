/**
 * The several-samples measure (lib/eval/samples.ts) on descriptors made for it: a person whose photos
 * scatter around their face is named more often by the mean of their samples than by one sample, the
 * closest stranger is where it is, and a rule never counts a probe named as someone else.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { measureSamples } from '../../lib/eval/samples';
import type { LabelledVisit } from '../../lib/eval/visitors';
import { mulberry32 } from '../../lib/shared/random';
import { unitVector } from '../helpers/store-fixtures';

/** `n` photos of person `seed`: their face plus noise of length `spread` in random directions. */
function photos(who: string, seed: number, n: number, spread: number): LabelledVisit[] {
  const face = unitVector(seed);
  const rnd = mulberry32(seed);
  return Array.from({ length: n }, (_, i) => {
    const noise = unitVector(seed * 100 + i);
    return {
      identity: who,
      frames: [{ descriptor: Array.from(face, (x, j) => x + spread * noise[j]), quality: 0.3 + rnd() * 0.5 }],
    };
  });
}

describe('several samples per person, measured', () => {
  // Faces about 1.41 apart (random unit vectors); photos 0.35 from their face, so two photos of one
  // person are about 0.5 apart and a photo is about 0.35 from the mean of many.
  const visits = [...photos('a', 1, 8, 0.35), ...photos('b', 2, 8, 0.35), ...photos('c', 3, 8, 0.35)];

  it('names more with the mean of several samples than with one, and finds the closest stranger', () => {
    const one = measureSamples(visits, 1, 'nearest', 0.45);
    const meanOf3 = measureSamples(visits, 3, 'mean', 0.45);
    const nearestOf3 = measureSamples(visits, 3, 'nearest', 0.45);
    assert.equal(one.people, 3);
    assert.equal(one.probes, 21);
    assert.equal(meanOf3.probes, 15);
    assert.ok(one.named < 0.5, `one sample names few at 0.45: ${one.named}`);
    assert.ok(meanOf3.named > 0.9, `the mean of three names nearly all: ${meanOf3.named}`);
    assert.ok(meanOf3.named > nearestOf3.named);
    for (const s of [one, meanOf3, nearestOf3]) {
      assert.ok(s.closestStranger > 1.2 && s.closestStranger < 1.7, String(s.closestStranger));
      assert.ok(
        s.namedAtZeroStrangers >= s.named,
        'a looser threshold that accepts no stranger names as many',
      );
    }
    const weighted = measureSamples(visits, 3, 'weighted-mean', 0.45);
    assert.ok(weighted.named > 0.9);
  });

  it('counts a probe nearest to someone else as not named, whatever the threshold', () => {
    // d's photos are a's face: every probe of d is nearer a's template or its own at random.
    const twins = [...visits, ...photos('d', 1, 4, 0.35).map((v) => ({ ...v, identity: 'd' }))];
    const s = measureSamples(twins, 1, 'nearest', 2);
    assert.ok(s.named < 1, 'some probes of a and d are named as the other');
    assert.ok(s.closestStranger < 0.7, 'a and d are strangers to each other and close');
  });
});
