/**
 * The MJPEG feed to a client that stops reading, over a real HTTP connection on loopback: what waits
 * for the client stays bounded and frames are dropped, where writing every part queued them all.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import { describe, it } from 'node:test';
import { MjpegFeed } from '../../lib/live/feed';

describe('MJPEG feed', () => {
  it('keeps what a client that stopped reading has not taken under its bound, dropping frames', async () => {
    const frame = randomBytes(64 * 1024); // incompressible, as JPEG data is
    const bound = 256 * 1024;
    let resolveDone: (r: { written: number; dropped: number; queued: number }) => void = () => undefined;
    const done = new Promise<{ written: number; dropped: number; queued: number }>((r) => (resolveDone = r));
    const server = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'multipart/x-mixed-replace; boundary=b' });
      const feed = new MjpegFeed(res, 'b', bound);
      let maxQueued = 0;
      let n = 0;
      const tick = (): void => {
        feed.part(frame);
        maxQueued = Math.max(maxQueued, res.writableLength);
        if (++n < 300) setImmediate(tick);
        else {
          resolveDone({ written: feed.written, dropped: feed.dropped, queued: maxQueued });
          res.destroy();
        }
      };
      tick();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as net.AddressInfo;
    const client = net.connect(port, '127.0.0.1');
    client.on('error', () => undefined);
    client.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    client.pause();
    const r = await done;
    client.destroy();
    server.close();
    assert.ok(r.dropped > 200, `frames dropped: ${r.dropped} of 300`);
    assert.ok(r.queued <= bound + frame.length + 1024, `at most ${r.queued} bytes waited for the client`);
    assert.equal(r.written + r.dropped, 300);
  });

  it('writes every frame to a client that keeps up', () => {
    const chunks: Buffer[] = [];
    const out = {
      writableLength: 0,
      write(c: string | Uint8Array): boolean {
        chunks.push(Buffer.from(c));
        return true;
      },
    };
    const feed = new MjpegFeed(out, 'b', 1024);
    for (let i = 0; i < 5; i++) assert.ok(feed.part(Buffer.from([0xff, 0xd8, i])));
    assert.equal(feed.written, 5);
    assert.equal(feed.dropped, 0);
    const text = Buffer.concat(chunks).toString('latin1');
    assert.equal(text.split('--b\r\nContent-Type: image/jpeg\r\nContent-Length: 3\r\n\r\n').length, 6);
  });
});
