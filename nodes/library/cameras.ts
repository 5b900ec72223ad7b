/**
 * The Face Library's cameras: the deployed rtsp-sources with their state, starting and stopping
 * them, and the live view (a long-poll of the faces of the newest frame, that frame as JPEG, and an
 * MJPEG stream with the boxes drawn, which drops frames for a client that does not keep up).
 */
import { MjpegFeed } from '../../lib/live/feed';
import { LIBRARY } from '../../lib/types/defaults';
import type { CameraInfo } from '../../lib/types/library';
import { ANSWERED, HttpError } from '../shared/admin';
import { clientGone, jpeg, NO_STORE, param, type Handlers } from './context';
import type { LibraryRegistry, LibrarySource } from './registry';

function sourceOf(reg: LibraryRegistry, id: string): LibrarySource {
  const s = reg.sources.get(id);
  if (!s) throw new HttpError(404, `no rtsp-source ${id} is deployed`);
  return s;
}

function cameraEntry(reg: LibraryRegistry, s: LibrarySource): CameraInfo {
  const camera = s.cameraName() ?? '';
  const seen = camera ? reg.live.seen(camera) : undefined;
  return {
    id: s.id,
    name: s.name || camera,
    camera,
    ...s.info(),
    live: seen !== undefined && Date.now() - seen < 10000,
  };
}

function liveCamera(reg: LibraryRegistry, id: string): string {
  const camera = sourceOf(reg, id).cameraName();
  if (!camera) throw new HttpError(404, `rtsp-source ${id} has no face-camera`);
  return camera;
}

/** How long a long-poll waits for a new frame (ms). */
export function pollMs(): number {
  return LIBRARY.pollTimeout.default * 1000;
}

export function cameraRoutes(reg: LibraryRegistry): Handlers {
  return {
    'GET /facewatch/api/cameras': (): CameraInfo[] =>
      [...reg.sources.values()].map((s) => cameraEntry(reg, s)),

    'POST /facewatch/api/cameras/:id/start': async (req): Promise<CameraInfo> => {
      const s = sourceOf(reg, String(req.params.id));
      await s.start();
      return cameraEntry(reg, s);
    },
    'POST /facewatch/api/cameras/:id/stop': async (req): Promise<CameraInfo> => {
      const s = sourceOf(reg, String(req.params.id));
      await s.stop();
      return cameraEntry(reg, s);
    },

    'GET /facewatch/api/cameras/:id/live': async (req, res) => {
      const camera = liveCamera(reg, String(req.params.id));
      const after = Number(param(req, 'after') ?? 0);
      const frame = await reg.live.next(
        camera,
        Number.isFinite(after) ? after : 0,
        pollMs(),
        clientGone(res),
      );
      return frame ?? { status: 204, body: '', type: 'text/plain' };
    },

    'GET /facewatch/api/cameras/:id/frame': async (req) => {
      const camera = liveCamera(reg, String(req.params.id));
      const seq = param(req, 'seq');
      const shown = await reg.live.jpeg(camera, seq !== undefined ? Number(seq) : undefined);
      if (!shown)
        throw new HttpError(
          404,
          reg.live.latest(camera) ? 'the live frame has no picture' : 'no live frame yet: poll /live first',
        );
      return { ...jpeg(shown.jpeg), headers: { 'X-Frame-Seq': String(shown.frame.seq) } };
    },

    'GET /facewatch/api/cameras/:id/video_feed': (req, res, ctx) => {
      const camera = liveCamera(reg, String(req.params.id));
      const gone = clientGone(res);
      const feed = new MjpegFeed(res, 'facewatchframe', LIBRARY.feedBuffer);
      const checkMs = LIBRARY.feedAuthCheck * 1000;
      res.status(200);
      res.set({ ...NO_STORE, 'Content-Type': `multipart/x-mixed-replace; boundary=${feed.boundary}` });
      res.flushHeaders();
      void (async () => {
        let after = 0;
        let checked = Date.now();
        while (!gone.aborted) {
          // The stream outlives the check its request passed: a token that expired or was revoked
          // since (or a user whose permission was taken away) ends it.
          if (Date.now() - checked >= checkMs) {
            checked = Date.now();
            if (!(await ctx.stillAllowed())) break;
          }
          const frame = await reg.live.next(camera, after, Math.min(pollMs(), checkMs), gone);
          if (!frame) continue;
          after = frame.seq;
          // A client that does not keep up loses frames instead of Node-RED queueing them.
          if (!feed.ready()) {
            feed.drop();
            continue;
          }
          const part = await reg.live.drawn(camera, frame.seq).catch(() => null);
          if (!part || gone.aborted) continue;
          feed.part(part.jpeg);
        }
      })()
        .catch(() => undefined)
        .finally(() => res.end());
      return ANSWERED;
    },
  };
}
