/**
 * Describing faces from the camera's full picture, measured on a 1920x1080 H.264 clip made from the
 * fixtures (test/helpers/fullres-clip.ts): the labelled people pass at face widths of 40 to 120 px,
 * each enrolled from another photo of theirs. Found in the 640 px frame both ways; described from
 * that frame (as before) or from the full picture cut around each face (face-camera's default).
 * The numbers are docs/recognition.md's table, asserted exactly.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { FaceStore } from '../../lib/store/face-store';
import { FaceEngine } from '../../lib/vision/engine';
import { toolSkip } from '../helpers/env';
import {
  decodeFrames,
  makeFullResClip,
  referenceStore,
  SCALED_W,
  scoreFrames,
  type FullResClip,
  type SizeScore,
} from '../helpers/fullres-clip';

/** [face width, found, named, named wrongly] of the 18 faces at each width. */
const FROM_FRAME = [
  [40, 2, 0, 0],
  [50, 5, 0, 0],
  [60, 4, 1, 0],
  [80, 7, 3, 0],
  [100, 7, 6, 0],
  [120, 6, 5, 0],
];
const FROM_FULL_PICTURE = [
  [40, 2, 1, 0],
  [50, 5, 4, 0],
  [60, 4, 3, 0],
  [80, 7, 6, 0],
  [100, 7, 6, 0],
  [120, 6, 5, 0],
];

const rows = (sizes: SizeScore[]): number[][] => sizes.map((s) => [s.size, s.found, s.named, s.wrong]);

describe('faces described from the full picture of a 1080p camera', { skip: toolSkip('ffmpeg') }, () => {
  let engine: FaceEngine;
  let clip: FullResClip;
  let store: FaceStore;
  let dir: string;

  before(async () => {
    engine = await FaceEngine.create({ poolSize: 2 });
    dir = mkdtempSync(path.join(os.tmpdir(), 'fw-fullres-test-'));
    clip = await makeFullResClip(engine);
    store = await referenceStore(engine, clip, dir);
  });
  after(async () => {
    await store?.close();
    await engine?.close();
    clip?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it('finds the same faces and names twice as many of the small ones, nobody wrongly', async () => {
    assert.deepEqual([clip.frames, clip.planted.length, clip.references.length], [36, 108, 18]);
    const scaled = await decodeFrames(clip.file, SCALED_W);
    const full = await decodeFrames(clip.file, 0);
    assert.deepEqual(
      [scaled[0].width, scaled[0].height, full[0].width, full[0].height],
      [640, 360, 1920, 1080],
    );
    const fromFrame = await scoreFrames(engine, store, clip, scaled);
    const fromFull = await scoreFrames(engine, store, clip, scaled, full);
    assert.deepEqual(rows(fromFrame.sizes), FROM_FRAME);
    assert.deepEqual(rows(fromFull.sizes), FROM_FULL_PICTURE);
    const small = (s: SizeScore[]): number => s.filter((x) => x.size <= 60).reduce((n, x) => n + x.named, 0);
    assert.ok(small(fromFull.sizes) >= 2 * small(fromFrame.sizes));
  });
});
