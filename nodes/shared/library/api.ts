/**
 * The Face Library's REST API under `/facewatch/api/` (the table in api-routes.ts; the README's
 * "Face Library REST API" documents it). Every route goes through adminRoute: facewatch.read to
 * look, facewatch.write to change; a signed-in user without the permission gets 403.
 */
import { readFile } from 'node:fs/promises';
import type { Request, Response } from 'express';
import sharp from 'sharp';
import type { EventLog } from '../../../lib/events/log';
import { storeEvents } from '../../../lib/events/store-events';
import { MjpegFeed } from '../../../lib/live/feed';
import { Enroller, type EnrolOptions, type EnrolResult } from '../../../lib/store/enrol';
import { isStoreError, type StoreErrorCode } from '../../../lib/store/errors';
import type { FaceStore, Person } from '../../../lib/store/face-store';
import type { DetectionEvent } from '../../../lib/types/events';
import { DETECT, LIBRARY } from '../../../lib/types/defaults';
import type { FaceRegisterSettings } from '../../../lib/types/node-settings';
import { enrolSettings } from '../../face-register/config';
import { adminRoute, ANSWERED, HttpError, type RouteContext } from '../admin';
import { leaseEngine } from '../engine';
import type { NodeAPI } from '../red';
import { upgradeSettings } from '../settings';
import type { StoreLease, StoreProvider } from '../store';
import { libraryRegistry, type LibraryRegistry, type LibrarySource } from './api-registry';
import { LIBRARY_ROUTES, routeKey } from './api-routes';
import { receiveUpload, sweepUploads, uploadDir } from './api-upload';

type Handler = (req: Request, res: Response, ctx: RouteContext) => unknown;

/** Answers with a face image: never cached (biometric data). */
const NO_STORE = { 'Cache-Control': 'no-store' };

function jpeg(body: Buffer): { status: number; body: Buffer; type: string } {
  return { status: 200, body, type: 'image/jpeg' };
}

function param(req: Request, name: string): string | undefined {
  const v = (req.query as Record<string, unknown>)[name];
  return typeof v === 'string' && v !== '' ? v : undefined;
}

/** HTTP statuses of the store's and enrolment's errors. */
const STATUS: Partial<Record<StoreErrorCode, number>> = {
  ENOTFOUND: 404,
  EEXISTS: 409,
  EINVALID_ID: 400,
  EINVALID_NAME: 400,
  EINVALID_METADATA: 400,
  ETOOLARGE: 413,
  EFILETYPE: 422,
  ENOFACE: 422,
  EMULTIFACE: 422,
  EFACESMALL: 422,
  EBLURRY: 422,
  EYAW: 422,
  EDUPLICATE: 422,
  EIMAGE: 422,
  EMODEL_MISMATCH: 422,
  ESTORE_LOCKED: 503,
  ESTORE_CLOSED: 503,
  // A full disk, a file without permission: nothing was changed (or the erasure stays pending and
  // the next delete finishes it); the message says which.
  EWRITE: 503,
  EERASURE: 503,
  ESTORE_UNREADABLE: 503,
  ESTORE_CORRUPT: 503,
};

/** A store or enrolment error as the HTTP error it is (the message is face-register's, with its code). */
function httpError(err: unknown): unknown {
  if (isStoreError(err)) {
    const status = STATUS[err.code];
    if (status) return new HttpError(status, err.message, { code: err.code });
  }
  return err;
}

function metadataOf(v: unknown): Record<string, unknown> | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  let m: unknown = v;
  if (typeof v === 'string') {
    try {
      m = JSON.parse(v) as unknown;
    } catch {
      throw new HttpError(400, 'metadata must be a JSON object, e.g. {"role":"visitor"}');
    }
  }
  if (typeof m !== 'object' || m === null || Array.isArray(m))
    throw new HttpError(400, 'metadata must be a JSON object, e.g. {"role":"visitor"}');
  return m as Record<string, unknown>;
}

/** Who made a change, for the store's audit log. */
function actor(req: Request): string {
  const user = (req as Request & { user?: { username?: string; anonymous?: boolean } }).user;
  return `facewatch-library:${user?.username ?? 'anonymous'}`;
}

/** The deployed face-store config nodes, in flow order. */
function storeNodes(RED: NodeAPI): Array<{ id: string; name: string }> {
  const out: Array<{ id: string; name: string }> = [];
  RED.nodes.eachNode((n: { id: string; type: string; name?: string }) => {
    if (n.type === 'face-store') out.push({ id: n.id, name: n.name ?? '' });
  });
  return out;
}

/**
 * The deployed face-store of `id`, null when none is deployed, a 400 when `id` names a node of
 * another type: only a face-store is ever asked to open anything (another config node's acquire()
 * would start a camera's ffmpeg or an inference pool).
 */
function storeNode(RED: NodeAPI, id: string): StoreProvider | null {
  const node = RED.nodes.getNode(id) as (StoreProvider & { type?: string }) | null;
  if (!node) return null;
  if (node.type !== 'face-store' || typeof node.acquire !== 'function')
    throw new HttpError(400, `${id.slice(0, 64)} is not a face-store`);
  return node;
}

function storeProviderOf(RED: NodeAPI, req: Request): StoreProvider {
  return storeById(RED, param(req, 'store'));
}

/** The face-store of `wanted`, else the first deployed one. */
function storeById(RED: NodeAPI, wanted: string | undefined): StoreProvider {
  const id = wanted ?? storeNodes(RED)[0]?.id;
  const provider = id ? storeNode(RED, id) : null;
  if (!provider)
    throw new HttpError(
      404,
      wanted ? `no face-store ${wanted.slice(0, 64)} is deployed` : 'no face-store is deployed',
    );
  return provider;
}

/** Runs `fn` with the request's store leased (opened if no node holds it) and released after. */
async function withStore<T>(
  RED: NodeAPI,
  req: Request,
  fn: (store: FaceStore, provider: StoreProvider) => Promise<T> | T,
): Promise<T> {
  const provider = storeProviderOf(RED, req);
  let lease: StoreLease;
  try {
    lease = await provider.acquire('facewatch-library');
  } catch (err) {
    throw httpError(err);
  }
  try {
    return await fn(lease.store, provider);
  } catch (err) {
    throw httpError(err);
  } finally {
    await lease.release();
  }
}

/**
 * Runs `fn` with the detection logs of the request's store (`?store=`) or of every deployed store,
 * leased meanwhile. Events belong to their store (lib/events/store-events.ts), whether a
 * detection-log is deployed or not; a store without events has no log (reading creates no files),
 * and one that cannot open (locked, corrupt) is left out.
 */
async function withLogs<T>(
  RED: NodeAPI,
  storeId: string | undefined,
  fn: (logs: EventLog[]) => Promise<T>,
): Promise<T> {
  const providers = storeId
    ? [storeById(RED, storeId)]
    : storeNodes(RED).flatMap(({ id }) => storeNode(RED, id) ?? []);
  const leases: StoreLease[] = [];
  try {
    for (const p of providers) {
      const lease = await p.acquire('facewatch-library').catch(() => undefined);
      if (lease) leases.push(lease);
    }
    const logs: EventLog[] = [];
    for (const l of leases) {
      const log = await storeEvents(l.store).existing();
      if (log) logs.push(log);
    }
    return await fn(logs);
  } finally {
    for (const l of leases) await l.release();
  }
}

const EVENT_ID = /^[0-9A-Za-z.-]{1,64}$/;

function newestFirst(a: DetectionEvent, b: DetectionEvent): number {
  return a.time < b.time ? 1 : a.time > b.time ? -1 : a.id < b.id ? 1 : -1;
}

function personSummary(p: Person): Record<string, unknown> {
  return {
    id: p.id,
    name: p.name,
    metadata: p.metadata,
    samples: p.samples.length,
    created: p.createdAt,
    updated: p.updatedAt,
  };
}

function personDetail(p: Person): Record<string, unknown> {
  return {
    id: p.id,
    name: p.name,
    metadata: p.metadata,
    created: p.createdAt,
    updated: p.updatedAt,
    samples: p.samples.map((s) => ({ id: s.id, created: s.time, source: s.source, image: !!s.image })),
  };
}

/**
 * Enrolment as face-register does it: the options of a face-register node deployed on this store
 * (its checks and messages), else face-register's defaults; the engine that node uses, else the
 * default one.
 */
/** `image` with a black border half its size on every side (JPEG). */
async function withBorder(image: Buffer): Promise<Buffer> {
  const { width = 0, height = 0 } = await sharp(image).metadata();
  const x = Math.round(width / 2);
  const y = Math.round(height / 2);
  return sharp(image)
    .extend({ top: y, bottom: y, left: x, right: x, background: { r: 0, g: 0, b: 0 } })
    .jpeg({ quality: 95 })
    .toBuffer();
}

function enrolSetup(RED: NodeAPI, storeId: string): { options: Partial<EnrolOptions>; engine?: string } {
  let def: (Partial<FaceRegisterSettings> & { engine?: string }) | undefined;
  RED.nodes.eachNode((n: { type: string; store?: string }) => {
    if (!def && n.type === 'face-register' && n.store === storeId) def = n;
  });
  const quiet = (): void => undefined;
  const settings = def ? upgradeSettings('face-register', { ...def }, quiet) : {};
  return { options: enrolSettings(settings, quiet), engine: def?.engine || undefined };
}

async function enrol(
  RED: NodeAPI,
  store: FaceStore,
  storeId: string,
  request: Parameters<Enroller['enrol']>[0],
  over: Partial<EnrolOptions>,
): Promise<EnrolResult> {
  const setup = enrolSetup(RED, storeId);
  const lease = await leaseEngine(RED, setup.engine);
  try {
    return await new Enroller(store, lease.engine, setup.options).enrol(request, over);
  } finally {
    await lease.release();
  }
}

function sourceOf(reg: LibraryRegistry, id: string): LibrarySource {
  const s = reg.sources.get(id);
  if (!s) throw new HttpError(404, `no rtsp-source ${id} is deployed`);
  return s;
}

function cameraEntry(reg: LibraryRegistry, s: LibrarySource): Record<string, unknown> {
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

/** Aborted when the client goes away (a long-poll or a stream then stops waiting). */
function clientGone(res: Response): AbortSignal {
  const ctl = new AbortController();
  res.once('close', () => ctl.abort());
  return ctl.signal;
}

function handlers(RED: NodeAPI, reg: LibraryRegistry): Record<string, Handler> {
  const uploadLimit = LIBRARY.uploadMegabytes.default * 2 ** 20;
  const tmp = uploadDir(RED);
  const pollMs = LIBRARY.pollTimeout.default * 1000;

  const register: Handler = async (req, res) => {
    const name = param(req, 'name');
    const id = param(req, 'id');
    const metadata = metadataOf(param(req, 'metadata'));
    return receiveUpload(req, res, uploadLimit, tmp, (image) =>
      withStore(RED, req, async (store, provider) => {
        if (id && store.getPerson(id))
          throw new HttpError(409, `a person with id ${id} already exists`, { code: 'EEXISTS' });
        const result = await enrol(
          RED,
          store,
          provider.id,
          { image, name, id, metadata, actor: actor(req), source: 'upload:facewatch-library' },
          { existing: 'refuse' },
        );
        return { status: 201, body: { status: result.status, person: personDetail(result.person) } };
      }),
    );
  };

  const removePerson: Handler = (req) =>
    withStore(RED, req, async (store) => {
      const id = String(req.params.id);
      const person = store.getPerson(id);
      // An erasure that did not finish (a full disk, a crash) is finished by deleting the id again.
      const pending = store.pendingErasures().some((p) => p.id === id);
      if (!person && !pending) throw new HttpError(404, `no person with id ${id}`);
      const log = await storeEvents(store).existing();
      const events = (await log?.countPerson(id)) ?? 0;
      const files = (person?.samples.filter((s) => s.image).length ?? 0) + events;
      // The store erases everything of theirs: its own files, its detection log's events and their
      // face in other events' frames (an eraser), then tells every detection-log (the tracker
      // forgets them) and face-mqtt (retained topics cleared).
      await store.deletePerson(id, actor(req));
      return { deleted: true, id, events, files };
    });

  const recentEvents = (req: Request, q: Parameters<EventLog['query']>[0]): Promise<DetectionEvent[]> =>
    withLogs(RED, param(req, 'store'), async (logs) => {
      const all: DetectionEvent[] = [];
      for (const log of logs) all.push(...(await log.query(q)));
      return all.sort(newestFirst);
    });

  /** An event's picture, from whichever store's log holds the event. */
  const eventImage = (id: string, which: 'snapshot' | 'crop' | 'frame'): Promise<Buffer | undefined> => {
    if (!EVENT_ID.test(id)) throw new HttpError(400, 'not an event id');
    // Any store's: the event may be another store's than the one a person is enrolled into.
    return withLogs(RED, undefined, async (logs) => {
      for (const log of logs) {
        const data = await log[which](id);
        if (data) return data;
      }
      return undefined;
    });
  };
  const eventPicture = async (req: Request, which: 'snapshot' | 'crop') => {
    const data = await eventImage(String(req.params.id), which);
    if (!data) throw new HttpError(404, `no ${which} for event ${String(req.params.id).slice(0, 64)}`);
    return jpeg(data);
  };

  return {
    'GET /facewatch/api/stores': async () => {
      const out = [];
      for (const { id, name } of storeNodes(RED)) {
        const provider = storeNode(RED, id);
        if (!provider) continue;
        let people: number | null = null;
        try {
          const lease = await provider.acquire('facewatch-library');
          people = lease.store.size();
          await lease.release();
        } catch {
          // A store that cannot open (locked, corrupt) is listed without a count.
        }
        out.push({ id, name, file: provider.file, people });
      }
      return out;
    },

    'GET /facewatch/api/faces': (req) =>
      withStore(RED, req, (store) => {
        const q = param(req, 'q')?.toLowerCase();
        return store
          .listPeople()
          .filter(
            (p) =>
              !q ||
              p.name.toLowerCase().includes(q) ||
              p.id.toLowerCase().includes(q) ||
              JSON.stringify(p.metadata).toLowerCase().includes(q),
          )
          .sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id))
          .map(personSummary);
      }),

    'GET /facewatch/api/faces/:id': (req) =>
      withStore(RED, req, async (store) => {
        const id = String(req.params.id);
        const person = store.getPerson(id);
        if (!person) throw new HttpError(404, `no person with id ${id}`);
        const log = await storeEvents(store).existing();
        const events = log ? await log.query({ person: id, limit: 20 }) : [];
        return { ...personDetail(person), events };
      }),

    'GET /facewatch/api/faces/:id/thumbnail': (req) =>
      withStore(RED, req, async (store) => {
        const person = store.getPerson(String(req.params.id));
        const sample = person?.samples.find((s) => s.image);
        const file = sample && store.imagePath(sample);
        if (!file) throw new HttpError(404, 'no picture of this person');
        return jpeg(await readFile(file));
      }),

    'GET /facewatch/api/faces/:id/samples/:sample/image': (req) =>
      withStore(RED, req, async (store) => {
        const person = store.getPerson(String(req.params.id));
        const sample = person?.samples.find((s) => s.id === req.params.sample);
        const file = sample && store.imagePath(sample);
        if (!file) throw new HttpError(404, 'no such sample picture');
        return jpeg(await readFile(file));
      }),

    'POST /facewatch/api/register': register,

    'POST /facewatch/api/faces/:id/samples': (req, res) =>
      receiveUpload(req, res, uploadLimit, tmp, (image) =>
        withStore(RED, req, async (store, provider) => {
          const id = String(req.params.id);
          if (!store.getPerson(id)) throw new HttpError(404, `no person with id ${id}`);
          const result = await enrol(
            RED,
            store,
            provider.id,
            { image, id, actor: actor(req), source: 'upload:facewatch-library' },
            { existing: 'add-sample' },
          );
          return {
            status: 201,
            body: { sample: result.sampleId, person: personDetail(result.person) },
          };
        }),
      ),

    'DELETE /facewatch/api/faces/:id/samples/:sample': (req) =>
      withStore(RED, req, async (store) => ({
        person: personDetail(
          await store.removeSample(String(req.params.id), String(req.params.sample), actor(req)),
        ),
      })),

    'PATCH /facewatch/api/faces/:id': (req) =>
      withStore(RED, req, async (store) => {
        const body = (req.body ?? {}) as { name?: unknown; metadata?: unknown };
        if (typeof body !== 'object' || Array.isArray(body))
          throw new HttpError(400, 'send a JSON object {name?, metadata?}');
        const patch: { name?: string; metadata?: Record<string, unknown> } = {};
        if (body.name !== undefined) {
          if (typeof body.name !== 'string') throw new HttpError(400, 'name must be text');
          patch.name = body.name;
        }
        if (body.metadata !== undefined) patch.metadata = metadataOf(body.metadata) ?? {};
        if (patch.name === undefined && patch.metadata === undefined)
          throw new HttpError(400, 'nothing to change: send name and/or metadata');
        return { person: personDetail(await store.updatePerson(String(req.params.id), patch, actor(req))) };
      }),

    'DELETE /facewatch/api/faces/:id': removePerson,
    'POST /facewatch/api/delete/:id': removePerson,

    'GET /facewatch/api/events': async (req) => {
      const knownText = param(req, 'known');
      if (knownText !== undefined && knownText !== 'true' && knownText !== 'false')
        throw new HttpError(400, 'known must be true or false');
      const limit = Math.min(Math.max(Number(param(req, 'limit') ?? 100) || 100, 1), 1000);
      const after = param(req, 'after');
      let events: DetectionEvent[];
      try {
        events = await recentEvents(req, {
          person: param(req, 'person'),
          camera: param(req, 'camera'),
          known: knownText === undefined ? undefined : knownText === 'true',
          from: param(req, 'from'),
          to: param(req, 'to'),
          limit,
        });
      } catch (err) {
        if (err instanceof RangeError) throw new HttpError(400, err.message);
        throw err;
      }
      if (after) events = events.filter((e) => e.id > after);
      const cameras = new Set<string>();
      for (const s of reg.sources.values()) {
        const c = s.cameraName();
        if (c) cameras.add(c);
      }
      for (const e of events) cameras.add(e.camera);
      return { events: events.slice(0, limit), cameras: [...cameras].sort() };
    },

    'GET /facewatch/api/events/:id/snapshot': (req) => eventPicture(req, 'snapshot'),
    'GET /facewatch/api/events/:id/crop': (req) => eventPicture(req, 'crop'),

    'POST /facewatch/api/events/:id/enrol': (req) =>
      withStore(RED, req, async (store, provider) => {
        const body = (req.body ?? {}) as {
          name?: unknown;
          id?: unknown;
          metadata?: unknown;
          person?: unknown;
        };
        const eventId = String(req.params.id);
        // The face's crop, else the plain frame (no boxes or names drawn over the face).
        const image = (await eventImage(eventId, 'crop')) ?? (await eventImage(eventId, 'frame'));
        if (!image) throw new HttpError(404, `no picture of event ${eventId.slice(0, 64)}`);
        const existing = typeof body.person === 'string' && body.person ? body.person : undefined;
        if (existing && !store.getPerson(existing)) throw new HttpError(404, `no person with id ${existing}`);
        const id = existing ?? (typeof body.id === 'string' && body.id ? body.id : undefined);
        if (!existing && id && store.getPerson(id))
          throw new HttpError(409, `a person with id ${id} already exists`, { code: 'EEXISTS' });
        const setup = enrolSetup(RED, provider.id);
        const attempt = (photo: Buffer): Promise<EnrolResult> =>
          enrol(
            RED,
            store,
            provider.id,
            {
              image: photo,
              id,
              name: existing ? undefined : typeof body.name === 'string' ? body.name : undefined,
              metadata: existing ? undefined : metadataOf(body.metadata),
              actor: actor(req),
              source: `event:${eventId}`,
            },
            {
              existing: existing ? 'add-sample' : 'refuse',
              // A camera's face was big enough for face-detect; a photo's minimum would refuse most.
              minFaceSize: Math.min(setup.options.minFaceSize ?? 0, DETECT.minFaceSize.default),
              detect: {
                ...setup.options.detect,
                minConfidence: Math.min(
                  setup.options.detect?.minConfidence ?? DETECT.minConfidence.default,
                  LIBRARY.eventMinConfidence,
                ),
              },
            },
          );
        let result: EnrolResult;
        try {
          result = await attempt(image);
        } catch (err) {
          if (!isStoreError(err) || err.code !== 'ENOFACE') throw err;
          // A tight crop (a quarter of the box around the face) is where detectors fail most: the
          // same crop again with a dark border, so the face no longer fills the picture.
          result = await attempt(await withBorder(image));
        }
        return { status: 201, body: { status: result.status, person: personDetail(result.person) } };
      }),

    'GET /facewatch/api/stats': (req) =>
      withStore(RED, req, async (store) => {
        const people = store.size();
        let eventsToday = 0;
        const hours = new Array<number>(24).fill(0);
        const byName = new Map<string, { id: string | null; name: string; count: number }>();
        const byCamera = new Map<string, number>();
        const log = await storeEvents(store).existing();
        for (const s of log ? [await log.stats(people)] : []) {
          eventsToday += s.eventsToday;
          s.todayByHour.forEach((n, h) => (hours[h] += n));
          for (const [camera, n] of Object.entries(s.todayByCamera))
            byCamera.set(camera, (byCamera.get(camera) ?? 0) + n);
          for (const [id, { name, count }] of Object.entries(s.todayByPersonId)) {
            const cur = byName.get(id) ?? { id, name, count: 0 };
            cur.count += count;
            byName.set(id, cur);
          }
          // Not todayByPerson.unknown: someone may be enrolled under the name "unknown".
          const named = Object.values(s.todayByPersonId).reduce((sum, p) => sum + p.count, 0);
          const unknown = s.eventsToday - named;
          if (unknown) {
            const cur = byName.get('') ?? { id: null, name: 'unknown', count: 0 };
            cur.count += unknown;
            byName.set('', cur);
          }
        }
        return {
          people,
          eventsToday,
          today: {
            byPerson: [...byName.values()].sort((a, b) => b.count - a.count),
            byCamera: [...byCamera.entries()]
              .map(([camera, count]) => ({ camera, count }))
              .sort((a, b) => b.count - a.count),
          },
          hours,
        };
      }),

    'GET /facewatch/api/cameras': () => [...reg.sources.values()].map((s) => cameraEntry(reg, s)),

    'POST /facewatch/api/cameras/:id/start': async (req) => {
      const s = sourceOf(reg, String(req.params.id));
      await s.start();
      return cameraEntry(reg, s);
    },
    'POST /facewatch/api/cameras/:id/stop': async (req) => {
      const s = sourceOf(reg, String(req.params.id));
      await s.stop();
      return cameraEntry(reg, s);
    },

    'GET /facewatch/api/cameras/:id/live': async (req, res) => {
      const camera = liveCamera(reg, String(req.params.id));
      const after = Number(param(req, 'after') ?? 0);
      const frame = await reg.live.next(camera, Number.isFinite(after) ? after : 0, pollMs, clientGone(res));
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
          const frame = await reg.live.next(camera, after, Math.min(pollMs, checkMs), gone);
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

/** The Face Library's REST API under `/facewatch/api/` (every route checks facewatch.read or .write). */
export function registerLibraryApi(RED: NodeAPI): void {
  const reg = libraryRegistry(RED);
  // Uploads a crash or a kill left behind are photos of people: removed when Node-RED starts.
  sweepUploads(uploadDir(RED)).catch((err: Error) =>
    RED.log.warn(`facewatch: could not remove leftover uploads in ${uploadDir(RED)}: ${err.message}`),
  );
  const table = handlers(RED, reg);
  const keys = new Set(Object.keys(table));
  for (const route of LIBRARY_ROUTES) {
    const key = routeKey(route);
    const handler = table[key];
    if (!handler) throw new Error(`Face Library route without a handler: ${key}`);
    keys.delete(key);
    adminRoute(RED, {
      method: route.method,
      path: route.path,
      permission: route.permission,
      handler,
      denyStatus: 403,
      headers: NO_STORE,
      timeoutMs: route.kind === 'upload' ? 300000 : route.kind === 'poll' ? pollMs() + 20000 : 60000,
    });
  }
  if (keys.size) throw new Error(`Face Library handlers without a route: ${[...keys].join(', ')}`);
}

function pollMs(): number {
  return LIBRARY.pollTimeout.default * 1000;
}
