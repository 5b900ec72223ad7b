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
