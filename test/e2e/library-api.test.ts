/**
 * The Face Library's REST API in a real Node-RED process, on a real flow: face-camera → rtsp-source
 * (the Hamilton clip served over RTSP on loopback) → face-detect → face-match → detection-log, with
 * face-register on the same face store. Registers from photos (one over 10 MB), refuses a photo
 * without a face and one over the 16 MB limit, lists, shows, renames and edits people, adds and
 * deletes a sample, starts and stops the camera, follows the live view (long-poll, frame, MJPEG),
 * reads the events and their pictures, enrols an unknown face from an event, reads the statistics,
 * and deletes a person leaving no file and no event of theirs.
 */
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import type { DetectionEvent } from '../../lib/types/events';
import { fixturePath, IN_CI, toolSkip } from '../helpers/env';
import { filesContaining } from '../helpers/files';
import { startNodeRed, waitForLog, type RunningNodeRed } from '../helpers/nodered';
import { hasRtspServer, startRtspServer, type RtspServer } from '../helpers/rtsp';

const LIN = fixturePath('face_recognition', 'examples', 'lin-manuel-miranda.png');
const BIDEN = fixturePath('face_recognition', 'examples', 'biden.jpg');
const BIDEN2 = fixturePath('face_recognition', 'examples', 'knn_examples', 'train', 'biden', 'biden2.jpg');
const WHITE = fixturePath('face-api.js', 'test', 'images', 'white.png');
const MB = 2 ** 20;

function rtspSkip(): string | undefined {
  if (hasRtspServer()) return undefined;
  const why = "GStreamer's RTSP server (python3-gi, gir1.2-gst-rtsp-server-1.0) not found";
  if (IN_CI) throw new Error(`required under CI: ${why}`);
  return why;
}
const skip = toolSkip('ffmpeg') ?? rtspSkip();

interface Person {
  id: string;
  name: string;
  metadata: Record<string, unknown>;
  samples: Array<{ id: string; created: string }>;
  events?: DetectionEvent[];
}

/**
 * An uncompressed PNG of the photo on a wide grey canvas: `bytes` or a little more, the face as
 * sharp as in the photo (a scaled-up photo would be blurred).
 */
async function bigPng(file: string, bytes: number): Promise<Buffer> {
  const meta = await sharp(file).metadata();
  const side = Math.ceil(Math.sqrt(bytes / 3));
  const padX = Math.max(0, Math.ceil((side - (meta.width ?? 0)) / 2));
  const padY = Math.max(0, Math.ceil((side - (meta.height ?? 0)) / 2));
  return sharp(file)
    .removeAlpha()
    .extend({ top: padY, bottom: padY, left: padX, right: padX, background: { r: 128, g: 128, b: 128 } })
    .png({ compressionLevel: 0, palette: false })
    .toBuffer();
}

describe('Face Library REST API (real Node-RED, the clip over RTSP)', { skip }, () => {
  let nr: RunningNodeRed;
  let rtsp: RtspServer;

  before(async () => {
    rtsp = await startRtspServer();
    nr = await startNodeRed({
      flows: [
        { id: 'tab', type: 'tab', label: 'library' },
        { id: 'cam', type: 'face-camera', name: 'hall', url: rtsp.url, fps: 5, width: 640 },
        { id: 'eng', type: 'face-engine', backend: 'wasm', poolSize: 2, detector: 'ssd', minConfidence: 0.3 },
        { id: 'st', type: 'face-store', name: 'main', backups: 1 },
        { id: 'reg', type: 'face-register', z: 'tab', store: 'st', engine: 'eng', wires: [[]] },
        {
          id: 'src',
          type: 'rtsp-source',
          z: 'tab',
          name: 'Hall',
          camera: 'cam',
          autoStart: false,
          wires: [['fd'], []],
        },
        {
          id: 'fd',
          type: 'face-detect',
          z: 'tab',
          engine: 'eng',
          descriptors: true,
          keepImage: 'faces',
          wires: [['fm']],
        },
        { id: 'fm', type: 'face-match', z: 'tab', store: 'st', wires: [['log']] },
        {
          id: 'log',
          type: 'detection-log',
          z: 'tab',
          store: 'st',
          cooldown: 3,
          snapshots: true,
          wires: [[]],
        },
      ],
    });
    await waitForLog(nr, /Started flows/);
  });
  after(async () => {
    await nr?.stop();
    await rtsp?.stop();
  });

  async function api(
    route: string,
    init: { method?: string; body?: Buffer | string; type?: string; signal?: AbortSignal } = {},
  ): Promise<Response> {
    return fetch(`${nr.url}/facewatch/api/${route}`, {
      method: init.method ?? 'GET',
      body: init.body as BodyInit | undefined,
      signal: init.signal,
      headers: init.type ? { 'content-type': init.type } : {},
    });
  }
  async function json<T>(res: Response, status = 200): Promise<T> {
    const text = await res.text();
    assert.equal(res.status, status, text);
    return JSON.parse(text) as T;
  }

  let lin: Person;
  let biden: Person;

  it('lists the deployed face store', async () => {
    const stores = await json<Array<{ id: string; name: string; file: string; people: number }>>(
      await api('stores'),
    );
    assert.deepEqual(
      stores.map((s) => [s.id, s.name, s.people]),
      [['st', 'main', 0]],
    );
    assert.equal(stores[0].file, path.join(nr.userDir, 'facewatch', 'faces.db'));
  });

  it('registers a person from a photo, with metadata', async () => {
    const res = await api(
      `register?name=${encodeURIComponent('Joe Biden')}&metadata=${encodeURIComponent('{"role":"visitor"}')}`,
      {
        method: 'POST',
        body: readFileSync(BIDEN),
        type: 'image/jpeg',
      },
    );
    const body = await json<{ status: string; person: Person }>(res, 201);
    assert.equal(body.status, 'enrolled');
    assert.equal(body.person.name, 'Joe Biden');
    assert.deepEqual(body.person.metadata, { role: 'visitor' });
    assert.equal(body.person.samples.length, 1);
    biden = body.person;
    const again = await api(`register?name=x&id=${biden.id}`, {
      method: 'POST',
      body: readFileSync(BIDEN2),
      type: 'image/jpeg',
    });
    assert.equal(again.status, 409);
  });

  it("refuses a photo without a face with face-register's message (422)", async () => {
    const res = await api('register?name=Nobody', {
      method: 'POST',
      body: readFileSync(WHITE),
      type: 'image/png',
    });
    const body = await json<{ error: string; code: string }>(res, 422);
    assert.equal(body.code, 'ENOFACE');
    assert.match(body.error, /no face found/);
  });

  it("accepts a photo over 10 MB (past Node-RED's 5 MB body limit)", async () => {
    const png = await bigPng(LIN, 11 * MB);
    assert.ok(png.length > 10 * MB && png.length < 16 * MB, `${png.length} bytes`);
    const res = await api(`register?name=${encodeURIComponent('Lin-Manuel Miranda')}&id=lmm`, {
      method: 'POST',
      body: png,
      type: 'image/png',
    });
    const body = await json<{ status: string; person: Person }>(res, 201);
    assert.equal(body.person.id, 'lmm');
    lin = body.person;
  });

  it('refuses a photo over 16 MB with 413, and keeps no upload', async () => {
    const png = await bigPng(LIN, 17 * MB);
    assert.ok(png.length > 16 * MB, `${png.length} bytes`);
    const res = await api('register?name=Too%20big', { method: 'POST', body: png, type: 'image/png' });
    const body = await json<{ error: string }>(res, 413);
    assert.match(body.error, /larger than the upload limit of 16 MB/);
    const uploads = path.join(nr.userDir, 'facewatch', 'uploads');
    assert.deepEqual(readdirSync(uploads), [], 'the temporary upload files are removed');
    const empty = await api('register?name=Empty', {
      method: 'POST',
      body: Buffer.alloc(0),
      type: 'image/png',
    });
    assert.equal(empty.status, 400);
    const form = await api('register?name=Form', {
      method: 'POST',
      body: 'a=b',
      type: 'application/x-www-form-urlencoded',
    });
    assert.equal(form.status, 415);
  });

  it('lists, searches and shows people, their thumbnail and sample pictures', async () => {
    const list = await json<Array<{ id: string; name: string; samples: number; metadata: object }>>(
      await api('faces'),
    );
    assert.deepEqual(
      list.map((p) => [p.name, p.samples]),
      [
        ['Joe Biden', 1],
        ['Lin-Manuel Miranda', 1],
      ],
    );
    const found = await json<Array<{ id: string }>>(await api('faces?q=visitor'));
    assert.deepEqual(
      found.map((p) => p.id),
      [biden.id],
    );
    const one = await json<Person>(await api(`faces/${biden.id}?store=st`));
    assert.equal(one.name, 'Joe Biden');
    assert.deepEqual(one.events, []);
    const thumb = await api(`faces/${biden.id}/thumbnail`);
    assert.equal(thumb.status, 200);
    assert.equal(thumb.headers.get('content-type'), 'image/jpeg');
    assert.equal(thumb.headers.get('cache-control'), 'no-store');
    assert.equal((await sharp(Buffer.from(await thumb.arrayBuffer())).metadata()).format, 'jpeg');
    const sample = await api(`faces/${biden.id}/samples/${one.samples[0].id}/image`);
    assert.equal(sample.status, 200);
    assert.equal(sample.headers.get('content-type'), 'image/jpeg');
    assert.equal((await api('faces/NOBODY')).status, 404);
    assert.equal((await api('faces/NOBODY/thumbnail')).status, 404);
    assert.equal((await api('faces?store=nope')).status, 404);
  });

  it('renames, edits metadata, adds and deletes a sample', async () => {
    const renamed = await json<{ person: Person }>(
      await api(`faces/${biden.id}`, {
        method: 'PATCH',
        body: JSON.stringify({ name: 'Joseph Biden', metadata: { role: 'president' } }),
        type: 'application/json',
      }),
    );
    assert.equal(renamed.person.name, 'Joseph Biden');
    assert.deepEqual(renamed.person.metadata, { role: 'president' });
    const added = await json<{ sample: string; person: Person }>(
      await api(`faces/${biden.id}/samples`, {
        method: 'POST',
        body: readFileSync(BIDEN2),
        type: 'image/jpeg',
      }),
      201,
    );
    assert.equal(added.person.samples.length, 2);
    const noFace = await api(`faces/${biden.id}/samples`, {
      method: 'POST',
      body: readFileSync(WHITE),
      type: 'image/png',
    });
    assert.equal(noFace.status, 422);
    const removed = await json<{ person: Person }>(
      await api(`faces/${biden.id}/samples/${added.sample}`, { method: 'DELETE' }),
    );
    assert.deepEqual(
      removed.person.samples.map((s) => s.id),
      [biden.samples[0].id],
    );
  });

  let camId: string;
  it('lists the camera, starts it and shows its state', async () => {
    const cams = await json<
      Array<{ id: string; name: string; camera: string; state: string; live: boolean }>
    >(await api('cameras'));
    assert.deepEqual(
      cams.map((c) => [c.id, c.name, c.camera, c.state]),
      [['src', 'Hall', 'hall', 'stopped']],
    );
    camId = cams[0].id;
    const started = await json<{ state: string }>(await api(`cameras/${camId}/start`, { method: 'POST' }));
    assert.ok(['connecting', 'connected'].includes(started.state), started.state);
    const end = Date.now() + 60000;
    let cam: { state: string; fps: number; live: boolean } | undefined;
    while (Date.now() < end) {
      [cam] = await json<Array<{ state: string; fps: number; live: boolean }>>(await api('cameras'));
      if (cam.state === 'connected' && cam.fps > 0 && cam.live) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    assert.equal(cam?.state, 'connected');
    assert.ok((cam?.fps ?? 0) > 0);
    assert.equal(cam?.live, true, 'face-match frames of the camera were seen');
  });

  it('follows the live view: long-poll with faces and names, the frame as JPEG', async () => {
    let after = 0;
    interface LiveFace {
      name: string | null;
      known: boolean;
      box: object;
    }
    let named: LiveFace[] | undefined;
    const end = Date.now() + 90000;
    let polls = 0;
    while (!named && Date.now() < end) {
      const res = await api(`cameras/${camId}/live?after=${after}`);
      polls++;
      if (res.status === 204) continue;
      const frame = await json<{ seq: number; ts: number; width: number; height: number; faces: LiveFace[] }>(
        res,
      );
      assert.ok(frame.seq > after, 'a newer frame');
      assert.equal(frame.width, 640);
      after = frame.seq;
      const img = await api(`cameras/${camId}/frame?seq=${frame.seq}`);
      assert.equal(img.status, 200, await img.clone().text());
      assert.equal(img.headers.get('cache-control'), 'no-store');
      assert.equal(img.headers.get('x-frame-seq'), String(frame.seq));
      const meta = await sharp(Buffer.from(await img.arrayBuffer())).metadata();
      assert.deepEqual([meta.format, meta.width], ['jpeg', 640]);
      if (frame.faces.some((x) => x.known && x.name === 'Lin-Manuel Miranda')) named = frame.faces;
    }
    assert.ok(named, `no live frame named Lin-Manuel Miranda in ${polls} polls`);
    for (const face of named) assert.ok(face.box && (face.known ? face.name : face.name === null));
  });

  it('streams the live view as multipart JPEG (video_feed)', async () => {
    const ctl = new AbortController();
    const res = await api(`cameras/${camId}/video_feed`, { signal: ctl.signal });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^multipart\/x-mixed-replace; boundary=/);
    const reader = res.body!.getReader();
    let buf = Buffer.alloc(0);
    const end = Date.now() + 30000;
    const parts = () => buf.toString('latin1').split('Content-Type: image/jpeg\r\n').length - 1;
    while (parts() < 3 && Date.now() < end) {
      const { value, done } = await reader.read();
      if (done) break;
      buf = Buffer.concat([buf, Buffer.from(value)]);
    }
    ctl.abort();
    assert.ok(parts() >= 3, `${parts()} parts`);
    const first = buf.indexOf(Buffer.from([0xff, 0xd8, 0xff]));
    assert.ok(first > 0, 'a JPEG in the stream');
  });

  let unknownEvents: DetectionEvent[] = [];
  it('lists events with their snapshot and crop, filtered', async () => {
    const end = Date.now() + 90000;
    let body: { events: DetectionEvent[]; cameras: string[] } = { events: [], cameras: [] };
    while (Date.now() < end) {
      body = await json(await api('events?limit=200'));
      const named = body.events.some((e) => e.person?.id === lin.id);
      unknownEvents = body.events.filter((e) => !e.known && e.crop);
      if (named && unknownEvents.length) break;
      await new Promise((r) => setTimeout(r, 1000));
    }
    assert.ok(
      body.events.some((e) => e.person?.name === 'Lin-Manuel Miranda'),
      'an event naming him',
    );
    assert.ok(unknownEvents.length > 0, 'an unknown face with a crop');
    assert.deepEqual(body.cameras, ['hall']);
    const times = body.events.map((e) => e.time);
    assert.deepEqual(times, [...times].sort().reverse(), 'newest first');
    const his = await json<{ events: DetectionEvent[] }>(await api(`events?person=${lin.id}&camera=hall`));
    assert.ok(his.events.length > 0 && his.events.every((e) => e.person?.id === lin.id));
    const unknown = await json<{ events: DetectionEvent[] }>(await api('events?known=false'));
    assert.ok(unknown.events.every((e) => !e.known));
    const none = await json<{ events: DetectionEvent[] }>(await api('events?from=2000-01-01&to=2000-01-02'));
    assert.deepEqual(none.events, []);
    const newest = body.events[0];
    const later = await json<{ events: DetectionEvent[] }>(await api(`events?after=${newest.id}`));
    assert.ok(later.events.every((e) => e.id > newest.id));
    const e = unknownEvents[0];
    for (const kind of ['snapshot', 'crop']) {
      const img = await api(`events/${e.id}/${kind}`);
      assert.equal(img.status, 200, kind);
      assert.equal(img.headers.get('cache-control'), 'no-store');
      assert.equal((await sharp(Buffer.from(await img.arrayBuffer())).metadata()).format, 'jpeg');
    }
    assert.equal((await api('events/20000101T000000.000Z-nothin/crop')).status, 404);
    const person = await json<Person>(await api(`faces/${lin.id}`));
    assert.ok(person.events?.length && person.events.every((x) => x.person?.id === lin.id));
  });

  it('enrols an unknown face from its event', async () => {
    const refusals: string[] = [];
    let enrolled: Person | undefined;
    let from = '';
    // The clip keeps playing: an unknown face refused for good reason (turned away, too small) is
    // followed by others, tried as they come.
    const tried = new Set<string>();
    let candidates = unknownEvents;
    const end = Date.now() + 90000;
    while (!enrolled && Date.now() < end) {
      for (const e of candidates.filter((c) => !tried.has(c.id)).slice(0, 10)) {
        tried.add(e.id);
        const res = await api(`events/${e.id}/enrol`, {
          method: 'POST',
          body: JSON.stringify({ name: 'Stage guest', metadata: { from: 'camera' } }),
          type: 'application/json',
        });
        if (res.status === 201) {
          const answer = await json<{ person: Person; pictures: number; refused: unknown[] }>(res, 201);
          enrolled = answer.person;
          from = e.id;
          // The event's crop and the other crops of its passage, each a sample (or refused, said).
          assert.equal(enrolled.samples.length, answer.pictures, JSON.stringify(answer.refused));
          assert.equal(answer.pictures + answer.refused.length, 1 + (e.samples?.length ?? 0));
          break;
        }
        const body = await json<{ error: string; code: string }>(res, 422);
        refusals.push(`${body.code}: ${body.error}`);
      }
      if (enrolled) break;
      await new Promise((r) => setTimeout(r, 2000));
      const next = await json<{ events: DetectionEvent[] }>(await api('events?known=false&limit=200'));
      candidates = next.events.filter((c) => c.crop);
    }
    assert.ok(enrolled, `every unknown event was refused: ${refusals.join('; ')}`);
    assert.equal(enrolled.name, 'Stage guest');
    const first = enrolled.samples.length;
    // The same face as a sample of an enrolled person, in one step.
    const sample = await api(`events/${from}/enrol`, {
      method: 'POST',
      body: JSON.stringify({ person: enrolled.id }),
      type: 'application/json',
    });
    const added = await json<{ status: string; person: Person; pictures: number }>(sample, 201);
    assert.equal(added.status, 'sample-added');
    assert.deepEqual([added.person.id, added.person.samples.length], [enrolled.id, first + added.pictures]);
    const nobody = await api(`events/${unknownEvents[0].id}/enrol`, {
      method: 'POST',
      body: JSON.stringify({ person: 'NOBODY' }),
      type: 'application/json',
    });
    assert.equal(nobody.status, 404);
  });

  it('reports statistics', async () => {
    const stats = await json<{
      people: number;
      eventsToday: number;
      today: {
        byPerson: Array<{ id: string | null; name: string; count: number }>;
        byCamera: Array<{ camera: string; count: number }>;
      };
      hours: number[];
    }>(await api('stats'));
    assert.equal(stats.people, 3);
    assert.ok(stats.eventsToday >= 2);
    assert.equal(stats.hours.length, 24);
    assert.equal(
      stats.hours.reduce((a, b) => a + b, 0),
      stats.eventsToday,
    );
    assert.ok(stats.today.byPerson.some((p) => p.id === lin.id && p.count > 0));
    assert.deepEqual(
      stats.today.byCamera.map((c) => c.camera),
      ['hall'],
    );
  });

  it('stops the camera', async () => {
    const stopped = await json<{ state: string }>(await api(`cameras/${camId}/stop`, { method: 'POST' }));
    assert.equal(stopped.state, 'stopped');
    const [listed] = await json<Array<{ state: string; fps: number }>>(await api('cameras'));
    assert.deepEqual([listed.state, listed.fps], ['stopped', 0]);
    // Started again: no longer "stopped", though the last event of the stream said so.
    const again = await json<{ state: string }>(await api(`cameras/${camId}/start`, { method: 'POST' }));
    assert.ok(['connecting', 'connected'].includes(again.state), again.state);
    assert.equal(
      (await json<{ state: string }>(await api(`cameras/${camId}/stop`, { method: 'POST' }))).state,
      'stopped',
    );
    assert.equal((await api('cameras/nope/start', { method: 'POST' })).status, 404);
  });

  it('deletes a person leaving no file and no event of theirs', async () => {
    const thumb = Buffer.from(await (await api(`faces/${lin.id}/thumbnail`)).arrayBuffer());
    const theirs = await json<{ events: DetectionEvent[] }>(await api(`events?person=${lin.id}&limit=1000`));
    const crop = Buffer.from(await (await api(`events/${theirs.events[0].id}/crop`)).arrayBuffer());
    const data = path.join(nr.userDir, 'facewatch');
    assert.ok(filesContaining(data, thumb).length > 0, 'the face crop is on disk before');
    const res = await json<{ deleted: boolean; id: string; events: number; files: number }>(
      await api(`faces/${lin.id}`, { method: 'DELETE' }),
    );
    assert.deepEqual([res.deleted, res.id], [true, lin.id]);
    assert.ok(res.events >= theirs.events.length, `${res.events} events erased`);
    assert.ok(res.files >= 1);
    assert.equal((await api(`faces/${lin.id}`)).status, 404);
    assert.deepEqual(
      (await json<{ events: DetectionEvent[] }>(await api(`events?person=${lin.id}`))).events,
      [],
    );
    assert.equal((await api(`events/${theirs.events[0].id}/crop`)).status, 404);
    // The store's audit log keeps the fact of the deletion by design; nothing else may mention them.
    const left = [
      ...filesContaining(data, 'Lin-Manuel Miranda'),
      ...filesContaining(data, `"${lin.id}"`),
      ...filesContaining(data, thumb),
      ...filesContaining(data, crop),
    ].filter((f) => !f.endsWith('faces.audit.jsonl'));
    assert.deepEqual(left, [], 'no file of the deleted person');
    const audit = readFileSync(path.join(data, 'faces.audit.jsonl'), 'utf8');
    assert.match(audit, /"action":"delete","id":"lmm".*"actor":"facewatch-library:anonymous"/);
    // The original system's route does the same.
    const alias = await json<{ deleted: boolean }>(await api(`delete/${biden.id}`, { method: 'POST' }));
    assert.equal(alias.deleted, true);
    assert.equal((await api(`delete/${biden.id}`, { method: 'POST' })).status, 404);
    assert.doesNotMatch(nr.log(), /\[error\]/);
  });
});
