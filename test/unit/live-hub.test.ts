/**
 * The live view's hub (lib/live): nothing kept while nobody watches, frames capped per camera, one
 * JPEG encode per frame however many viewers ask, face-detect's JPEG reused, rtsp-source's frames
 * paired with face-match's output, and the long-poll's wake-up, timeout and abort. The clock is the
 * test's; JPEGs are encoded for real with sharp (lib/vision/image asJpeg).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import sharp from 'sharp';
import { LiveHub, type MatchOutput } from '../../lib/live/hub';
import type { CameraFrame } from '../../lib/types';
import type { RawImage } from '../../lib/types';
import { asJpeg } from '../../lib/vision/image';

function setup(opts: { maxFps?: number } = {}) {
  let now = 1_000_000;
  const encoded: RawImage[] = [];
  const hub = new LiveHub({
    maxFps: opts.maxFps ?? 5,
    viewerTimeoutMs: 5000,
    fallbackMs: 2000,
    now: () => now,
    encode: (raw) => {
      encoded.push(raw);
      return asJpeg(raw);
    },
  });
  return {
    hub,
    encoded,
    advance: (ms: number) => (now += ms),
    time: () => now,
  };
}

function raw(camera: string, seq: number, ts: number, value = 120): CameraFrame {
  return {
    camera,
    seq,
    ts,
    width: 32,
    height: 16,
    channels: 3,
    data: new Uint8Array(32 * 16 * 3).fill(value),
  };
}

function matched(frame: CameraFrame, names: Array<string | null>, image?: Buffer): MatchOutput {
  const { camera, seq, ts, width, height } = frame;
  return {
    frame: { camera, seq, ts, width, height },
    width,
    height,
    image,
    faces: names.map((name, i) => ({
      box: { x: i * 10, y: 2, width: 8, height: 8 },
      match: { known: name !== null, person: name ? { name } : null, confidence: name ? 0.8 : 0.1 },
    })),
  };
}

describe('live hub', () => {
  it('keeps nothing of a camera nobody watches, but notes that face-match sees it', () => {
    const { hub } = setup();
    const f = raw('door', 1, 1);
    hub.fromSource(f);
    hub.fromMatch(matched(f, ['Ada']));
    assert.equal(hub.latest('door'), undefined);
    assert.deepEqual(hub.counters, { published: 0, encodes: 0, shown: 0, feedParts: 0 });
    assert.ok(hub.seen('door'));
    assert.equal(hub.watching('door'), false);
  });

  it('pairs face-match output with its raw frame, encodes it once for any number of viewers', async () => {
    const { hub, encoded, advance } = setup();
    hub.watch('door');
    const f = raw('door', 7, 123);
    hub.fromSource(f);
    // rtsp-source's stand-in frame (face-match has not spoken yet) ...
    assert.deepEqual(hub.latest('door')?.faces, []);
    advance(50);
    hub.fromMatch(matched(f, ['Ada', null]));
    // ... gives way at once to face-match's frame with faces.
    const live = hub.latest('door');
    assert.deepEqual(
      live?.faces.map((x) => [x.name, x.known]),
      [
        ['Ada', true],
        [null, false],
      ],
    );
    assert.equal(live?.ts, 123);
    const [a, b] = await Promise.all([hub.jpeg('door', live?.seq), hub.jpeg('door', live?.seq)]);
    assert.ok(a && b);
    assert.equal(a.jpeg, b.jpeg);
    assert.equal(encoded.length, 1);
    assert.equal(encoded[0].data, f.data, 'the frame itself, not a copy');
    assert.equal((await sharp(a.jpeg).metadata()).format, 'jpeg');
    assert.deepEqual([hub.counters.encodes, hub.counters.shown], [1, 1]);
  });

  it('uses the JPEG face-detect kept, with no encode', async () => {
    const { hub, encoded } = setup();
    hub.watch('door');
    const image = await asJpeg(raw('x', 0, 0, 200));
    hub.fromMatch(matched(raw('door', 3, 5), ['Ada'], image));
    const shown = await hub.jpeg('door');
    assert.equal(shown?.jpeg, image);
    assert.equal(encoded.length, 0);
    assert.equal(hub.counters.encodes, 0);
  });

  it('skips a face-match frame with no picture to show', () => {
    const { hub } = setup();
    hub.watch('door');
    hub.fromMatch(matched(raw('door', 3, 5), ['Ada']));
    assert.equal(hub.latest('door'), undefined);
  });

  it('shows a frame without faces with the newest picture when its own is gone', async () => {
    const { hub, advance, encoded } = setup();
    hub.watch('door');
    const newest = raw('door', 9, 9, 30);
    hub.fromSource(raw('door', 8, 8));
    hub.fromSource(newest);
    advance(300);
    // Frame 2 left the ring long ago: with a face it is skipped (its box would be misplaced) ...
    hub.fromMatch(matched(raw('door', 2, 2), ['Ada']));
    assert.equal(hub.latest('door')?.faces.length, 0, 'still the stand-in');
    // ... without faces it is shown with frame 9's picture.
    hub.fromMatch(matched(raw('door', 2, 2), []));
    const live = hub.latest('door');
    assert.equal(live?.ts, 2);
    assert.ok(await hub.jpeg('door', live?.seq));
    assert.equal(encoded.at(-1)?.data, newest.data);
  });

  it('caps the frames kept per camera', () => {
    const { hub, advance } = setup({ maxFps: 5 });
    hub.watch('door');
    for (let i = 1; i <= 20; i++) {
      const f = raw('door', i, i);
      hub.fromSource(f);
      hub.fromMatch(matched(f, []));
      advance(50); // 20 frames/s offered
    }
    // One second at 20 frames/s: 5 kept (the first included).
    assert.equal(hub.counters.published, 5 + 1, 'five of face-match, one stand-in before it');
  });

  it('stops costing once the viewer is gone', () => {
    const { hub, advance } = setup();
    hub.watch('door');
    hub.fromSource(raw('door', 1, 1));
    assert.ok(hub.latest('door'));
    advance(5001);
    assert.equal(hub.watching('door'), false);
    assert.equal(hub.latest('door'), undefined, 'its frames are let go');
    hub.fromSource(raw('door', 2, 2));
    assert.equal(hub.latest('door'), undefined);
  });

  it('wakes a long-poll with the next frame, answers at once when one is newer, times out and aborts', async () => {
    const { hub, advance } = setup();
    const waiting = hub.next('door', 0, 10000);
    hub.fromSource(raw('door', 1, 11));
    const first = await waiting;
    assert.equal(first?.ts, 11);
    assert.equal((await hub.next('door', 0, 10000))?.seq, first?.seq, 'newer than 0: at once');
    assert.equal(await hub.next('door', first.seq, 20), null, 'nothing newer: null after the wait');
    const ctl = new AbortController();
    const aborted = hub.next('door', first.seq, 10000, ctl.signal);
    ctl.abort();
    assert.equal(await aborted, null);
    // A waiting long-poll keeps the camera watched past the viewer timeout.
    const later = hub.next('door', first.seq, 10000);
    advance(6000);
    advance(1000);
    hub.fromSource(raw('door', 2, 22));
    assert.equal((await later)?.ts, 22);
  });

  it('has no picture for a frame whose pixels were moved away (detached)', async () => {
    const { hub } = setup();
    hub.watch('door');
    const f = raw('door', 1, 1);
    hub.fromSource(f);
    structuredClone(f.data.buffer, { transfer: [f.data.buffer as ArrayBuffer] });
    assert.equal(await hub.jpeg('door'), null);
  });

  it('draws the faces once per frame for the MJPEG feed', async () => {
    let draws = 0;
    const hub = new LiveHub({
      encode: (r) => asJpeg(r),
      draw: (jpeg) => {
        draws++;
        return Promise.resolve(jpeg);
      },
    });
    hub.watch('door');
    const f = raw('door', 1, 1);
    hub.fromSource(f);
    hub.fromMatch(matched(f, ['Ada']));
    const seq = hub.latest('door')!.seq;
    await Promise.all([hub.drawn('door', seq), hub.drawn('door', seq)]);
    assert.equal(draws, 1);
    assert.equal(hub.counters.feedParts, 2);
  });
});
