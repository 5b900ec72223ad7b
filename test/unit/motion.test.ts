/**
 * The motion detector and the gate (lib/vision/motion, motion-gate) on synthetic frames and on the
 * synthetic CCTV clip made with ffmpeg from the fixtures (test/helpers/motion-clip.ts), and region
 * mode against whole-frame detection with the real tiny detector.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Box, RawImage } from '../../lib/types';
import { MOTION } from '../../lib/types/defaults';
import { FaceEngine } from '../../lib/vision/engine';
import { MotionDetector, motionThreshold } from '../../lib/vision/motion';
import { cropFrame, facesToFrame, MotionGate, planRegions } from '../../lib/vision/motion-gate';
import { detectSettings } from '../../nodes/face-detect/config';
import { toolSkip } from '../helpers/env';
import {
  clipFrames,
  motionClip,
  passageAt,
  PASSAGES,
  STAND,
  STILL_CLIP_SECONDS,
  standStillClip,
  WALK_IN,
  type ClipFrame,
} from '../helpers/motion-clip';

const W = 640;
const H = 360;

/** A grey frame of level `level` with an optional square of level `squareLevel`. */
function frame(level: number, square?: { x: number; y: number; size: number; level: number }): RawImage {
  const data = new Uint8Array(W * H * 3).fill(level);
  if (square) {
    for (let y = square.y; y < square.y + square.size; y++)
      data.fill(square.level, (y * W + square.x) * 3, (y * W + square.x + square.size) * 3);
  }
  return { data, width: W, height: H, channels: 3 };
}

const contains = (outer: Box, inner: Box): boolean =>
  outer.x <= inner.x &&
  outer.y <= inner.y &&
  outer.x + outer.width >= inner.x + inner.width &&
  outer.y + outer.height >= inner.y + inner.height;

const gateSettings = {
  mode: 'frame' as const,
  sensitivity: MOTION.sensitivity.default,
  minArea: MOTION.minArea.default,
  keepAlive: MOTION.keepAlive.default,
  refresh: MOTION.refresh.default,
};

describe('the motion detector', () => {
  it('learns the first frame, ignores a change of light over the whole frame, finds a square that appears', () => {
    const d = new MotionDetector();
    assert.equal(d.update(frame(100), 0).learning, true);
    // A sudden brightness step over everything (auto-exposure) is light, not motion.
    const lit = d.update(frame(140), 500);
    assert.equal(lit.moving, false, JSON.stringify(lit));
    const sq = { x: 200, y: 100, size: 80, level: 240 };
    const r = d.update(frame(140, sq), 1000);
    assert.equal(r.moving, true);
    assert.equal(r.regions.length, 1);
    const box = r.regions[0];
    assert.ok(contains(box, { x: sq.x, y: sq.y, width: sq.size, height: sq.size }), JSON.stringify(box));
    assert.ok(box.width <= sq.size + 16 && box.height <= sq.size + 16, JSON.stringify(box));
    assert.ok(Math.abs(r.area - (sq.size * sq.size) / (W * H)) < 0.01, String(r.area));
  });

  it('counts a change only above its sensitivity threshold and its minimum area', () => {
    assert.equal(Math.round(motionThreshold(50)), 25);
    assert.equal(motionThreshold(100), 5);
    assert.equal(motionThreshold(1), 45);
    const faint = { x: 200, y: 100, size: 80, level: 115 }; // 15 grey levels over the background
    const insensitive = new MotionDetector({ sensitivity: 50 });
    const sensitive = new MotionDetector({ sensitivity: 100 });
    for (const d of [insensitive, sensitive]) d.update(frame(100), 0);
    assert.equal(insensitive.update(frame(100, faint), 500).moving, false);
    assert.equal(sensitive.update(frame(100, faint), 500).moving, true);
    // 16x16 pixels are 0.11 % of the frame: over the default minimum area, under 0.5 %.
    const small = { x: 320, y: 160, size: 16, level: 250 };
    const byDefault = new MotionDetector();
    const strict = new MotionDetector({ minArea: 0.5 });
    for (const d of [byDefault, strict]) d.update(frame(100), 0);
    assert.equal(byDefault.update(frame(100, small), 500).moving, true);
    assert.equal(strict.update(frame(100, small), 500).moving, false);
  });

  it('finds two things far apart as two regions, and starts over on a new frame size', () => {
    const d = new MotionDetector();
    d.update(frame(60), 0);
    const two = frame(60, { x: 40, y: 40, size: 60, level: 200 });
    for (let y = 250; y < 310; y++) two.data.fill(200, (y * W + 500) * 3, (y * W + 560) * 3);
    const r = d.update(two, 500);
    assert.equal(r.regions.length, 2, JSON.stringify(r.regions));
    const small: RawImage = { data: new Uint8Array(320 * 180 * 3), width: 320, height: 180, channels: 3 };
    assert.equal(d.update(small, 1000).learning, true);
  });
});

describe('the motion gate', () => {
  it('runs the detector on motion, on the first frame, while faces were seen and on the refresh; skips the rest', () => {
    const gate = new MotionGate({ ...gateSettings, keepAlive: 2, refresh: 10 });
    const still = frame(90);
    const at = (s: number, f = still) => gate.check('cam', f, s * 1000);
    assert.deepEqual([at(0).run, at(0.5).run], [true, false], 'the first frame runs, a still one does not');
    assert.equal(at(1).reason, 'no-motion');
    const moved = at(1.5, frame(90, { x: 100, y: 100, size: 100, level: 220 }));
    assert.deepEqual([moved.run, moved.reason], [true, 'motion']);
    gate.found('cam', 1500, 1);
    // The square left (the frame is the background again): no motion, but a face was found 0.5 s
    // ago: the detector looks again once a second until 2 s after that face.
    assert.equal(at(2).reason, 'no-motion', 'a keep-alive waits a second after the last run');
    assert.equal(at(2.5).reason, 'recent-faces');
    assert.equal(at(3).reason, 'no-motion');
    assert.equal(at(3.5).reason, 'recent-faces');
    assert.equal(at(4).reason, 'no-motion', 'keep-alive ends 2 s after the last face');
    assert.equal(at(11).reason, 'no-motion');
    assert.equal(at(13).reason, 'no-motion');
    assert.equal(at(13.5).reason, 'refresh', '10 s after the last run (at 3.5 s)');
    assert.equal(at(14).reason, 'no-motion');
    // Another camera has its own state; a clock that goes back starts a camera over.
    assert.equal(gate.check('other', still, 11000).reason, 'refresh');
    assert.equal(at(1).run, true);
    assert.ok(
      gate.skipped > 0 && gate.seen === gate.skipped + 7 && gate.skipped === 8,
      `${gate.skipped}/${gate.seen}`,
    );
  });

  it('reads its settings from face-detect: on (frame) by default, off when set, bad values reported', () => {
    const warnings: string[] = [];
    const def = detectSettings({}, (m) => warnings.push(m));
    assert.deepEqual(def.motion, {
      mode: 'frame',
      sensitivity: 50,
      minArea: 0.1,
      keepAlive: 2,
      refresh: 30,
    });
    assert.equal(def.skipped, 'send');
    assert.equal(detectSettings({ motion: 'off' }).motion, undefined);
    const bad = detectSettings({ motion: 'regions', motionSensitivity: 500, motionSkipped: 'drop' }, (m) =>
      warnings.push(m),
    );
    assert.equal(bad.motion?.mode, 'regions');
    assert.equal(bad.motion?.sensitivity, 50);
    assert.equal(bad.skipped, 'drop');
    assert.equal(warnings.length, 1);
    assert.match(warnings[0], /motionSensitivity 500/);
  });

  it('plans a region crop on the tiny detector grid at the frame scale, never with SSD or when it costs too much', () => {
    const tiny = { detector: 'tiny' as const, inputSize: 416, maxDimension: 0 };
    const plan = planRegions([{ x: 300, y: 100, width: 80, height: 120 }], W, H, tiny);
    assert.ok(plan);
    const scale = 416 / W;
    assert.equal(plan.options.inputSize! % 32, 0);
    assert.equal(
      Math.round(Math.max(plan.crop.width, plan.crop.height) * scale),
      plan.options.inputSize,
      'the crop is seen at the frame scale',
    );
    assert.ok(contains(plan.crop, { x: 260, y: 60, width: 160, height: 200 }), JSON.stringify(plan.crop));
    assert.ok(plan.cost < 0.6);
    assert.equal(
      planRegions([{ x: 300, y: 100, width: 80, height: 120 }], W, H, { ...tiny, detector: 'ssd' }),
      undefined,
    );
    assert.equal(planRegions([{ x: 0, y: 0, width: 600, height: 340 }], W, H, tiny), undefined);
    const crop = cropFrame(frame(10, { x: 300, y: 100, size: 10, level: 99 }), plan.crop);
    assert.equal(crop.data[((100 - plan.crop.y) * crop.width + (300 - plan.crop.x)) * 3], 99);
    const [moved] = facesToFrame(
      [
        {
          box: { x: 5, y: 6, width: 50, height: 50 },
          score: 1,
          modelId: 'm',
          quality: { faceSize: 50, sharpness: 1, yaw: 0 },
          landmarks: [{ x: 1, y: 2 }],
        },
      ],
      plan.crop,
    );
    assert.deepEqual(moved.box, { x: 5 + plan.crop.x, y: 6 + plan.crop.y, width: 50, height: 50 });
    assert.deepEqual(moved.landmarks, [{ x: 1 + plan.crop.x, y: 2 + plan.crop.y }]);
  });
});

describe(
  'motion gating on the synthetic CCTV clip',
  { skip: toolSkip(process.env.FFMPEG_PATH || 'ffmpeg') },
  () => {
    let frames: ClipFrame[];
    let still: ClipFrame[];
    let engine: FaceEngine;
    before(async () => {
      frames = clipFrames(await motionClip());
      still = clipFrames(await standStillClip());
      engine = await FaceEngine.create({ poolSize: 1, defaults: { detector: 'tiny' } });
    });
    after(() => engine?.close());

    it('sees motion in every passage and nowhere else: the noise and the brightness drift trigger nothing', (t) => {
      const d = new MotionDetector();
      const moving = frames.filter((f) => d.update(f, f.t * 1000).moving).map((f) => f.t);
      t.diagnostic(`motion at ${moving.join(' ')} s`);
      for (const m of moving) assert.ok(passageAt(m, 0.5), `motion at ${m} s, outside every passage`);
      for (const p of PASSAGES)
        assert.ok(
          moving.filter((m) => m >= p.start && m <= p.end).length >= 4,
          `${p.name}: ${moving.join(' ')}`,
        );
    });

    /** Runs the clip through the detector, gated or not; which passages had faces, and how many runs. */
    async function run(gate: MotionGate | undefined, regions = false) {
      const found = new Set<string>();
      const faces = new Map<number, Box[]>();
      let runs = 0;
      for (const f of frames) {
        const decision = gate?.check('cam', f, f.t * 1000);
        if (decision && !decision.run) continue;
        runs++;
        const plan =
          regions && decision ? planRegions(decision.motion.regions, W, H, engine.defaults) : undefined;
        const r = plan
          ? facesToFrame((await engine.detect(cropFrame(f, plan.crop), plan.options)).faces, plan.crop)
          : (await engine.detect(f)).faces;
        gate?.found('cam', f.t * 1000, r.length);
        faces.set(
          f.t,
          r.map((x) => x.box),
        );
        const p = passageAt(f.t, 0.5);
        if (r.length) {
          assert.ok(p, `a face at ${f.t} s, outside every passage`);
          found.add(p.name);
        }
      }
      return { found, runs, faces };
    }

    it('finds every passage with gating on, as many as without, running the detector at most a quarter as often', async (t) => {
      const off = await run(undefined);
      const on = await run(new MotionGate(gateSettings));
      t.diagnostic(`detector runs: ${off.runs} without gating, ${on.runs} with`);
      assert.deepEqual([...off.found].sort(), PASSAGES.map((p) => p.name).sort());
      assert.deepEqual([...on.found].sort(), [...off.found].sort());
      assert.ok(on.runs * 4 <= off.runs, `${on.runs} runs of ${off.runs}`);
    });

    it('in region mode finds the same faces as whole-frame detection, boxes in frame coordinates within 3 pixels', async (t) => {
      const gate = new MotionGate({ ...gateSettings, mode: 'regions' });
      const regions = await run(gate, true);
      let compared = 0;
      for (const [ts, boxes] of regions.faces) {
        const whole = (await engine.detect(frames[ts * 2])).faces.map((f) => f.box);
        assert.equal(
          boxes.length,
          whole.length,
          `${ts} s: ${JSON.stringify(boxes)} vs ${JSON.stringify(whole)}`,
        );
        for (let i = 0; i < boxes.length; i++) {
          for (const k of ['x', 'y', 'width', 'height'] as const)
            assert.ok(
              Math.abs(boxes[i][k] - whole[i][k]) <= 3,
              `${ts} s ${k}: ${JSON.stringify([boxes[i], whole[i]])}`,
            );
          compared++;
        }
      }
      t.diagnostic(`${compared} faces compared`);
      assert.ok(compared >= PASSAGES.length * 2, `only ${compared} faces compared`);
      assert.equal(regions.found.size, PASSAGES.length);
    });

    it('keeps detecting a person who walked in and stands still (keep-alive), and would lose them without it', async () => {
      // Times (s) of the frames on which the detector found the face.
      const check = async (keepAlive: number): Promise<number[]> => {
        const gate = new MotionGate({ ...gateSettings, keepAlive, refresh: 3600 });
        const seen: number[] = [];
        for (const f of still) {
          const decision = gate.check('cam', f, f.t * 1000);
          if (!decision.run) continue;
          const r = await engine.detect(f);
          gate.found('cam', f.t * 1000, r.faces.length);
          if (r.faces.length) seen.push(f.t);
        }
        return seen;
      };
      const standing = still.filter((f) => f.t >= STAND + 1).map((f) => f.t);
      assert.ok(still.some((f) => f.t > WALK_IN));
      const kept = await check(MOTION.keepAlive.default);
      // Looked at once a second while standing: every standing frame has a sighting in the second up to it.
      const unseen = standing.filter((s) => !kept.some((k) => k <= s && s - k < 1));
      assert.deepEqual(unseen, [], `seen at least once a second while standing (seen at ${kept.join(', ')})`);
      assert.ok(kept.filter((s) => s >= STAND + 1).length >= (standing.length - 1) / 2);
      // Without it, the person fades into the background (about 20 s here) and is no longer looked at.
      const end = STILL_CLIP_SECONDS - 10;
      const lost = await check(0);
      assert.ok(
        lost.some((s) => s >= STAND + 1),
        'seen while still counted as motion',
      );
      assert.deepEqual(
        lost.filter((s) => s >= end),
        [],
        'not looked at in the last 10 s without the keep-alive',
      );
    });
  },
);
