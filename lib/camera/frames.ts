/**
 * Cuts ffmpeg's raw video pipe into frames. A pipe delivers chunks of whatever size the OS chose
 * (64 KiB, a few bytes, several frames at once); a frame is exactly width x height x channels bytes,
 * so frames are cut at exact byte boundaries whatever the chunks were.
 */

/** One frame cut from the stream: packed pixels in a buffer of its own. */
export interface CutFrame {
  data: Uint8Array;
  /** Frames cut so far, this one included (1, 2, …). */
  seq: number;
}

export class FrameCutter {
  /** Bytes of one frame. */
  readonly frameBytes: number;
  private current: Uint8Array;
  private filled = 0;
  private seq = 0;

  constructor(
    readonly width: number,
    readonly height: number,
    readonly channels = 3,
  ) {
    if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0)
      throw new Error(`invalid frame size ${width}x${height}`);
    this.frameBytes = width * height * channels;
    this.current = new Uint8Array(this.frameBytes);
  }

  /** Bytes of an unfinished frame held back until its next chunk comes. */
  get pending(): number {
    return this.filled;
  }

  /** Frames cut so far. */
  get count(): number {
    return this.seq;
  }

  /**
   * Feeds one chunk and returns the frames it completed (none, one or several). Every frame gets a
   * fresh buffer (it may be moved to a worker), filled with one copy of its bytes.
   */
  push(chunk: Uint8Array): CutFrame[] {
    const out: CutFrame[] = [];
    let offset = 0;
    while (offset < chunk.length) {
      const take = Math.min(this.frameBytes - this.filled, chunk.length - offset);
      this.current.set(chunk.subarray(offset, offset + take), this.filled);
      this.filled += take;
      offset += take;
      if (this.filled === this.frameBytes) {
        out.push({ data: this.current, seq: ++this.seq });
        this.current = new Uint8Array(this.frameBytes);
        this.filled = 0;
      }
    }
    return out;
  }

  /** Drops a partial frame (the stream restarted: its next bytes start a new frame). */
  reset(): void {
    this.filled = 0;
  }
}

/** A JPEG cut from ffmpeg's image2pipe stream, with its place in the stream. */
export interface CutPicture {
  jpeg: Buffer;
  /** Pictures cut so far, this one included (1, 2, …): the frame of the same number is its moment. */
  seq: number;
}

/** The most a picture may take before it is dropped as garbage (a 8K JPEG is well under this). */
const MAX_PICTURE_BYTES = 64 * 1024 * 1024;

/**
 * Cuts ffmpeg's stream of JPEGs (image2pipe, mjpeg) into pictures by reading their structure: the
 * start marker (FF D8), then marker segments skipped by their length (so no table value can pass
 * for a marker), then the compressed data, in which an FF followed by anything but 00 or a restart
 * marker ends the data; the picture ends at FF D9. Bytes before a start marker (the tail of a
 * picture joined midway) are skipped.
 */
export class JpegCutter {
  private buf: Buffer = Buffer.alloc(0);
  /** Where parsing stands in `buf`, and in what. */
  private pos = 0;
  private state: 'seek' | 'markers' | 'data' = 'seek';
  private seq = 0;

  /** Pictures cut so far. */
  get count(): number {
    return this.seq;
  }

  /** Feeds one chunk and returns the pictures it completed. */
  push(chunk: Buffer): CutPicture[] {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : Buffer.from(chunk);
    const out: CutPicture[] = [];
    const b = this.buf;
    let start = 0;
    for (;;) {
      if (this.state === 'seek') {
        let i = this.pos;
        while (i + 1 < b.length && !(b[i] === 0xff && b[i + 1] === 0xd8)) i++;
        if (i + 1 >= b.length) {
          start = i;
          this.pos = i;
          break;
        }
        start = i;
        this.pos = i + 2;
        this.state = 'markers';
      }
      if (this.state === 'markers') {
        if (this.pos + 2 > b.length) break;
        if (b[this.pos] !== 0xff) {
          // Not a JPEG after all: look for the next start.
          this.state = 'seek';
          continue;
        }
        const marker = b[this.pos + 1];
        if (marker === 0xff) {
          this.pos++;
          continue;
        }
        if (marker === 0xd9) {
          this.pos += 2;
          out.push({ jpeg: Buffer.from(b.subarray(start, this.pos)), seq: ++this.seq });
          start = this.pos;
          this.state = 'seek';
          continue;
        }
        if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
          this.pos += 2;
          continue;
        }
        if (this.pos + 4 > b.length) break;
        const length = b.readUInt16BE(this.pos + 2);
        if (this.pos + 2 + length > b.length) break;
        this.pos += 2 + length;
        if (marker === 0xda) this.state = 'data';
        continue;
      }
      // Compressed data: FF 00 is a data byte, FF D0..D7 a restart marker, any other FF xx a marker.
      let i = this.pos;
      while (
        i + 1 < b.length &&
        !(b[i] === 0xff && b[i + 1] !== 0x00 && (b[i + 1] < 0xd0 || b[i + 1] > 0xd7))
      )
        i++;
      this.pos = i;
      if (i + 1 >= b.length) break;
      this.state = 'markers';
    }
    // Keep only what an unfinished picture (or a start marker split in two) still needs.
    const keepFrom = this.state === 'seek' ? Math.min(this.pos, Math.max(0, b.length - 1)) : start;
    this.buf = b.subarray(keepFrom);
    this.pos -= keepFrom;
    if (this.buf.length > MAX_PICTURE_BYTES) this.reset();
    return out;
  }

  /** Drops a partial picture (the stream restarted). */
  reset(): void {
    this.buf = Buffer.alloc(0);
    this.pos = 0;
    this.state = 'seek';
  }
}
