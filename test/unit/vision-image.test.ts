/**
 * Vision parts that need no model: decoding and its errors, raw frames, JPEG encoding, the quality
 * figures, option and backend resolution, the model id.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile, copyFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import sharp from 'sharp';
import { DEFAULT_DETECT_OPTIONS } from '../../lib/types';
import { backendCandidates, resolveBackendChoice } from '../../lib/vision/backend';
import { resolveDetectOptions } from '../../lib/vision/engine';
import { ImageError } from '../../lib/vision/errors';
import { asJpeg, decodeImage, encodeJpeg, rawFrame, sniffFormat } from '../../lib/vision/image';
import { defaultModelPath, recognitionModelId } from '../../lib/vision/models';
import { clipRect, extractRgb, laplacianVariance, yawFromLandmarks } from '../../lib/vision/quality';
import { faceApiSample, fixturePath } from '../helpers/env';
import { hugePng } from '../helpers/vision-fixtures';

async function rejectsWith(p: Promise<unknown>, code: string, pattern: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof ImageError, `expected an ImageError, got ${String(err)}`);
    assert.equal(err.code, code);
    assert.match(err.message, pattern);
    return true;
  });
}

describe('decodeImage', () => {
  it('decodes JPEG, PNG and WebP to packed RGB', async () => {
    const jpeg = await readFile(faceApiSample(1));
    const a = await decodeImage(jpeg);
    assert.deepEqual([a.width, a.height, a.channels], [1920, 1280, 3]);
    assert.equal(a.data.length, 1920 * 1280 * 3);
    // The buffer is the frame's own, so it can be moved to a worker.
    assert.equal(a.data.byteOffset, 0);
    assert.equal(a.data.buffer.byteLength, a.data.length);

    const png = await sharp(jpeg).resize(64, 48).png().toBuffer();
    const webp = await sharp(jpeg).resize(64, 48).webp().toBuffer();
    for (const [buf, fmt] of [
      [png, 'png'],
      [webp, 'webp'],
    ] as const) {
      assert.equal(sniffFormat(buf), fmt);
      const f = await decodeImage(buf);
      assert.deepEqual([f.width, f.height, f.channels, f.data.length], [64, 48, 3, 64 * 48 * 3]);
    }
  });

  it('turns grey and RGBA images into RGB', async () => {
    const grey = await decodeImage(await readFile(fixturePath('face-api.js/examples/images/amy/amy1.png')));
    assert.deepEqual([grey.width, grey.height, grey.channels], [150, 150, 3]);
    // A grey image decodes to equal R, G and B.
    assert.equal(grey.data[300], grey.data[301]);
    assert.equal(grey.data[301], grey.data[302]);
    // An RGBA PNG of a photo, as face_recognition's tests/test_images/32bit.png is.
    const png = await sharp(fixturePath('face_recognition/examples/knn_examples/train/obama/obama2.jpg'))
      .ensureAlpha(0.5)
      .png()
      .toBuffer();
    const meta = await sharp(png).metadata();
    assert.deepEqual([meta.channels, meta.hasAlpha], [4, true]);
    const rgba = await decodeImage(png);
    assert.equal(rgba.channels, 3);
    assert.deepEqual([rgba.width, rgba.height], [meta.width, meta.height]);
    assert.equal(rgba.data.length, rgba.width * rgba.height * 3);
  });

  it('applies the EXIF orientation', async () => {
    const upright = await sharp(faceApiSample(1)).resize(120, 80).jpeg().toBuffer();
    // Orientation 6: the stored pixels must be turned 90 degrees clockwise for display.
    const tagged = await sharp(upright).withMetadata({ orientation: 6 }).jpeg().toBuffer();
    const f = await decodeImage(tagged);
    assert.deepEqual([f.width, f.height], [80, 120]);
  });

  it('names empty, unsupported, corrupt and oversized input', async () => {
    const jpeg = await readFile(faceApiSample(2));
    await rejectsWith(decodeImage(Buffer.alloc(0)), 'IMAGE_EMPTY', /empty/);
    await rejectsWith(decodeImage(Buffer.from('just some text\n')), 'IMAGE_UNSUPPORTED', /not an image/);
    await rejectsWith(decodeImage(Buffer.from('GIF89a\x01\x00\x01\x00')), 'IMAGE_UNSUPPORTED', /GIF/);
    await rejectsWith(
      decodeImage(Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"/>')),
      'IMAGE_UNSUPPORTED',
      /SVG/,
    );
    await rejectsWith(decodeImage(jpeg.subarray(0, jpeg.length >> 1)), 'IMAGE_CORRUPT', /corrupt JPEG/);
    await rejectsWith(
      decodeImage(Buffer.concat([jpeg.subarray(0, 16), Buffer.alloc(4096, 0x55)])),
      'IMAGE_CORRUPT',
      /corrupt JPEG/,
    );
    const bomb = hugePng();
    assert.ok(bomb.length < 1000);
    await rejectsWith(decodeImage(bomb), 'IMAGE_TOO_LARGE', /100000x100000/);
    await rejectsWith(decodeImage(jpeg, 1000), 'IMAGE_TOO_LARGE', /1920x1367/);
  });
});

describe('rawFrame', () => {
  it('checks size and channels and copies unless asked to transfer', () => {
    const data = new Uint8Array(4 * 3 * 3).fill(7);
    const copy = rawFrame({ data, width: 4, height: 3, channels: 3 });
    assert.notEqual(copy.data.buffer, data.buffer);
    assert.deepEqual([...copy.data], [...data]);
    const moved = rawFrame({ data, width: 4, height: 3, channels: 3 }, undefined, true);
    assert.equal(moved.data.buffer, data.buffer);
    // A view into a larger buffer is never handed over whole: it is copied to its exact size.
    const view = new Uint8Array(new ArrayBuffer(100), 10, 36);
    assert.equal(
      rawFrame({ data: view, width: 4, height: 3, channels: 3 }, undefined, true).data.buffer.byteLength,
      36,
    );

    assert.throws(() => rawFrame({ data: new Uint8Array(0), width: 4, height: 3, channels: 3 }), {
      code: 'IMAGE_EMPTY',
    });
    assert.throws(() => rawFrame({ data, width: 5, height: 3, channels: 3 }), {
      code: 'IMAGE_CORRUPT',
      message: /expected 45/,
    });
    assert.throws(() => rawFrame({ data, width: 4, height: 3, channels: 2 as 3 }), {
      code: 'IMAGE_UNSUPPORTED',
    });
    assert.throws(() => rawFrame({ data, width: 4, height: 3, channels: 3 }, 10), {
      code: 'IMAGE_TOO_LARGE',
    });
  });
});

describe('encodeJpeg', () => {
  it('encodes a raw frame that decodes back to the same size and colour', async () => {
    const width = 32;
    const height = 16;
    const data = new Uint8Array(width * height * 3);
    for (let i = 0; i < data.length; i += 3) data.set([200, 40, 90], i);
    const jpeg = await encodeJpeg({ data, width, height, channels: 3 }, 95);
    assert.equal(sniffFormat(jpeg), 'jpeg');
    const back = await decodeImage(jpeg);
    assert.deepEqual([back.width, back.height], [width, height]);
    assert.ok(
      Math.abs(back.data[0] - 200) < 8 && Math.abs(back.data[1] - 40) < 8 && Math.abs(back.data[2] - 90) < 8,
    );
  });
});

describe('asJpeg', () => {
  it('passes a JPEG through untouched, encodes PNG and WebP upright, and a raw frame', async () => {
    const jpeg = await readFile(faceApiSample(1));
    assert.equal(await asJpeg(jpeg), jpeg, 'the same buffer: no re-encoding');
    // A PNG whose EXIF orientation says "rotate 90°": the JPEG comes out upright (height and width swapped).
    const turned = () =>
      sharp({ create: { width: 40, height: 20, channels: 3, background: '#336699' } }).withMetadata({
        orientation: 6,
      });
    const png = await turned().png().toBuffer();
    const webp = await turned().webp().toBuffer();
    for (const input of [png, webp]) {
      const out = await asJpeg(input);
      assert.equal(sniffFormat(out), 'jpeg');
      const meta = await sharp(out).metadata();
      assert.deepEqual([meta.width, meta.height], [20, 40]);
    }
    const raw = await asJpeg({ data: new Uint8Array(8 * 4 * 3).fill(90), width: 8, height: 4, channels: 3 });
    assert.equal(sniffFormat(raw), 'jpeg');
    await rejectsWith(asJpeg(Buffer.from('GIF89a....')), 'IMAGE_UNSUPPORTED', /GIF images are not supported/);
    await rejectsWith(asJpeg(Buffer.alloc(0)), 'IMAGE_EMPTY', /empty/);
    const broken = Buffer.concat([png.subarray(0, 40), Buffer.alloc(100)]);
    await rejectsWith(asJpeg(broken), 'IMAGE_CORRUPT', /corrupt PNG/);
  });
});

describe('quality', () => {
  it('scores a blurred face region lower than the sharp one', async () => {
    const { data, info } = await sharp(faceApiSample(3)).raw().toBuffer({ resolveWithObject: true });
    const blurred = await sharp(faceApiSample(3)).blur(3).raw().toBuffer();
    const rect = clipRect({ x: 100, y: 100, width: 400, height: 400 }, info.width, info.height);
    const sharpScore = laplacianVariance(data, info.width, info.channels, rect);
    const blurScore = laplacianVariance(blurred, info.width, info.channels, rect);
    assert.ok(sharpScore > 3 * blurScore, `sharp ${sharpScore} vs blurred ${blurScore}`);
    const flat = new Uint8Array(30 * 30 * 3).fill(128);
    assert.equal(laplacianVariance(flat, 30, 3, { x0: 0, y0: 0, x1: 30, y1: 30 }), 0);
  });

  it('estimates yaw from the nose between the jaw ends, negative towards the image left', () => {
    const points = Array.from({ length: 68 }, () => ({ x: 0, y: 0 }));
    points[0] = { x: 0, y: 50 };
    points[16] = { x: 100, y: 50 };
    points[30] = { x: 50, y: 60 };
    assert.equal(Math.round(yawFromLandmarks(points)!), 0);
    points[30] = { x: 25, y: 60 };
    assert.equal(Math.round(yawFromLandmarks(points)!), -30);
    points[30] = { x: 75, y: 60 };
    assert.equal(Math.round(yawFromLandmarks(points)!), 30);
    assert.equal(yawFromLandmarks(undefined), null);
    assert.equal(yawFromLandmarks(points.slice(0, 5)), null);
  });

  it('clips rectangles to the image and extracts RGB from grey or RGBA', () => {
    assert.deepEqual(clipRect({ x: -5, y: 2.5, width: 20, height: 100 }, 10, 10), {
      x0: 0,
      y0: 2,
      x1: 10,
      y1: 10,
    });
    const grey = new Uint8Array([1, 2, 3, 4]);
    assert.deepEqual([...extractRgb(grey, 2, 1, { x0: 1, y0: 0, x1: 2, y1: 2 }).data], [2, 2, 2, 4, 4, 4]);
    const rgba = new Uint8Array([1, 2, 3, 255, 4, 5, 6, 255]);
    assert.deepEqual([...extractRgb(rgba, 2, 4, { x0: 0, y0: 0, x1: 2, y1: 1 }).data], [1, 2, 3, 4, 5, 6]);
  });
});

describe('options and backend', () => {
  it('merges detection options and names a bad value', () => {
    const o = resolveDetectOptions(DEFAULT_DETECT_OPTIONS, {
      detector: 'tiny',
      inputSize: 320,
      maxFaces: undefined,
    });
    assert.equal(o.detector, 'tiny');
    assert.equal(o.inputSize, 320);
    assert.equal(o.maxFaces, DEFAULT_DETECT_OPTIONS.maxFaces);
    assert.throws(() => resolveDetectOptions(DEFAULT_DETECT_OPTIONS, { detector: 'yolo' as 'ssd' }), {
      code: 'INVALID_OPTIONS',
      message: /detector/,
    });
    assert.throws(() => resolveDetectOptions(DEFAULT_DETECT_OPTIONS, { inputSize: 300 }), /multiple of 32/);
    assert.throws(() => resolveDetectOptions(DEFAULT_DETECT_OPTIONS, { minConfidence: 2 }), /minConfidence/);
  });

  it('takes the setting, else FACEWATCH_BACKEND, else auto', () => {
    assert.equal(resolveBackendChoice('cpu', { FACEWATCH_BACKEND: 'wasm' }), 'cpu');
    assert.equal(resolveBackendChoice('auto', { FACEWATCH_BACKEND: 'wasm' }), 'wasm');
    assert.equal(resolveBackendChoice(undefined, {}), 'auto');
    assert.throws(() => resolveBackendChoice(undefined, { FACEWATCH_BACKEND: 'gpu' }), {
      code: 'INVALID_CONFIG',
    });
    assert.deepEqual(backendCandidates('cpu'), ['cpu']);
    const auto = backendCandidates('auto');
    assert.deepEqual(auto.slice(-2), ['wasm', 'cpu']);
  });
});

describe('recognitionModelId', () => {
  it('hashes the recognition weights: same bytes, same id; other bytes, another id', async () => {
    const id = await recognitionModelId();
    assert.match(id, /^frnet-[0-9a-f]{12}$/);
    const dir = await mkdtemp(path.join(os.tmpdir(), 'facewatch-model-'));
    try {
      const src = defaultModelPath();
      const manifest = 'face_recognition_model-weights_manifest.json';
      await copyFile(path.join(src, manifest), path.join(dir, manifest));
      const weights = await readFile(path.join(src, 'face_recognition_model.bin'));
      await writeFile(path.join(dir, 'face_recognition_model.bin'), weights);
      assert.equal(await recognitionModelId(dir), id);
      weights[weights.length - 1] ^= 1;
      await writeFile(path.join(dir, 'face_recognition_model.bin'), weights);
      assert.notEqual(await recognitionModelId(dir), id);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
