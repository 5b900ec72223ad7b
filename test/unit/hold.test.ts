/**
 * Holding a name along a camera's track (lib/events/hold.ts), on match decisions as face-match
 * makes them: a face named under the threshold keeps the name in the next frames while it stays
 * under the hold distance of that person and in the same place; never a face not named first, never
 * after a gap, never when someone else is as near, never two faces for one person.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NameHolder } from '../../lib/events/hold';
import type { Box, FaceMatch } from '../../lib/types';
import { HOLD } from '../../lib/types/defaults';

const ANN = { id: 'ann', name: 'Ann', metadata: {} };
const BOB = { id: 'bob', name: 'Bob', metadata: {} };
const box = (x: number, y = 50, side = 80): Box => ({ x, y, width: side, height: side });

/** face-match's decision at threshold 0.5, margin 0.05, for the nearest people given. */
function match(...near: Array<[typeof ANN, number]>): FaceMatch {
  const [first, second] = near;
  const under = !!first && first[1] < 0.5;
  const ambiguous = under && !!second && second[1] - first[1] < 0.05;
  const known = under && !ambiguous;
  return {
    known,
    person: known ? first[0] : null,
    distance: first ? first[1] : null,
    confidence: first ? Math.min(1, Math.max(0, 1 - first[1] / 1)) : 0,
    ambiguous,
    candidates: near.map(([p, d]) => ({ id: p.id, name: p.name, distance: d })),
  };
}

const holder = (hold = 0.6): NameHolder => new NameHolder({ hold, threshold: 0.5, margin: 0.05 });

describe('holding a name along a track', () => {
  it('keeps a name while the face turns (under the hold distance), and lets it go past it', () => {
    const h = holder();
    const frames: Array<[number, number]> = [
      [0, 0.42],
      [500, 0.56],
      [1000, 0.58],
      [1500, 0.63],
      [2000, 0.55],
      [2500, 0.63],
      [3000, 0.63],
      [3600, 0.55],
    ];
    const names = frames.map(([ts, d], i) => {
      const faces = [{ box: box(100 + i * 4), match: match([ANN, d]) }];
      h.apply('door', ts, faces);
      return faces[0].match.known ? `${faces[0].match.person?.name}${faces[0].match.held ? '*' : ''}` : '-';
    });
    // Named, held, held; over 0.6 unknown, but held again 1 s after she was last named; then over
    // 0.6 for longer than the gap (1.5 s): the name is gone.
    assert.deepEqual(names, ['Ann', 'Ann*', 'Ann*', '-', 'Ann*', '-', '-', '-']);
  });

  it('never names a face that was not named first, nor one somewhere else or after a gap', () => {
    const h = holder();
    const first = [{ box: box(100), match: match([ANN, 0.55]) }];
    h.apply('door', 0, first);
    assert.equal(first[0].match.known, false, 'under the hold distance but never named: unknown');

    h.apply('door', 100, [{ box: box(100), match: match([ANN, 0.4]) }]);
    // A frame that missed her face does not end her name.
    h.apply('door', 150, []);
    const elsewhere = [{ box: box(400), match: match([ANN, 0.55]) }];
    h.apply('door', 200, elsewhere);
    assert.equal(elsewhere[0].match.known, false, 'not overlapping the named face');

    h.apply('door', 300, [{ box: box(100), match: match([ANN, 0.4]) }]);
    const late = [{ box: box(100), match: match([ANN, 0.55]) }];
    h.apply('door', 300 + 1501, late);
    assert.equal(late[0].match.known, false, 'more than 1.5 s after');

    h.apply('door', 5000, [{ box: box(100), match: match([ANN, 0.4]) }]);
    const otherCamera = [{ box: box(100), match: match([ANN, 0.55]) }];
    h.apply('hall', 5100, otherCamera);
    assert.equal(otherCamera[0].match.known, false, 'another camera');
  });

  it('never holds onto someone else, an ambiguous face, or a second face of the same person', () => {
    const h = holder();
    h.apply('door', 0, [{ box: box(100), match: match([ANN, 0.4]) }]);
    const bobNearer = [{ box: box(102), match: match([BOB, 0.55], [ANN, 0.57]) }];
    h.apply('door', 100, bobNearer);
    assert.equal(bobNearer[0].match.known, false, 'Bob is its nearest: not held as Ann');

    h.apply('door', 200, [{ box: box(100), match: match([ANN, 0.4]) }]);
    const close = [{ box: box(102), match: match([ANN, 0.55], [BOB, 0.58]) }];
    h.apply('door', 300, close);
    assert.equal(close[0].match.known, false, 'Bob within the margin: not held');

    h.apply('door', 400, [{ box: box(100), match: match([ANN, 0.4]) }]);
    const two = [
      { box: box(104), match: match([ANN, 0.56]) },
      { box: box(110), match: match([ANN, 0.57]) },
    ];
    h.apply('door', 500, two);
    assert.deepEqual(
      two.map((f) => f.match.known),
      [true, false],
      'one named face continues one face, the most overlapping',
    );

    h.apply('door', 600, [{ box: box(100), match: match([ANN, 0.4]) }]);
    const namedElsewhere = [
      { box: box(102), match: match([ANN, 0.56]) },
      { box: box(400), match: match([ANN, 0.45]) },
    ];
    h.apply('door', 700, namedElsewhere);
    assert.deepEqual(
      namedElsewhere.map((f) => f.match.known),
      [false, true],
      'Ann named under the threshold in this frame: not held onto another face',
    );
  });

  it('passes over faces without a usable box, as a message may carry', () => {
    const h = holder();
    h.apply('door', 0, [
      { box: undefined as unknown as Box, match: match([ANN, 0.4]) },
      { box: { x: Number.NaN, y: 0, width: 80, height: 80 }, match: match([ANN, 0.4]) },
    ]);
    const next = [{ box: box(100), match: match([ANN, 0.55]) }];
    assert.equal(h.apply('door', 100, next), 0, 'nothing named in a place to hold');
    h.apply('door', 200, [{ box: box(100), match: match([ANN, 0.4]) }]);
    const odd = [{ box: null as unknown as Box, match: match([ANN, 0.55]) }];
    assert.equal(h.apply('door', 300, odd), 0);
  });

  it('remembers a bounded number of cameras: the longest unseen goes first', () => {
    const h = holder();
    for (let i = 0; i <= HOLD.cameras; i++)
      h.apply(`cam${i}`, 0, [{ box: box(100), match: match([ANN, 0.4]) }]);
    const first = [{ box: box(100), match: match([ANN, 0.55]) }];
    const last = [{ box: box(100), match: match([ANN, 0.55]) }];
    h.apply('cam0', 100, first);
    h.apply(`cam${HOLD.cameras}`, 100, last);
    assert.deepEqual([first[0].match.known, last[0].match.known], [false, true]);
  });

  it('does nothing when the hold distance is not above the threshold', () => {
    for (const hold of [0, 0.5]) {
      const h = holder(hold);
      assert.equal(h.active, false);
      h.apply('door', 0, [{ box: box(100), match: match([ANN, 0.4]) }]);
      const next = [{ box: box(100), match: match([ANN, 0.52]) }];
      assert.equal(h.apply('door', 100, next), 0);
      assert.equal(next[0].match.known, false);
    }
  });
});
