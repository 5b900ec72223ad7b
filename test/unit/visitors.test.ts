/**
 * The visitor gallery (lib/events/visitors.ts) on descriptors placed at known distances: a stranger
 * who comes back joins their visitor and another starts a new one, a visit is told by its best
 * frames and not by a bad first one, visits and cameras are counted, samples stay bounded and the
 * best, merge, split, forget and retention. The same rules on real faces are measured by
 * test/unit/visitors-faces.test.ts and `npm run bench -- visitors`.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  passagePictures,
  qualityScore,
  visitDescriptor,
  visitorId,
  VisitorGallery,
  visitsOf,
  type VisitFrame,
} from '../../lib/events/visitors';
import { linkageBound, measureVisitors, type LabelledVisit } from '../../lib/eval/visitors';
import { unitVector } from '../helpers/store-fixtures';

/** A point at distance `d` from `base` (exactly: along a direction made orthogonal to it). */
function at(base: Float32Array, d: number, seed: number): Float32Array {
  const dir = unitVector(seed);
  let dot = 0;
  for (let i = 0; i < base.length; i++) dot += dir[i] * base[i];
  const nb = base.reduce((s, x) => s + x * x, 0);
  let n = 0;
  for (let i = 0; i < base.length; i++) {
    dir[i] -= (dot / nb) * base[i];
    n += dir[i] * dir[i];
  }
  n = Math.sqrt(n);
  return base.map((x, i) => x + (dir[i] / n) * d);
}

function dist(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] - b[i]) ** 2;
  return Math.sqrt(s);
}

const frame = (descriptor: Float32Array, quality = 0.5): VisitFrame => ({ descriptor, quality });
const HOUR = 3_600_000;
const T0 = Date.parse('2026-12-01T09:00:00Z');

describe('visitor gallery', () => {
  it('gives a returning stranger their visitor id and another stranger a new one', () => {
    const g = new VisitorGallery({ threshold: 0.4 });
    const ann = unitVector(1);
    const bob = unitVector(2);
    const first = g.assign({ frames: [frame(at(ann, 0.1, 10))], camera: 'door', time: T0 });
    assert.equal(first?.visitor.id, 'VISITOR_0001');
    assert.equal(first?.created, true);
    const again = g.assign({ frames: [frame(at(ann, 0.1, 11))], camera: 'door', time: T0 + 60_000 });
    assert.equal(again?.visitor.id, 'VISITOR_0001');
    assert.equal(again?.created, false);
    assert.ok(again?.distance !== null && again.distance < 0.4);
    const other = g.assign({ frames: [frame(bob)], camera: 'door', time: T0 + 120_000 });
    assert.equal(other?.visitor.id, 'VISITOR_0002');
    assert.equal(other?.created, true);
    // Just over the threshold from every sample: a new visitor, not a join.
    const far = g.assign({ frames: [frame(at(bob, 0.45, 12))], camera: 'door', time: T0 + 180_000 });
    assert.equal(far?.visitor.id, 'VISITOR_0003');
    assert.ok(far.nearest! >= 0.4 && far.nearest! < 0.5, String(far?.nearest));
    assert.equal(g.size, 3);
    assert.equal(g.assign({ frames: [], camera: 'door', time: T0 }), null);
  });

  it('tells a visit by its best frames, not by a bad first one', () => {
    const ann = unitVector(3);
    const g = new VisitorGallery({ threshold: 0.4, frames: 3 });
    g.assign({ frames: [frame(ann, 0.9)], camera: 'door', time: T0 });
    // A blurred, turned first frame far from Ann's face, then three good ones near it.
    const frames = [
      frame(at(ann, 0.9, 20), 0.02),
      frame(at(ann, 0.15, 21), 0.8),
      frame(at(ann, 0.15, 22), 0.7),
      frame(at(ann, 0.15, 23), 0.6),
    ];
    assert.equal(g.assign({ frames: frames.slice(0, 1), camera: 'door', time: T0 + 1000 })?.created, true);
    const g2 = new VisitorGallery({ threshold: 0.4, frames: 3 });
    g2.assign({ frames: [frame(ann, 0.9)], camera: 'door', time: T0 });
    const a = g2.assign({ frames, camera: 'door', time: T0 + 1000 });
    assert.equal(a?.visitor.id, 'VISITOR_0001');
    // The mean of the three best is nearer Ann than any one of them (their noise averages out).
    const d = visitDescriptor(frames, 3)!;
    assert.ok(dist(d.descriptor, ann) < 0.15, String(dist(d.descriptor, ann)));
    assert.equal(d.quality, 0.8);
    assert.equal(visitDescriptor([{ descriptor: [], quality: 1 }]), null);
  });

  it('counts visits by the gap between sightings, and the cameras', () => {
    const g = new VisitorGallery({ threshold: 0.4, visitGapMinutes: 30 });
    const ann = unitVector(4);
    const seen = (t: number, camera: string): number =>
      g.assign({ frames: [frame(at(ann, 0.05, t))], camera, time: t })!.visitor.visits;
    assert.equal(seen(T0, 'door'), 1);
    assert.equal(seen(T0 + 10 * 60_000, 'hall'), 1);
    assert.equal(seen(T0 + 35 * 60_000, 'hall'), 1);
    assert.equal(seen(T0 + 2 * HOUR, 'door'), 2);
    assert.equal(seen(T0 + 26 * HOUR, 'yard'), 3);
    const v = g.get('VISITOR_0001')!;
    assert.deepEqual(v.cameras, ['door', 'hall', 'yard']);
    assert.equal(v.firstSeen, T0);
    assert.equal(v.lastSeen, T0 + 26 * HOUR);
    assert.equal(visitsOf([T0, T0 + 60_000, T0 + 2 * HOUR, T0 + 2 * HOUR + 1], 30 * 60_000), 2);
  });

  it('keeps a bounded number of samples, the best, and still finds the visitor from each side', () => {
    const g = new VisitorGallery({ threshold: 0.4, samples: 3 });
    const ann = unitVector(5);
    for (let i = 0; i < 8; i++)
      g.assign({ frames: [frame(at(ann, 0.2, 30 + i), i / 10)], camera: 'door', time: T0 + i * 1000 });
    const v = g.get('VISITOR_0001')!;
    assert.equal(g.size, 1);
    assert.deepEqual(
      v.samples.map((s) => s.quality),
      [0.7, 0.6, 0.5],
    );
    // A face near a kept sample but 0.45 from the centre: found through that sample.
    const side = at(Float32Array.from(v.samples[0].descriptor), 0.25, 40);
    assert.equal(g.nearest(side)?.id, 'VISITOR_0001');
  });

  it('merges two visitors that are one person, and splits a sighting off', () => {
    const g = new VisitorGallery({ threshold: 0.3 });
    const ann = unitVector(6);
    const a = g.assign({ frames: [frame(ann, 0.9)], camera: 'door', time: T0, event: 'e1' })!.visitor;
    // Ann's other side: 0.35 away, over this gallery's threshold, a second visitor.
    const side = at(ann, 0.35, 50);
    const b = g.assign({
      frames: [frame(side, 0.8)],
      camera: 'hall',
      time: T0 + 2 * HOUR,
      event: 'e2',
    })!.visitor;
    assert.notEqual(a.id, b.id);
    const merged = g.merge(a.id, b.id, [T0, T0 + 2 * HOUR]);
    assert.equal(merged.id, a.id);
    assert.equal(g.get(b.id), undefined);
    assert.equal(merged.visits, 2);
    assert.deepEqual(merged.cameras, ['door', 'hall']);
    assert.equal(merged.samples.length, 2);
    assert.equal(g.nearest(at(side, 0.05, 51))?.id, a.id);
    assert.throws(() => g.merge(a.id, a.id), /into itself/);
    assert.throws(() => g.merge(a.id, 'VISITOR_0999'), /no visitor/);

    const { from, to } = g.split(
      a.id,
      [{ time: T0 + 2 * HOUR, camera: 'hall', event: 'e2' }],
      [{ time: T0, camera: 'door', event: 'e1' }],
    );
    assert.equal(to.id, 'VISITOR_0003');
    assert.deepEqual(
      from.samples.map((s) => s.event),
      ['e1'],
    );
    assert.deepEqual(
      to.samples.map((s) => s.event),
      ['e2'],
    );
    assert.deepEqual([from.visits, from.cameras, to.visits, to.cameras], [1, ['door'], 1, ['hall']]);
    assert.equal(g.nearest(at(side, 0.05, 52))?.id, to.id);
    assert.throws(() => g.split(to.id, [{ time: T0, camera: 'hall', event: 'e2' }], []), /leaves it empty/);
  });

  it('forgets a visitor: the same face later is a new visitor, its id never reused', () => {
    const g = new VisitorGallery({ threshold: 0.4 });
    const ann = unitVector(7);
    g.assign({ frames: [frame(ann)], camera: 'door', time: T0 });
    assert.equal(g.forget('VISITOR_0001')?.id, 'VISITOR_0001');
    assert.equal(g.nearest(ann), null);
    assert.equal(g.forget('VISITOR_0001'), undefined);
    assert.equal(
      g.assign({ frames: [frame(ann)], camera: 'door', time: T0 + 1 })?.visitor.id,
      'VISITOR_0002',
    );
  });

  it('lets visitors and samples go with unknown retention', () => {
    const g = new VisitorGallery({ threshold: 0.4, retainDays: 7 });
    const ann = unitVector(8);
    const bob = unitVector(9);
    g.assign({ frames: [frame(ann, 0.9)], camera: 'door', time: T0 });
    g.assign({ frames: [frame(at(ann, 0.1, 60), 0.5)], camera: 'door', time: T0 + 6 * 24 * HOUR });
    g.assign({ frames: [frame(bob)], camera: 'door', time: T0 + HOUR });
    const out = g.expire(T0 + 7 * 24 * HOUR + 2 * HOUR);
    assert.deepEqual(out, { removed: ['VISITOR_0002'], changed: ['VISITOR_0001'] });
    assert.deepEqual(
      g.get('VISITOR_0001')!.samples.map((s) => s.quality),
      [0.5],
    );
    assert.equal(g.nearest(bob)?.id, 'VISITOR_0001');
    assert.ok(g.nearest(bob)!.distance > 1);
  });

  it('carries on numbering from the visitors it is given', () => {
    const g = new VisitorGallery({}, [
      {
        id: visitorId(41),
        firstSeen: T0,
        lastSeen: T0,
        visits: 1,
        cameras: ['door'],
        samples: [
          {
            id: 's',
            descriptor: Array.from(unitVector(10)),
            quality: 1,
            time: T0,
            camera: 'door',
            event: null,
          },
        ],
      },
    ]);
    assert.equal(g.next, 42);
    assert.equal(g.nearest(unitVector(10))?.id, 'VISITOR_0041');
    assert.equal(
      g.assign({ frames: [frame(unitVector(11))], camera: 'door', time: T0 })?.visitor.id,
      'VISITOR_0042',
    );
  });

  it("keeps a passage's best picture, then the best turned another way, then the best left", () => {
    const f = (quality: number, yaw: number | null, name: string) => ({ quality, yaw, name });
    const frames = [
      f(0.5, 2, 'a'),
      f(0.9, 0, 'best'),
      f(0.8, 4, 'same pose'),
      f(0.6, -18, 'turned'),
      f(0, 30, 'no face'),
      f(0.7, null, 'yaw unknown'),
    ];
    assert.deepEqual(
      passagePictures(frames, 3, 10).map((x) => x.name),
      ['best', 'turned', 'same pose'],
      'the turned face before a better one of the same pose',
    );
    assert.deepEqual(
      passagePictures(frames, 5, 10).map((x) => x.name),
      ['best', 'turned', 'same pose', 'yaw unknown', 'a'],
    );
    assert.deepEqual(
      passagePictures(frames, 3, 0).map((x) => x.name),
      ['best', 'same pose', 'yaw unknown'],
      'no spread asked: by quality',
    );
    assert.deepEqual(passagePictures([f(0, 0, 'none')], 3), []);
  });

  it('ranks pictures of a face: big, sharp and facing the camera first', () => {
    const good = qualityScore({ faceSize: 160, sharpness: 200, yaw: 0 }, 0.99);
    assert.ok(good > qualityScore({ faceSize: 40, sharpness: 200, yaw: 0 }, 0.99));
    assert.ok(good > qualityScore({ faceSize: 160, sharpness: 5, yaw: 0 }, 0.99));
    assert.ok(good > qualityScore({ faceSize: 160, sharpness: 200, yaw: 60 }, 0.99));
    assert.ok(good > qualityScore({ faceSize: 160, sharpness: 200, yaw: 0 }, 0.5));
    assert.ok(good <= 1 && qualityScore({ faceSize: 0, sharpness: 0, yaw: 90 }) === 0);
  });

  it('links visits that bridge two visitors, and no rule beats the single-linkage bound', () => {
    const a = unitVector(900);
    const n = unitVector(901);
    const along = (k: number): number[] => Array.from(a, (x, i) => x + k * n[i]);
    const visit = (identity: string, d: number[]): LabelledVisit => ({
      identity,
      frames: [{ descriptor: d, quality: 0.5 }],
    });
    const far = unitVector(902);
    // X: 0, 0.6 and 0.3 along one direction (a chain under 0.45); Y: two photos 0.8 apart.
    const visits = [
      visit('x', along(0)),
      visit('x', along(0.6)),
      visit('x', along(0.3)),
      visit('y', Array.from(far)),
      visit(
        'y',
        Array.from(far, (v, i) => v + 0.8 * a[i]),
      ),
    ];
    assert.equal(linkageBound(visits, 0.45), 0.5);
    const score = measureVisitors(visits, 0.45);
    assert.deepEqual(score.idsPerPerson, { x: 1, y: 2 }, 'the third photo of x linked the first two');
    assert.equal(score.purity, 1);
    assert.equal(score.completeness, 0.5);
    assert.equal(linkageBound(visits, 0.25), 0, 'at 0.25 the chain breaks');
  });
});
