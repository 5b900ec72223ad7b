/**
 * No key from outside reaches an object's prototype, in the domain code that takes camera names and
 * person ids from messages: the tracker refuses a reserved camera name or person id, the live
 * view's hub keeps nothing for a reserved camera name, and detection options from outside set only
 * the options there are. `Object.prototype` is checked after each.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Tracker, type TrackFace } from '../../lib/events/tracker';
import { LiveHub, type MatchOutput } from '../../lib/live/hub';
import { DEFAULT_DETECT_OPTIONS, type DetectOptions } from '../../lib/types';
import { RESERVED_KEYS } from '../../lib/types/keys';
import { asJpeg } from '../../lib/vision/image';
import { resolveDetectOptions } from '../../lib/vision/engine';

/** Reserved names as they may come: exact, another case, with spaces. */
const RESERVED = [...RESERVED_KEYS, 'Constructor', ' __proto__ ', 'PROTOTYPE'];

/** What `Object.prototype` holds now: its own property names and `{}`'s prototype. */
function prototypeNow(): string {
  const probe = {} as Record<string, unknown>;
  return JSON.stringify({
    names: Object.getOwnPropertyNames(Object.prototype).sort(),
    same: Object.getPrototypeOf(probe) === Object.prototype,
    count: probe.count,
    name: probe.name,
  });
}
const CLEAN = prototypeNow();

function face(person: { id: string; name: string } | null): TrackFace {
  return {
    box: { x: 10, y: 10, width: 50, height: 50 },
    quality: { faceSize: 50, sharpness: 40, yaw: null },
    match: {
      known: !!person,
      person,
      distance: person ? 0.3 : null,
      confidence: person ? 0.7 : 0,
      ambiguous: false,
    },
  } as TrackFace;
}

describe('reserved keys in the domain code', () => {
  it('the tracker refuses a reserved camera name and a reserved person id, and keeps nothing of them', () => {
    const tracker = new Tracker({ cooldownMs: 3000 });
    let ts = 1_000_000;
    for (const name of RESERVED) {
      assert.throws(
        () => tracker.observe(name, (ts += 100), [face(null)]),
        (err: Error) => err instanceof RangeError && /camera name ".+" is reserved/.test(err.message),
        name,
      );
      assert.throws(
        () => tracker.observe('porch', (ts += 100), [face(null), face({ id: name, name: 'Eve' })]),
        (err: Error) => err instanceof RangeError && /person id ".+" is reserved/.test(err.message),
        name,
      );
      // A photo (no camera) is refused the same way.
      assert.throws(() => tracker.observe(null, (ts += 100), [face({ id: name, name: 'Eve' })]), /reserved/);
    }
    assert.equal(tracker.size, 0, 'no track was made');
    assert.equal(tracker.observe('porch', (ts += 100), [face({ id: 'PERSON_0001', name: 'Eve' })]).length, 1);
    assert.equal(prototypeNow(), CLEAN);
  });

  it('the live hub keeps, shows and waits for nothing under a reserved camera name', async () => {
    const jpeg = await asJpeg({
      data: new Uint8Array(16 * 8 * 3).fill(90),
      width: 16,
      height: 8,
      channels: 3,
    });
    const hub = new LiveHub({ encode: asJpeg, viewerTimeoutMs: 5000 });
    for (const camera of RESERVED) {
      hub.watch(camera);
      assert.equal(hub.watching(camera), false, camera);
      const msg: MatchOutput = {
        frame: { camera, seq: 1, ts: Date.now(), width: 16, height: 8 },
        width: 16,
        height: 8,
        image: jpeg,
        faces: [
          {
            box: { x: 1, y: 1, width: 4, height: 4 },
            match: { known: true, person: { name: 'Eve' }, confidence: 0.8 },
          },
        ],
      };
      hub.fromMatch(msg);
      hub.fromSource({
        camera,
        seq: 2,
        ts: Date.now(),
        width: 16,
        height: 8,
        channels: 3,
        data: new Uint8Array(16 * 8 * 3),
      });
      assert.equal(hub.latest(camera), undefined);
      assert.equal(hub.seen(camera), undefined);
      assert.equal(await hub.next(camera, 0, 5000), null, 'answered at once, not after the wait');
      assert.equal(await hub.jpeg(camera), null);
      assert.equal(await hub.drawn(camera), null);
    }
    assert.equal(hub.counters.published, 0);
    // An ordinary camera still works.
    hub.watch('porch');
    hub.fromMatch({
      frame: { camera: 'porch', seq: 1, ts: Date.now(), width: 16, height: 8 },
      width: 16,
      height: 8,
      image: jpeg,
      faces: [],
    });
    assert.equal(hub.counters.published, 1);
    hub.close();
    assert.equal(prototypeNow(), CLEAN);
  });

  it('detection options from outside set only the options there are, never a prototype', () => {
    const over = JSON.parse(
      '{"__proto__": {"detector": "tiny", "polluted": true}, "constructor": {"x": 1}, "prototype": 1, "bogus": 2, "minConfidence": 0.6}',
    ) as Partial<DetectOptions>;
    const o = resolveDetectOptions(DEFAULT_DETECT_OPTIONS, over);
    assert.equal(Object.getPrototypeOf(o), Object.prototype);
    assert.deepEqual(Object.keys(o).sort(), Object.keys(DEFAULT_DETECT_OPTIONS).sort());
    assert.equal(o.minConfidence, 0.6);
    assert.equal(o.detector, DEFAULT_DETECT_OPTIONS.detector);
    assert.equal((o as unknown as Record<string, unknown>).polluted, undefined);
    assert.equal(prototypeNow(), CLEAN);
  });
});
