/**
 * An MJPEG stream (`multipart/x-mixed-replace`) to one client that may read slowly or stop reading:
 * a part is written only while what the client has not taken yet stays under a bound, otherwise the
 * frame is dropped. Without the bound, a client that stops reading makes the server buffer frames
 * without end (`write()` queues whatever it is given).
 */

/** Where the parts go: an HTTP response, a socket. */
export interface FeedOutput {
  write(chunk: string | Uint8Array): boolean;
  /** Bytes queued and not yet handed to the operating system. */
  readonly writableLength: number;
}

/** One client's MJPEG stream. */
export class MjpegFeed {
  /** Parts written. */
  written = 0;
  /** Frames dropped because the client had not taken the earlier ones. */
  dropped = 0;

  /**
   * @param out - the client's response
   * @param boundary - the multipart boundary of the response's Content-Type
   * @param maxBuffered - bytes queued for the client above which a frame is dropped
   */
  constructor(
    private readonly out: FeedOutput,
    readonly boundary: string,
    readonly maxBuffered: number,
  ) {}

  /** Whether the client has taken enough of what it was sent for another part to be worth making. */
  ready(): boolean {
    return this.out.writableLength <= this.maxBuffered;
  }

  /** Counts a frame left out for a slow client (when {@link ready} said no before it was made). */
  drop(): void {
    this.dropped++;
  }

  /** Writes one JPEG as a part, or drops it for a slow client; true when it was written. */
  part(jpeg: Uint8Array): boolean {
    if (!this.ready()) {
      this.dropped++;
      return false;
    }
    this.out.write(
      `--${this.boundary}\r\nContent-Type: image/jpeg\r\nContent-Length: ${jpeg.length}\r\n\r\n`,
    );
    this.out.write(jpeg);
    this.out.write('\r\n');
    this.written++;
    return true;
  }
}
