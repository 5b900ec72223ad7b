/**
 * FaceEngine with real models on real photos: one engine (two workers) for the whole file.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import type { Box, DetectResult, DetectedFace, RawImage } from '../../lib/types';
import { FaceEngine } from '../../lib/vision/engine';
import { EngineError, FrameDroppedError, ImageError } from '../../lib/vision/errors';
import {
  SETS,
  faceApiSample,
  fixturePath,
  fullDataSkip,
  labelledPhotos,
  type FaceSet,
  type LabelledPhoto,
} from '../helpers/env';
import { residentOfSize } from '../helpers/memory';
import { hugePng } from '../helpers/vision-fixtures';

/**
 * Largest share of single-face photos that may yield no face or several, per detector. Measured
 * here (wasm backend) on the 108 photos of the three fixture sets and on the 110 of the full sets:
 * SSD 0 misses, tiny 1 (dlib's John_Simm/000306_00470222.jpg, in both: 0.9%). The bounds (2 and 4
 * photos of either) leave two photos more for SSD and three more for tiny, whose scores sit closer
 * to its threshold, for the small numeric differences between backends (wasm, cpu, tfjs-node),
 * while still catching a real regression: without the padding of small images SSD misses 69 of the
 * 110 (63%) and tiny 88 (80%).
 */
const MAX_MISS_RATE = { ssd: 0.02, tiny: 0.04 } as const;

/** face-api's usual threshold: the same person is closer, different people farther. */
const SAME_PERSON = 0.6;

function distance(a: number[], b: number[]): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] - b[i]) ** 2;
  return Math.sqrt(s);
}

function assertInside(box: Box, width: number, height: number, what: string): void {
  assert.ok(box.width > 0 && box.height > 0, `${what}: empty box ${JSON.stringify(box)}`);
  assert.ok(box.x >= 0 && box.y >= 0, `${what}: box starts outside ${JSON.stringify(box)}`);
  assert.ok(
    box.x + box.width <= width && box.y + box.height <= height,
    `${what}: box ends outside ${width}x${height}`,
  );
}

function iou(a: Box, b: Box): number {
  const x = Math.max(0, Math.min(a.x + a.width, b.x + b.width) - Math.max(a.x, b.x));
  const y = Math.max(0, Math.min(a.y + a.height, b.y + b.height) - Math.max(a.y, b.y));
  const inter = x * y;
  return inter / (a.width * a.height + b.width * b.height - inter);
}

async function raw(file: string): Promise<RawImage> {
  const { data, info } = await sharp(file).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data: new Uint8Array(data), width: info.width, height: info.height, channels: 3 };
}

describe('FaceEngine on real photos', () => {
  let engine: FaceEngine;
  /** One pass per set, detector and source, shared by the tests that need it (whichever runs first). */
  const passes = new Map<string, Promise<Array<[LabelledPhoto, DetectResult]>>>();
  function detectSet(set: FaceSet, detector: 'ssd' | 'tiny', full: boolean) {
    const key = `${set} ${detector} ${full}`;
    let pass = passes.get(key);
    if (!pass) {
      pass = Promise.all(
        labelledPhotos(set, { full }).map(
          async (p) =>
            [
              p,
              await engine.detect(await readFile(p.path), { detector, descriptors: detector === 'ssd' }),
            ] as [LabelledPhoto, DetectResult],
        ),
      );
      passes.set(key, pass);
    }
    return pass;
  }

  before(async () => {
    engine = await FaceEngine.create({ poolSize: 2 });
  });
  after(async () => {
    await engine?.close();
  });

  it('reports the backend in use, the model id and the pool', async () => {
    assert.ok(['tfjs-node', 'wasm', 'cpu'].includes(engine.backend));
    assert.match(engine.modelId, /^frnet-[0-9a-f]{12}$/);
    assert.equal(engine.poolSize, 2);
    const tensors = await engine.workerTensors();
    assert.equal(tensors.length, 2);
    for (const n of tensors) assert.ok(n > 0);
  });

  for (const [source, full] of [
    ['fixture sets', false],
    ['full sets', true],
  ] as const) {
    for (const detector of ['ssd', 'tiny'] as const) {
      it(
        `finds exactly one face in each single-face labelled photo (${detector}, ${source}), or reports a miss`,
        full ? fullDataSkip() : {},
        async (t) => {
          const results = (await Promise.all(SETS.map((set) => detectSet(set, detector, full)))).flat();
          assert.ok(results.length >= 100, `only ${results.length} labelled photos found`);
          const misses: string[] = [];
          for (const [p, r] of results) {
            if (r.faces.length !== 1) misses.push(`${p.set}/${p.rel}: ${r.faces.length} faces`);
            for (const f of r.faces) assertInside(f.box, r.width, r.height, p.rel);
          }
          for (const m of misses) t.diagnostic(`miss (${detector}): ${m}`);
          const rate = misses.length / results.length;
          t.diagnostic(
            `${detector}: ${misses.length} misses of ${results.length} photos (${(rate * 100).toFixed(1)}%)`,
          );
          assert.ok(
            rate <= MAX_MISS_RATE[detector],
            `miss rate ${rate} over ${MAX_MISS_RATE[detector]}: ${misses.join(', ')}`,
          );
        },
      );
    }
  }

  it('puts photos of the same person closer than 0.6 and of different people farther', async () => {
    const set = (await detectSet('face_recognition', 'ssd', false)).flatMap(
      ([p, r]): Array<[LabelledPhoto, DetectedFace]> => (r.faces.length === 1 ? [[p, r.faces[0]]] : []),
    );
    const obama = set.filter(([p]) => p.identity === 'obama');
    const biden = set.filter(([p]) => p.identity === 'biden');
    assert.ok(obama.length >= 4 && biden.length >= 2, 'the obama and biden photos were not all found');
    const pairs = (a: typeof set, b: typeof set) =>
      a.flatMap(([pa, fa], i) =>
        b.slice(a === b ? i + 1 : 0).map(([pb, fb]) => ({
          name: `${pa.rel} ~ ${pb.rel}`,
          d: distance(fa.descriptor!, fb.descriptor!),
        })),
      );
    for (const { name, d } of pairs(obama, obama))
      assert.ok(d < SAME_PERSON, `obama at ${d.toFixed(3)}: ${name}`);
    for (const { name, d } of pairs(obama, biden))
      assert.ok(d > SAME_PERSON, `obama, biden at ${d.toFixed(3)}: ${name}`);
    // And every pair of the fixture set's 6 people (measured on the full set's 16 photos: same person at
    // most 0.55, others at least 0.69).
    for (const [i, [pa, fa]] of set.entries()) {
      for (const [pb, fb] of set.slice(i + 1)) {
        const d = distance(fa.descriptor!, fb.descriptor!);
        const same = pa.identity === pb.identity;
        assert.ok(same ? d < SAME_PERSON : d > SAME_PERSON, `${pa.rel} ~ ${pb.rel} at ${d.toFixed(3)}`);
      }
    }
    for (const [, f] of set) {
      assert.equal(f.descriptor!.length, 128);
      assert.equal(f.modelId, engine.modelId);
    }
  });

  it("finds faces in face-api's sample photos, with boxes, landmarks and crops inside the image", async () => {
    for (let n = 1; n <= 6; n++) {
      const r = await engine.detect(await readFile(faceApiSample(n)), { landmarks: true, crop: true });
      assert.ok(r.faces.length >= 1, `sample${n}.jpg: no face`);
      for (const f of r.faces) {
        assertInside(f.box, r.width, r.height, `sample${n}.jpg`);
        assert.ok(f.score >= 0.5 && f.score <= 1);
        assert.equal(f.landmarks?.length, 68);
        assert.equal(f.quality.faceSize, Math.min(f.box.width, f.box.height));
        assert.ok(f.quality.sharpness > 0);
        assert.ok(f.quality.yaw !== null && Math.abs(f.quality.yaw) <= 90);
        const crop = await sharp(f.crop).metadata();
        assert.equal(crop.format, 'jpeg');
        // The crop holds the box and its margin, clipped to the image.
        assert.ok(crop.width >= f.box.width && crop.width <= Math.ceil(f.box.width * 1.5) + 2);
      }
      assert.equal(r.backend, engine.backend);
      assert.ok(r.timing.total >= r.timing.inference && r.timing.inference > 0 && r.timing.queue >= 0);
    }
  });

  it('finds both people in the labelled multi-face photos', async () => {
    for (const rel of ['examples/two_people.jpg', 'examples/knn_examples/test/obama_and_biden.jpg']) {
      const r = await engine.detect(await readFile(fixturePath('face_recognition', rel)));
      assert.equal(r.faces.length, 2, rel);
      // Largest first.
      assert.ok(r.faces[0].box.width * r.faces[0].box.height >= r.faces[1].box.width * r.faces[1].box.height);
    }
    const capped = await engine.detect(
      await readFile(fixturePath('face_recognition/examples/two_people.jpg')),
      {
        maxFaces: 1,
      },
    );
    assert.equal(capped.faces.length, 1);
  });

  it('gives an empty list for an image without a face', async () => {
    const r = await engine.detect(await readFile(fixturePath('face-api.js/test/images/white.png')));
    assert.deepEqual(r.faces, []);
    assert.deepEqual([r.width, r.height], [150, 150]);
  });

  it('reports boxes in original coordinates when it down-scales', async () => {
    const image = await readFile(faceApiSample(1));
    const full = await engine.detect(image, { descriptors: false });
    const scaled = await engine.detect(image, { descriptors: false, maxDimension: 640 });
    assert.deepEqual([scaled.width, scaled.height], [1920, 1280]);
    assert.equal(scaled.faces.length, full.faces.length);
    for (const f of scaled.faces) {
      const best = Math.max(...full.faces.map((g) => iou(f.box, g.box)));
      assert.ok(
        best > 0.7,
        `down-scaled box ${JSON.stringify(f.box)} matches no full-size box (IoU ${best})`,
      );
    }
  });

  it('describes the faces found in a small frame from the full picture of it, when given one', async () => {
    const original = await readFile(faceApiSample(1));
    const frame = await sharp(original).resize(480).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    const small: RawImage = {
      data: new Uint8Array(frame.data),
      width: 480,
      height: frame.info.height,
      channels: 3,
    };
    const options = { descriptors: true, landmarks: true, minFaceSize: 0, minConfidence: 0.3 };
    const [fromFrame, fromFull, atFull] = await Promise.all([
      engine.detect(small, options),
      engine.detect(small, options, { full: original }),
      engine.detect(original, options),
    ]);
    assert.ok(fromFrame.faces.length >= 3, `${fromFrame.faces.length} faces in the small frame`);
    // Found in the frame either way: the same boxes, in the frame's pixels.
    assert.deepEqual(
      fromFull.faces.map((f) => f.box),
      fromFrame.faces.map((f) => f.box),
    );
    assert.deepEqual([fromFull.width, fromFull.height], [small.width, small.height]);
    const k = 1920 / 480;
    for (const [i, f] of fromFull.faces.entries()) {
      const g = fromFrame.faces[i];
      // Landmarks in the frame's pixels, near those found in the frame itself.
      const off =
        f.landmarks!.reduce(
          (sum, p, j) => sum + Math.hypot(p.x - g.landmarks![j].x, p.y - g.landmarks![j].y),
          0,
        ) / f.landmarks!.length;
      assert.ok(off < f.box.width * 0.1, `face ${i}: landmarks ${off.toFixed(1)} px from the frame's`);
      // The descriptor is nearer the one made from the full-size photo than the frame's is.
      const box = { x: f.box.x * k, y: f.box.y * k, width: f.box.width * k, height: f.box.height * k };
      const same = atFull.faces.find((h) => iou(h.box, box) > 0.5);
      assert.ok(same, `face ${i} is found in the full-size photo too`);
      const dFull = distance(f.descriptor!, same.descriptor!);
      const dFrame = distance(g.descriptor!, same.descriptor!);
      assert.ok(
        dFull < dFrame && dFull < 0.25,
        `face ${i}: ${dFull.toFixed(3)} from the full picture, ${dFrame.toFixed(3)} from the frame`,
      );
    }
    // A picture that is not this frame at a higher resolution is refused, not cut at random.
    const other = await sharp(original).resize(1920, 1920, { fit: 'fill' }).jpeg().toBuffer();
    await assert.rejects(
      engine.detect(small, options, { full: other }),
      (err: Error) => err instanceof ImageError && /not the frame/.test(err.message),
    );
  });

  it('rejects corrupt, empty, unsupported and oversized input, then works on', async () => {
    const jpeg = await readFile(faceApiSample(2));
    const text = await readFile(fixturePath('face_recognition/LICENSE'));
    const cases: Array<[Buffer | RawImage, string]> = [
      [Buffer.concat([jpeg.subarray(0, 64), Buffer.alloc(2048, 0x3c)]), 'IMAGE_CORRUPT'],
      [jpeg.subarray(0, 5000), 'IMAGE_CORRUPT'],
      [text, 'IMAGE_UNSUPPORTED'],
      [Buffer.alloc(0), 'IMAGE_EMPTY'],
      [hugePng(), 'IMAGE_TOO_LARGE'],
      [{ data: new Uint8Array(10), width: 640, height: 360, channels: 3 }, 'IMAGE_CORRUPT'],
    ];
    for (const [input, code] of cases) {
      await assert.rejects(engine.detect(input), (err: unknown) => {
        assert.ok(err instanceof ImageError, String(err));
        assert.equal(err.code, code);
        return true;
      });
    }
    await assert.rejects(engine.detect(jpeg, { detector: 'yolo' as 'ssd' }), { code: 'INVALID_OPTIONS' });
    const r = await engine.detect(jpeg);
    assert.ok(r.faces.length >= 1);
  });

  it('keeps the tensor count of each worker flat: the same after 200 frames as after 10', async () => {
    const small = await readFile(fixturePath('face-api.js/examples/images/amy/amy1.png'));
    const photo = await readFile(fixturePath('face_recognition/examples/obama_small.jpg'));
    const empty = await readFile(fixturePath('face-api.js/test/images/white.png'));
    // Every path of the pipeline: tiny on a padded crop with landmarks and crops, SSD down-scaled with
    // age/gender and expressions, a frame without faces.
    const variants: Array<[Buffer, Parameters<FaceEngine['detect']>[1]]> = [
      [small, { detector: 'tiny', inputSize: 160, landmarks: true, crop: true }],
      [photo, { detector: 'ssd', maxDimension: 256, ageGender: true, expressions: true }],
      [empty, { detector: 'tiny', inputSize: 160 }],
      [small, { detector: 'tiny', inputSize: 160 }],
      [empty, { detector: 'tiny', inputSize: 160 }],
      [small, { detector: 'tiny', inputSize: 160, crop: true }],
      [empty, { detector: 'tiny', inputSize: 160 }],
      [small, { detector: 'tiny', inputSize: 160 }],
    ];
    let frames = 0;
    let after10: number[] = [];
    for (let round = 0; frames < 200; round++) {
      const [image, options] = variants[round % variants.length];
      // Two at once: with both workers idle, one frame goes to each, so both run every variant.
      const pair = await Promise.all([engine.detect(image, options), engine.detect(image, options)]);
      assert.equal(pair[0].faces.length, pair[1].faces.length);
      frames += 2;
      if (frames === 10) after10 = await engine.workerTensors();
    }
    const after200 = await engine.workerTensors();
    assert.deepEqual(after200, after10);
  });

  it("makes each worker's WASM heap resident as soon as it grows, so RSS does not creep up for minutes", async (t) => {
    if (engine.backend !== 'wasm') return t.skip(`the ${engine.backend} backend has no WASM heap`);
    // A large photo through SSD with descriptors grows the heap (a frame's tensors live in it).
    const photo = await readFile(fixturePath('face_recognition/examples/biden.jpg'));
    await Promise.all([
      engine.detect(photo, { detector: 'ssd', descriptors: true, landmarks: true }),
      engine.detect(photo, { detector: 'ssd', descriptors: true, landmarks: true }),
    ]);
    // The stats request runs after the frames (a worker takes one message at a time), so after the walk.
    const heaps = (await engine.workerStats()).map((w) => w.memory?.wasmHeap ?? 0);
    assert.equal(heaps.length, 2);
    for (const h of heaps) assert.ok(h > 32 * 2 ** 20, `a WASM heap of ${h} bytes`);
    // Worker threads map their heaps in this process. Left to the allocator, a third of a grown heap
    // was still unmapped (277 of 358 MB resident after 138 photos).
    const resident = residentOfSize(process.pid, heaps);
    const total = heaps.reduce((a, b) => a + b, 0);
    assert.ok(resident >= total - 2 ** 20, `${resident} of ${total} bytes of the WASM heaps resident`);
  });

  it('drops older waiting frames of a busy source and counts them', async () => {
    const frame = await raw(faceApiSample(4));
    const before = engine.stats();
    const calls = [1, 2, 3, 4, 5].map(() =>
      engine.detect(frame, { descriptors: false }, { source: 'cam-1' }),
    );
    const other = engine.detect(frame, { descriptors: false }, { source: 'other-cam' });
    const outcomes = await Promise.allSettled(calls);
    assert.deepEqual(
      outcomes.map((o) => o.status),
      ['fulfilled', 'rejected', 'rejected', 'rejected', 'fulfilled'],
    );
    for (const o of outcomes.slice(1, 4)) {
      const reason = (o as PromiseRejectedResult).reason as FrameDroppedError;
      assert.ok(reason instanceof FrameDroppedError);
      assert.equal(reason.code, 'FRAME_DROPPED');
    }
    assert.ok((await other).faces.length >= 1, 'another source is not held back');
    const s = engine.stats('cam-1');
    assert.deepEqual([s.processed, s.dropped, s.failed, s.inFlight], [2, 3, 0, 0]);
    assert.ok(s.fps > 0);
    assert.deepEqual(engine.stats('never-seen'), {
      processed: 0,
      dropped: 0,
      failed: 0,
      fps: 0,
      inFlight: 0,
    });
    assert.equal(engine.stats().dropped - before.dropped, 3);
    // The frames were copied, not taken: the caller's pixels are still there.
    assert.equal(frame.data.length, frame.width * frame.height * 3);
  });

  it('replaces a killed worker; the frame it held fails, the next frames work', async () => {
    const frame = await raw(faceApiSample(1));
    const ids = engine.workerIds();
    let result: DetectResult | Error | undefined;
    const inFlight = engine.detect(frame).then(
      (r) => (result = r),
      (e: Error) => (result = e),
    );
    // Let the frame reach a worker (both idle: the first takes it).
    await new Promise((r) => setImmediate(r));
    assert.equal(engine.queued, 0);
    assert.equal(engine.stats().inFlight, 1);
    await engine.restartWorker(0);
    await inFlight;
    assert.ok(result instanceof EngineError, `expected the frame to fail, got ${JSON.stringify(result)}`);
    assert.equal(result.code, 'WORKER_CRASHED');
    const now = engine.workerIds();
    assert.notEqual(now[0], ids[0]);
    assert.equal(now[1], ids[1]);
    const again = await Promise.all([engine.detect(frame), engine.detect(frame)]);
    for (const r of again) assert.ok(r.faces.length >= 1);
    for (const n of await engine.workerTensors()) assert.ok(n > 0);
  });
});
