/**
 * Photo uploads of the Face Library: the raw request body streamed to a temporary file in Node-RED's
 * user directory (removed afterwards), with the library's own size limit. Node-RED's JSON body
 * limit (5 MB) never sees it: its parsers only read JSON and form bodies, which are refused here.
 */
import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Request, Response } from 'express';
import { LIBRARY } from '../../lib/types/defaults';
import { HttpError } from '../shared/admin';
import type { NodeAPI } from '../shared/red';

/** Bodies this much over the limit are cut off instead of read to their end. */
const DRAIN_FACTOR = 4;

/** Where uploads wait while they are checked: `<userDir>/facewatch/uploads`. */
export function uploadDir(RED: NodeAPI): string {
  const userDir = (RED.settings as { userDir?: string }).userDir ?? process.cwd();
  return path.join(userDir, 'facewatch', 'uploads');
}

/** The Content-Types a photo upload may have ('' when none is given). */
const PHOTO_TYPES = ['image/jpeg', 'image/png', 'image/webp', 'application/octet-stream', ''];

/** Uploads being received or checked right now, in this process. */
let inFlight = 0;

/**
 * Removes the uploads a crash or a kill left in `dir` (photos of people being checked): called when
 * Node-RED starts, before any upload of this run exists.
 */
export async function sweepUploads(dir: string): Promise<number> {
  const names = await readdir(dir).catch(() => [] as string[]);
  let n = 0;
  for (const name of names) {
    if (!/^upload-.*\.part$/.test(name)) continue;
    await rm(path.join(dir, name), { force: true });
    n++;
  }
  return n;
}

function megabytes(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(bytes % 2 ** 20 ? 1 : 0)} MB`;
}

/**
 * Streams the request body (a photo) to a temporary file, hands its bytes to `use` and removes the
 * file. Throws HttpError 415 for a form or JSON body, 413 past `limit` bytes (the body is read to its
 * end so the client sees the answer, unless it is far over), 400 for an empty body, and 503 (with
 * Retry-After, the body unread) while LIBRARY.maxUploads uploads are already being received or
 * checked.
 */
export async function receiveUpload<T>(
  req: Request,
  res: Response,
  limit: number,
  dir: string,
  use: (image: Buffer) => Promise<T>,
): Promise<T> {
  const type = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
  const consumed = (req as Request & { _body?: boolean })._body === true || req.readableEnded;
  if (consumed || !PHOTO_TYPES.includes(type))
    throw new HttpError(
      415,
      'send the photo itself as the request body, with Content-Type image/jpeg, image/png, image/webp or application/octet-stream',
    );
  const tooLarge = new HttpError(413, `the photo is larger than the upload limit of ${megabytes(limit)}`, {
    code: 'ETOOLARGE',
  });
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit * DRAIN_FACTOR) {
    // Far too large to read to its end: answer and close the connection.
    res.set('Connection', 'close');
    throw tooLarge;
  }
  if (inFlight >= LIBRARY.maxUploads) {
    res.set({ 'Retry-After': '5', Connection: 'close' });
    throw new HttpError(
      503,
      `${LIBRARY.maxUploads} photos are being checked already: try again in a few seconds`,
    );
  }
  inFlight++;
  try {
    return await receive(req, res, limit, dir, tooLarge, use);
  } finally {
    inFlight--;
  }
}

async function receive<T>(
  req: Request,
  res: Response,
  limit: number,
  dir: string,
  tooLarge: HttpError,
  use: (image: Buffer) => Promise<T>,
): Promise<T> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const file = path.join(dir, `upload-${randomUUID()}.part`);
  let size = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _enc, done) {
      size += chunk.length;
      if (size > limit * DRAIN_FACTOR) done(tooLarge);
      // Past the limit the rest is read and dropped: the client gets its 413 instead of a reset.
      else done(null, size > limit ? undefined : chunk);
    },
  });
  try {
    try {
      await pipeline(req, counter, createWriteStream(file, { mode: 0o600, flags: 'wx' }));
    } catch (err) {
      if (err === tooLarge) res.set('Connection', 'close');
      if (err instanceof HttpError) throw err;
      // The client went away or the body broke off: nobody to tell but the status.
      throw new HttpError(400, 'the upload was cut off');
    }
    if (size > limit) throw tooLarge;
    if (size === 0) throw new HttpError(400, 'no photo in the request body');
    return await use(await readFile(file));
  } finally {
    await rm(file, { force: true });
  }
}
