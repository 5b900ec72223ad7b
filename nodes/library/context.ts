/**
 * What every Face Library route shares: the handler shape, answers (JSON, images never cached),
 * errors as HTTP statuses, the request's store and detection logs leased for the request, and the
 * person as the API shows it (lib/types/library.ts). The routes themselves are by resource: people.ts,
 * events.ts, cameras.ts; api.ts registers them from the table in routes.ts.
 */
import type { Request, Response } from 'express';
import type { DetectionLog } from '../../lib/events/log';
import { storeEvents } from '../../lib/events/store-events';
import { Enroller } from '../../lib/store/enrol';
import { enrolSettings } from '../../lib/store/enrol-settings';
import { isStoreError, type StoreErrorCode } from '../../lib/store/errors';
import type { OpenStore, Person } from '../../lib/store/types';
import type { PersonDetail, PersonSummary } from '../../lib/types/library';
import type { FaceRegisterSettings } from '../../lib/types/node-settings';
import { HttpError, type RouteContext } from '../shared/admin';
import { leaseEngine } from '../shared/engine';
import type { NodeAPI } from '../shared/red';
import { upgradeSettings } from '../shared/settings';
import type { StoreLease, StoreProvider } from '../shared/store';

/** A route's handler: its answer (JSON, `{status, body, type}`, or ANSWERED when it wrote itself). */
export type Handler = (req: Request, res: Response, ctx: RouteContext) => unknown;

/** A resource's routes, by `METHOD /path` (routes.ts's keys). */
export type Handlers = Record<string, Handler>;

/** Answers with a face image: never cached (biometric data). */
export const NO_STORE = { 'Cache-Control': 'no-store' };

export function jpeg(body: Buffer): { status: number; body: Buffer; type: string } {
  return { status: 200, body, type: 'image/jpeg' };
}

export function param(req: Request, name: string): string | undefined {
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
  ENOTSAME: 422,
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
  // PostgreSQL: the database cannot be reached (nothing was changed), or holds a newer schema.
  EDB_DOWN: 503,
  ESCHEMA_NEWER: 503,
};

/** A store or enrolment error as the HTTP error it is (the message is face-register's, with its code). */
export function httpError(err: unknown): unknown {
  if (isStoreError(err)) {
    const status = STATUS[err.code];
    if (status) return new HttpError(status, err.message, { code: err.code });
  }
  return err;
}

export function metadataOf(v: unknown): Record<string, unknown> | undefined {
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
export function actor(req: Request): string {
  const user = (req as Request & { user?: { username?: string; anonymous?: boolean } }).user;
  return `facewatch-library:${user?.username ?? 'anonymous'}`;
}

/** The deployed face-store config nodes, in flow order. */
export function storeNodes(RED: NodeAPI): Array<{ id: string; name: string }> {
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
export function storeNode(RED: NodeAPI, id: string): StoreProvider | null {
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
export function storeById(RED: NodeAPI, wanted: string | undefined): StoreProvider {
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
export async function withStore<T>(
  RED: NodeAPI,
  req: Request,
  fn: (store: OpenStore, provider: StoreProvider) => Promise<T> | T,
): Promise<T> {
  const provider = storeProviderOf(RED, req);
  let lease: StoreLease;
  try {
    lease = await provider.acquire('facewatch-library');
  } catch (err) {
    throw httpError(err);
  }
  try {
    return await fn(lease.resource, provider);
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
export async function withLogs<T>(
  RED: NodeAPI,
  storeId: string | undefined,
  fn: (logs: DetectionLog[]) => Promise<T>,
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
    const logs: DetectionLog[] = [];
    for (const l of leases) {
      const log = await storeEvents(l.resource).existing();
      if (log) logs.push(log);
    }
    return await fn(logs);
  } finally {
    for (const l of leases) await l.release();
  }
}

export { EVENT_ID } from '../../lib/events/log';

export { newestFirst } from '../../lib/events/log';

export function personSummary(p: Person): PersonSummary {
  return {
    id: p.id,
    name: p.name,
    metadata: p.metadata,
    samples: p.samples.length,
    created: p.createdAt,
    updated: p.updatedAt,
  };
}

export function personDetail(p: Person): PersonDetail {
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
 * Runs `fn` with an Enroller for the store of `storeId` as face-register enrols on it: the options of
 * a face-register node deployed on this store (its checks and messages), else face-register's
 * defaults; the engine that node uses, else the default one (leased meanwhile).
 */
export async function withEnroller<T>(
  RED: NodeAPI,
  store: OpenStore,
  storeId: string,
  fn: (enroller: Enroller) => Promise<T>,
): Promise<T> {
  let def: (Partial<FaceRegisterSettings> & { engine?: string }) | undefined;
  RED.nodes.eachNode((n: { type: string; store?: string }) => {
    if (!def && n.type === 'face-register' && n.store === storeId) def = n;
  });
  const quiet = (): void => undefined;
  const settings = def ? upgradeSettings('face-register', { ...def }, quiet) : {};
  const lease = await leaseEngine(RED, def?.engine || undefined);
  try {
    return await fn(new Enroller(store, lease.resource, enrolSettings(settings, quiet)));
  } finally {
    await lease.release();
  }
}

/** Aborted when the client goes away (a long-poll or a stream then stops waiting). */
export function clientGone(res: Response): AbortSignal {
  const ctl = new AbortController();
  res.once('close', () => ctl.abort());
  return ctl.signal;
}
