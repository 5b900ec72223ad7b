/**
 * lib/vision's camera detector (the gated detection face-detect, the motion benchmark and any other
 * caller share) with the real tiny detector on the synthetic CCTV clip decoded by ffmpeg: one gate per
 * camera, skipped frames answered without the engine, photos and malformed frames never gated, region
 * mode's crop mapped back into the frame. The node's own behaviour is in test/flows/face-detect-motion.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import sharp from 'sharp';
import { after, before, describe, it } from 'node:test';
import { MOTION } from '../../lib/types/defaults';
import { CameraDetector } from '../../lib/vision/camera-detector';
import { FaceEngine } from '../../lib/vision/engine';
import { fixturePath, toolSkip } from '../helpers/env';
import { clipFrames, motionClip, PASSAGES, type ClipFrame } from '../helpers/motion-clip';

const gate = (mode: 'frame' | 'regions') => ({
  mode,
  sensitivity: MOTION.sensitivity.default,
  minArea: MOTION.minArea.default,
  keepAlive: MOTION.keepAlive.default,
  refresh: MOTION.refresh.default,
});

describe('CameraDetector (lib/vision)', { skip: toolSkip('ffmpeg') }, () => {
  let engine: FaceEngine;
  let frames: ClipFrame[];
  /** A copy of a clip frame (the engine may take a crop's buffer, never the caller's). */
  const at = (t: number): ClipFrame => {
    const f = frames[Math.round(t * 2)];
    return { ...f, data: Uint8Array.from(f.data) };
  };

  before(async () => {
    frames = clipFrames(await motionClip(), 2);
    engine = await FaceEngine.create({ backend: 'wasm', poolSize: 1, defaults: { detector: 'tiny' } });
  });
  after(() => engine?.close());

  it('without gating: every frame goes to the engine, and nothing of motion is said', async () => {
    const d = new CameraDetector(engine, { options: {} });
    for (const t of [0, 0.5]) {
      const r = await d.detect({ image: at(t), camera: 'hall', ts: t * 1000 });
      assert.equal(r.detected, true);
      assert.equal(r.motion, undefined);
      assert.ok(r.timing.inference > 0);
    }
    assert.equal(d.seen, 0);
  });

  it('gated: one gate per camera; a still frame is answered without the engine, a photo is never gated', async () => {
    const d = new CameraDetector(engine, { options: {}, motion: gate('frame') });
    const before = engine.stats().processed;
    const first = await d.detect({ image: at(0), camera: 'hall', ts: 0 });
    assert.equal(first.detected, true, 'the first frame of a camera is looked at');
    assert.equal(first.timing.reason, 'refresh');
    const still = await d.detect({ image: at(0.5), camera: 'hall', ts: 500 });
    assert.equal(still.detected, false);
    assert.deepEqual(still.faces, []);
    assert.equal(still.timing.skipped, true);
    assert.equal(still.timing.reason, 'no-motion');
    assert.equal(still.motion?.moving, false);
    assert.equal(still.motion?.detected, false);
    assert.deepEqual([still.width, still.height], [at(0).width, at(0).height]);
    // Another camera has a gate of its own: its first frame is looked at.
    const other = await d.detect({ image: at(0.5), camera: 'door', ts: 500 });
    assert.equal(other.detected, true);
    // A photo (an encoded image) is looked at whatever moved.
    const photo = await d.detect({
      image: readFileSync(
        fixturePath('face_recognition', 'examples', 'knn_examples', 'train', 'obama', 'obama.jpg'),
      ),
      camera: 'hall',
      ts: 600,
    });
    assert.equal(photo.detected, true);
    assert.equal(photo.motion, undefined);
    assert.equal(photo.faces.length, 1);
    assert.equal(engine.stats().processed - before, 3, 'the skipped frame never reached the engine');
    assert.equal(d.seen, 3);
    assert.ok(Math.abs(d.skippedShare - 1 / 3) < 1e-9);
  });

  it('a frame whose data does not match its size goes to the engine, which names the problem', async () => {
    const d = new CameraDetector(engine, { options: {}, motion: gate('frame') });
    const f = at(0);
    await assert.rejects(
      d.detect({ image: { ...f, data: f.data.subarray(0, 100) }, camera: 'hall', ts: 0 }),
      /size|length|bytes/i,
    );
    assert.equal(d.seen, 0, 'the gate never saw it');
  });

  it('region mode: the face found in the crop around what moved is placed in the whole frame', async () => {
    const d = new CameraDetector(engine, { options: {}, motion: gate('regions') });
    const p = PASSAGES[0];
    let found;
    for (let t = p.start - 1; t <= p.end; t += 0.5) {
      const r = await d.detect({ image: at(t), camera: 'hall', ts: t * 1000 });
      if (r.detected && r.motion?.crop && r.faces.length > 0) {
        found = r;
        break;
      }
    }
    assert.ok(found, 'a face is found in a crop during the passage');
    const { crop } = found.motion!;
    const box = found.faces[0].box;
    assert.ok(crop!.width < found.width || crop!.height < found.height, 'the crop is part of the frame');
    assert.ok(
      box.x >= crop!.x && box.x + box.width <= crop!.x + crop!.width + 1,
      'the box is inside the crop, in frame pixels',
    );
    assert.ok(box.y >= crop!.y && box.y + box.height <= crop!.y + crop!.height + 1);
  });

  it('region mode with the full picture: the picture is cut to the same region, the faces described from it', async () => {
    const options = { descriptors: true };
    const plain = new CameraDetector(engine, { options, motion: gate('regions') });
    const withFull = new CameraDetector(engine, { options, motion: gate('regions') });
    const p = PASSAGES[0];
    let compared = 0;
    for (let t = p.start - 1; t <= p.end; t += 0.5) {
      const f = at(t);
      // The camera's picture at twice the frame's size, as face-camera would send it.
      const full = await sharp(Buffer.from(f.data), {
        raw: { width: f.width, height: f.height, channels: 3 },
      })
        .resize(f.width * 2, f.height * 2)
        .jpeg({ quality: 95 })
        .toBuffer();
      const a = await plain.detect({ image: at(t), camera: 'hall', ts: t * 1000 });
      const b = await withFull.detect({ image: at(t), camera: 'hall', ts: t * 1000, full });
      assert.deepEqual(b.motion?.crop, a.motion?.crop);
      assert.deepEqual(
        b.faces.map((x) => x.box),
        a.faces.map((x) => x.box),
      );
      for (const [i, face] of b.faces.entries()) {
        if (!a.motion?.crop) continue;
        const d = Math.hypot(...face.descriptor!.map((v, j) => v - a.faces[i].descriptor![j]));
        // The picture holds no more than the frame here: the same face, described alike.
        assert.ok(d < 0.2, `descriptor ${d.toFixed(3)} from the cut picture`);
        compared++;
      }
    }
    assert.ok(compared > 0, 'a face was found in a crop and described from the cut picture');
  });
});
