import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import sharp from 'sharp';
import { FrameCutter, JpegCutter } from '../../lib/camera/frames';

/** A stream of `n` frames whose every byte tells its frame and position. */
function stream(n: number, frameBytes: number): Uint8Array {
  const out = new Uint8Array(n * frameBytes);
  for (let f = 0; f < n; f++)
    for (let i = 0; i < frameBytes; i++) out[f * frameBytes + i] = (f * 31 + i) & 0xff;
  return out;
}

function chunks(data: Uint8Array, sizes: (i: number) => number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let off = 0, i = 0; off < data.length; i++) {
    const n = Math.max(1, sizes(i));
    out.push(data.subarray(off, off + n));
    off += n;
  }
  return out;
}

describe('FrameCutter', () => {
  const W = 7;
  const H = 5;
  const BYTES = W * H * 3;

  for (const [name, sizes] of [
    ['one byte at a time', () => 1],
    ['chunks smaller than a frame', (i: number) => 13 + (i % 5)],
    ['exactly one frame', () => BYTES],
    ['several frames and a half per chunk', () => BYTES * 2 + BYTES / 5],
    ['random sizes', (i: number) => ((i * 7919) % 300) + 1],
  ] as Array<[string, (i: number) => number]>) {
    it(`cuts frames at exact boundaries: ${name}`, () => {
      const data = stream(12, BYTES);
      const cutter = new FrameCutter(W, H);
      const frames = chunks(data, sizes).flatMap((c) => cutter.push(c));
      assert.equal(frames.length, 12);
      frames.forEach((f, k) => {
        assert.equal(f.seq, k + 1);
        assert.equal(f.data.length, BYTES);
        assert.deepEqual(f.data, data.subarray(k * BYTES, (k + 1) * BYTES));
      });
      assert.equal(cutter.pending, 0);
      // Each frame owns its buffer: changing one does not change the next.
      frames[0].data[0] ^= 0xff;
      assert.notEqual(frames[0].data.buffer, frames[1].data.buffer);
    });
  }

  it('holds back a partial frame and drops it on reset', () => {
    const cutter = new FrameCutter(W, H);
    assert.deepEqual(cutter.push(stream(1, BYTES).subarray(0, 40)), []);
    assert.equal(cutter.pending, 40);
    cutter.reset();
    const frames = cutter.push(stream(1, BYTES));
    assert.equal(frames.length, 1);
    assert.deepEqual(frames[0].data, stream(1, BYTES));
    assert.equal(cutter.count, 1);
  });

  it('refuses an impossible size', () => {
    assert.throws(() => new FrameCutter(0, 10), /invalid frame size/);
    assert.throws(() => new FrameCutter(1.5, 10), /invalid frame size/);
  });
});

describe('JpegCutter', () => {
  /** Three real JPEGs of different sizes, back to back as ffmpeg's image2pipe writes them. */
  async function jpegs(): Promise<Buffer[]> {
    return Promise.all(
      [40, 64, 23].map((side, i) =>
        sharp({
          create: { width: side, height: side, channels: 3, background: { r: 200 - i * 60, g: 30, b: 90 } },
        })
          .jpeg({ quality: 90 })
          .toBuffer(),
      ),
    );
  }

  it('cuts whole pictures whatever the chunks, markers split between chunks included', async () => {
    const pics = await jpegs();
    const all = Buffer.concat(pics);
    for (const size of [1, 2, 3, 7, 64, 1000, all.length]) {
      const cutter = new JpegCutter();
      const out = chunks(all, () => size).flatMap((c) => cutter.push(Buffer.from(c)));
      assert.deepEqual(
        out.map((p) => p.seq),
        [1, 2, 3],
        `chunks of ${size}`,
      );
      out.forEach((p, i) => assert.ok(p.jpeg.equals(pics[i]), `picture ${i + 1} whole in chunks of ${size}`));
    }
  });

  it('skips the tail of a picture it joined midway, and drops a partial picture on reset', async () => {
    const pics = await jpegs();
    const cutter = new JpegCutter();
    // A restart can leave the end of a picture first: it is no picture, and does not count.
    const out = cutter.push(Buffer.concat([pics[0].subarray(100), pics[1]]));
    assert.deepEqual(
      out.map((p) => [p.seq, p.jpeg.equals(pics[1])]),
      [[1, true]],
    );
    cutter.push(pics[2].subarray(0, 50));
    cutter.reset();
    const next = cutter.push(pics[2]);
    assert.deepEqual(
      next.map((p) => [p.seq, p.jpeg.equals(pics[2])]),
      [[2, true]],
    );
  });
});
