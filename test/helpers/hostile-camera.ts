/**
 * A camera that tries to lead ffmpeg elsewhere, and a trap for stored passwords, on loopback:
 *
 * - an HTTP server whose paths answer a redirect to a local file (`/redirect-file`, to the video
 *   given), a redirect to HTTPS (`/redirect-https`), an HLS playlist whose segment is on HTTPS
 *   (`/playlist.m3u8`), a plain MJPEG stream (`/video`, 10 frames/s) and a cheap camera's slow MJPEG
 *   stream (`/slow`, 2 frames/s); every other path answers 401 with `WWW-Authenticate: Basic` (and,
 *   to a POST, Digest too, which ONVIF's client answers) and is recorded (headers and body), so a
 *   test can tell whether a stored user or password was sent to it;
 * - an HTTPS server (a throw-away self-signed certificate) with the MJPEG stream (`/video`) and the
 *   playlist's MPEG-TS segment (`/seg.ts`).
 *
 * Without the whitelist, ffmpeg follows the redirect and the playlist: each then reads a real video,
 * so a test sees a success where the whitelist must refuse.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';
import { selfSigned } from './camera';

/** A request the trap answered with 401. */
export interface TrappedRequest {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export interface HostileCamera {
  /** http://127.0.0.1:port (no trailing slash). */
  url: string;
  port: number;
  /** https://127.0.0.1:port of the HTTPS server. */
  httpsUrl: string;
  /** Every request the trap (any other path) answered. */
  trapped: TrappedRequest[];
  close(): Promise<void>;
}

const FFMPEG = (): string => process.env.FFMPEG_PATH || 'ffmpeg';

/** One JPEG frame of `video`. */
function jpegOf(video: string): Buffer {
  return execFileSync(FFMPEG(), ['-v', 'error', '-i', video, '-frames:v', '1', '-f', 'mjpeg', 'pipe:1']);
}

/** The first second of `video` as an MPEG-TS segment (H.264 copied). */
function segmentOf(video: string): Buffer {
  return execFileSync(FFMPEG(), [
    '-v',
    'error',
    '-i',
    video,
    '-t',
    '1',
    '-an',
    '-c',
    'copy',
    '-bsf:v',
    'h264_mp4toannexb',
    '-f',
    'mpegts',
    'pipe:1',
  ]);
}

function mjpeg(jpeg: Buffer, intervalMs: number) {
  return (req: http.IncomingMessage, res: http.ServerResponse): void => {
    res.writeHead(200, { 'Content-Type': 'multipart/x-mixed-replace; boundary=frame' });
    const send = (): void => {
      res.write(`--frame\r\nContent-Type: image/jpeg\r\nContent-Length: ${jpeg.length}\r\n\r\n`);
      res.write(jpeg);
      res.write('\r\n');
    };
    send();
    const timer = setInterval(send, intervalMs);
    req.on('close', () => clearInterval(timer));
  };
}

function listen(server: http.Server): Promise<number> {
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)),
  );
}

/** Starts both servers; `video` is the local H.264 file the redirect names and the streams show. */
export async function startHostileCamera(video: string): Promise<HostileCamera> {
  const jpeg = jpegOf(video);
  const segment = segmentOf(video);
  const trapped: TrappedRequest[] = [];
  const secure = https.createServer(selfSigned(), (req, res) => {
    if (req.url === '/seg.ts') {
      res.writeHead(200, { 'Content-Type': 'video/mp2t', 'Content-Length': segment.length });
      res.end(segment);
    } else mjpeg(jpeg, 100)(req, res);
  });
  const httpsPort = await listen(secure);
  const httpsUrl = `https://127.0.0.1:${httpsPort}`;
  const plain = http.createServer((req, res) => {
    const route = (req.url ?? '').split('?')[0];
    if (route === '/redirect-file') {
      res.writeHead(302, { Location: pathToFileURL(video).href });
      res.end();
    } else if (route === '/redirect-https') {
      res.writeHead(302, { Location: `${httpsUrl}/video` });
      res.end();
    } else if (route === '/playlist.m3u8') {
      res.writeHead(200, { 'Content-Type': 'application/vnd.apple.mpegurl' });
      res.end(`#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1,\n${httpsUrl}/seg.ts\n#EXT-X-ENDLIST\n`);
    } else if (route === '/video') mjpeg(jpeg, 100)(req, res);
    else if (route === '/slow') mjpeg(jpeg, 500)(req, res);
    else {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        trapped.push({
          method: req.method ?? '',
          url: req.url ?? '',
          headers: req.headers,
          body: Buffer.concat(chunks).toString('utf8'),
        });
        // A GET (ffmpeg) is offered Basic; a POST (ONVIF's SOAP) also Digest, which the ONVIF
        // client answers (with the user name in clear): either carries what was stored.
        const challenges = ['Basic realm="trap"'];
        if (req.method === 'POST')
          challenges.push(`Digest realm="trap", qop="auth", nonce="${randomBytes(16).toString('hex')}"`);
        res.writeHead(401, { 'WWW-Authenticate': challenges, 'Content-Type': 'text/plain' });
        res.end('401 Unauthorized');
      });
    }
  });
  const port = await listen(plain);
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    httpsUrl,
    trapped,
    async close() {
      for (const s of [plain, secure]) {
        s.closeAllConnections();
        await new Promise<void>((r) => s.close(() => r()));
      }
    },
  };
}
