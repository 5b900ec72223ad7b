/**
 * The tracker: faces become tracks, tracks are named by a vote, and the cooldown holds back a
 * person's new events on a camera. Faces are made as face-match sends them.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decide, overlap, Tracker, type TrackFace } from '../../lib/events/tracker';
import type { Box } from '../../lib/types';

const THRESHOLD = 0.5;

function vector(seed: number): number[] {
  let x = seed * 9301 + 49297;
  return Array.from({ length: 128 }, () => {
    x = (x * 9301 + 49297) % 233280;
    return x / 233280 - 0.5;
  });
}
/** A descriptor at about `d` from `base`. */
function near(base: number[], d: number, seed: number): number[] {
  const noise = vector(seed);
  const n = Math.sqrt(noise.reduce((s, v) => s + v * v, 0));
  return base.map((v, i) => v + (noise[i] / n) * d);
}

const ALICE = { id: 'PERSON_0001', name: 'Alice', metadata: {} };
const BOB = { id: 'PERSON_0002', name: 'Bob', metadata: {} };

function face(box: Box, descriptor: number[], person: typeof ALICE | null, distance = 0.4): TrackFace {
  const known = !!person && distance < THRESHOLD;
  return {
    box,
    descriptor,
    quality: { faceSize: box.width, sharpness: 100, yaw: null },
    match: {
      known,
      person: known ? person : null,
      distance,
      confidence: Math.max(0, Math.min(1, 1 - distance / (2 * THRESHOLD))),
      ambiguous: false,
      candidates: person ? [{ id: person.id, name: person.name, distance }] : [],
    },
  };
}

const box = (x: number, y = 100): Box => ({ x, y, width: 120, height: 120 });

describe('tracker', () => {
  it('30 frames of one person in one second are one event', () => {
    const t = new Tracker({ cooldownMs: 3000 });
    const alice = vector(1);
    let events = 0;
    for (let i = 0; i < 30; i++) {
      const d = t.observe('door', 1000 + i * 33, [
        face(box(100 + i), near(alice, 0.05, i + 10), ALICE, 0.35),
      ]);
      events += d.filter((x) => x.reason).length;
      assert.equal(d[0].track.frames, i + 1);
    }
    assert.equal(events, 1);
  });

  it('a second camera gives its own track and event', () => {
    const t = new Tracker({ cooldownMs: 3000 });
    const alice = vector(1);
    const a = t.observe('door', 1000, [face(box(100), alice, ALICE)]);
    const b = t.observe('garden', 1100, [face(box(100), near(alice, 0.02, 3), ALICE)]);
    assert.equal(a[0].reason, 'track-start');
    assert.equal(b[0].reason, 'track-start');
    assert.notEqual(a[0].track.id, b[0].track.id);
  });

  it('a person who leaves and comes back after the cooldown gives a new event', () => {
    const t = new Tracker({ cooldownMs: 3000 });
    const alice = vector(1);
    const first = t.observe('door', 1000, [face(box(100), alice, ALICE)]);
    t.observe('door', 1500, [face(box(102), near(alice, 0.05, 4), ALICE)]);
    const back = t.observe('door', 1500 + 3500, [face(box(300), near(alice, 0.05, 5), ALICE)]);
    assert.equal(back[0].reason, 'track-start');
    assert.notEqual(back[0].track.id, first[0].track.id);
    assert.equal(back[0].track.person?.id, ALICE.id);
  });

  it('within the cooldown no new event, even after the track was lost', () => {
    const t = new Tracker({ cooldownMs: 10000, trackGapMs: 1000 });
    const alice = vector(1);
    assert.equal(t.observe('door', 1000, [face(box(100), alice, ALICE)])[0].reason, 'track-start');
    // Gone for 5 s (longer than the track gap), back somewhere else in the picture.
    const back = t.observe('door', 6000, [face(box(400, 10), near(alice, 0.05, 6), ALICE)]);
    assert.equal(back[0].reason, undefined);
    // Even with a descriptor too far to continue the track (a new track), the person's cooldown holds.
    const far = t.observe('door', 7000, [face(box(10, 300), near(alice, 0.6, 7), ALICE, 0.45)]);
    assert.equal(far[0].reason, undefined);
    assert.equal(far[0].track.person?.id, ALICE.id);
  });

  it('a stranger who walks in beside a known person gets a track and an event of their own', () => {
    const t = new Tracker({ cooldownMs: 3000 });
    const alice = vector(1);
    const stranger = vector(2);
    t.observe('door', 1000, [face(box(100), alice, ALICE)]);
    const d = t.observe('door', 1500, [face(box(102), alice, ALICE), face(box(400), stranger, null, 0.8)]);
    assert.equal(d[0].reason, undefined);
    assert.equal(d[1].reason, 'track-start');
    assert.equal(d[1].track.person, null);
  });

  it('a single near-threshold frame among non-matching ones does not name a track', () => {
    const t = new Tracker({ cooldownMs: 3000 });
    const stranger = vector(2);
    const distances = [0.56, 0.58, 0.49, 0.57, 0.55, 0.6, 0.57];
    const reasons: (string | undefined)[] = [];
    let named = false;
    distances.forEach((dist, i) => {
      const d = t.observe('door', 1000 + i * 500, [
        face(box(100 + i), near(stranger, 0.03, i + 20), BOB, dist),
      ]);
      reasons.push(d[0].reason);
      named ||= d[0].track.person !== null;
    });
    assert.equal(named, false);
    assert.deepEqual(reasons, [
      'track-start',
      undefined,
      undefined,
      undefined,
      undefined,
      undefined,
      undefined,
    ]);
  });

  it('a track is named once most of its frames agree, with one more event', () => {
    const t = new Tracker({ cooldownMs: 3000 });
    const bob = vector(3);
    const dists = [0.55, 0.45, 0.44, 0.43, 0.42];
    // The track is one object that goes on changing: what each frame decided is copied as it comes.
    const out = dists.map((dist, i) => {
      const d = t.observe('door', 1000 + i * 500, [face(box(100), near(bob, 0.03, i), BOB, dist)])[0];
      return {
        reason: d.reason,
        name: d.track.person?.name,
        frames: d.track.frames,
        distance: d.track.distance,
      };
    });
    assert.deepEqual(
      out.map((d) => d.reason),
      ['track-start', undefined, 'named', undefined, undefined],
    );
    assert.deepEqual(out[2], { reason: 'named', name: 'Bob', frames: 3, distance: 0.45 });
  });

  it('a photo without a camera is its own one-frame track, named as face-match named it', () => {
    const t = new Tracker({ cooldownMs: 3000 });
    const alice = vector(1);
    const a = t.observe(null, 1000, [face(box(100), alice, ALICE)]);
    const b = t.observe(null, 1001, [face(box(100), alice, ALICE)]);
    assert.equal(a[0].reason, 'track-start');
    assert.equal(b[0].reason, 'track-start');
    assert.equal(a[0].track.person?.id, ALICE.id);
    assert.equal(t.size, 0);
  });

  it('forgets an erased person', () => {
    const t = new Tracker({ cooldownMs: 3000 });
    t.observe('door', 1000, [face(box(100), vector(1), ALICE)]);
    assert.equal(t.forgetPerson(ALICE.id), 1);
    assert.equal(t.size, 0);
  });

  it('decide and overlap', () => {
    assert.equal(overlap(box(0), box(0)), 1);
    assert.equal(overlap(box(0), box(500)), 0);
    const v = (p: typeof ALICE | null, distance: number): Parameters<typeof decide>[0][number] => ({
      person: p && { id: p.id, name: p.name },
      distance,
      confidence: 1 - distance,
    });
    assert.equal(decide([v(ALICE, 0.4), v(null, 0.6)]).person, null, 'a tie does not name');
    assert.equal(decide([v(ALICE, 0.4), v(ALICE, 0.3), v(null, 0.6)]).person?.id, ALICE.id);
  });
});
