/**
 * The event log on real NeDB files: daily files in a fixed time zone, queries and statistics,
 * retention and the disk cap, erasure of a person (checked with a grep of the folder), and the
 * snapshot drawing on a real photo.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import { EventLog, eventId, type EventStats } from '../../lib/events/log';
import { cropFace, drawSnapshot, plainFrame, SNAPSHOT_FONT, xmlEscape } from '../../lib/events/snapshot';
import { ZonedClock } from '../../lib/events/time';
import type { DetectionEvent } from '../../lib/types/events';
import { fixturePath, hasTool } from '../helpers/env';
import { filesContaining } from '../helpers/files';

const ALICE = { id: 'PERSON_0001', name: 'Alice Aardvark' };
const BOB = { id: 'PERSON_0002', name: 'Bob Bandicoot' };

function event(time: string, person: { id: string; name: string } | null, camera = 'door'): DetectionEvent {
  return {
    id: eventId(new Date(time)),
    time,
    camera,
    known: !!person,
    person,
    distance: person ? 0.4 : 0.7,
    confidence: person ? 0.6 : 0.3,
    box: { x: 10, y: 10, width: 100, height: 100 },
    quality: { faceSize: 100, sharpness: 50, yaw: null },
    frames: 1,
    trackId: `T${Math.random().toString(36).slice(2)}`,
    reason: 'track-start',
    snapshot: null,
    crop: null,
  };
}

const JPEG = (): Promise<Buffer> =>
  sharp({ create: { width: 64, height: 48, channels: 3, background: '#808080' } })
    .jpeg()
    .toBuffer();

describe('event log', () => {
  let dir: string;
  let n = 0;
  const fresh = (): string => path.join(dir, `log${++n}`, 'events.db');
  before(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'fw-events-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('days follow the configured zone: 20:00 UTC is the next day in Asia/Bangkok', async () => {
    const clock = new ZonedClock('Asia/Bangkok');
    assert.equal(clock.day('2026-03-01T20:00:00Z'), '2026-03-02');
    assert.equal(clock.hour('2026-03-01T20:00:00Z'), 3);
    assert.equal(new ZonedClock('UTC').day('2026-03-01T20:00:00Z'), '2026-03-01');
    assert.throws(() => new ZonedClock('Mars/Olympus'), /unknown time zone/);

    const log = await EventLog.open({ file: fresh(), timezone: 'Asia/Bangkok', dailyFiles: true });
    const e = await log.record(event('2026-03-01T20:00:00.000Z', ALICE));
    const daily = log.dailyFile('2026-03-02');
    assert.ok(existsSync(daily), 'in the next day file');
    assert.ok(!existsSync(log.dailyFile('2026-03-01')));
    const lines = readFileSync(daily, 'utf8').trim().split('\n');
    assert.deepEqual(JSON.parse(lines[0]), e, 'the same object as sent');
    assert.equal(statSync(daily).mode & 0o777, 0o600);
    assert.equal(statSync(log.file).mode & 0o777, 0o600);
    const stats = await log.stats(2, new Date('2026-03-02T01:00:00Z'));
    assert.equal(stats.today, '2026-03-02');
    assert.equal(stats.eventsToday, 1);
    assert.equal(stats.todayByHour[3], 1);
    await log.close();
  });

  it('queries by person, camera, time and kind, with limit and offset; stats of today', async () => {
    const log = await EventLog.open({ file: fresh(), timezone: 'UTC' });
    const day = '2026-05-10';
    await log.record(event(`${day}T08:00:00.000Z`, ALICE, 'door'));
    await log.record(event(`${day}T08:30:00.000Z`, ALICE, 'garden'));
    await log.record(event(`${day}T09:15:00.000Z`, BOB, 'door'));
    await log.record(event(`${day}T10:00:00.000Z`, null, 'door'));
    await log.record(event('2026-05-09T23:00:00.000Z', BOB, 'garden'));

    assert.equal((await log.query()).length, 5);
    assert.deepEqual(
      (await log.query({ person: ALICE.id })).map((e) => e.camera),
      ['garden', 'door'],
      'newest first',
    );
    assert.equal((await log.query({ person: 'Bob Bandicoot' })).length, 2, 'by name too');
    assert.equal((await log.query({ camera: 'door' })).length, 3);
    assert.equal((await log.query({ known: false })).length, 1);
    assert.equal((await log.query({ from: `${day}T08:15:00Z`, to: `${day}T10:00:00Z` })).length, 2);
    const page = await log.query({ limit: 2, offset: 1 });
    assert.deepEqual(
      page.map((e) => e.time),
      [`${day}T09:15:00.000Z`, `${day}T08:30:00.000Z`],
    );
    await assert.rejects(log.query({ from: 'yesterday-ish' }), /not a time/);
    // `after` filters before the limit and the offset: what came since an event, a page at a time.
    const all = await log.query();
    const since = all[3].id; // the second oldest (08:00)
    assert.deepEqual(
      (await log.query({ after: since })).map((e) => e.time),
      [`${day}T10:00:00.000Z`, `${day}T09:15:00.000Z`, `${day}T08:30:00.000Z`],
    );
    assert.deepEqual(
      (await log.query({ after: since, limit: 1, offset: 2 })).map((e) => e.time),
      [`${day}T08:30:00.000Z`],
      'the offset counts only events after `after`',
    );
    assert.deepEqual(await log.query({ after: all[0].id }), [], 'nothing after the newest');

    const s = await log.stats(7, new Date(`${day}T12:00:00Z`));
    assert.equal(s.people, 7);
    assert.equal(s.eventsToday, 4);
    assert.deepEqual(s.todayByPerson, { 'Alice Aardvark': 2, 'Bob Bandicoot': 1, unknown: 1 });
    assert.deepEqual(
      Object.values(s.todayByPersonId)
        .map((p) => `${p.name}:${p.count}`)
        .sort(),
      ['Alice Aardvark:2', 'Bob Bandicoot:1'],
    );
    assert.deepEqual(s.todayByCamera, { door: 3, garden: 1 });
    assert.equal(s.todayByHour[8], 2);
    assert.equal(s.todayByHour[9], 1);
    assert.equal(s.todayByHour[10], 1);
    assert.equal(
      s.todayByHour.reduce((a, b) => a + b, 0),
      4,
    );
    assert.deepEqual(s.lastSeen[ALICE.id], {
      name: ALICE.name,
      time: `${day}T08:30:00.000Z`,
      camera: 'garden',
    });
    assert.equal(s.lastSeen[BOB.id].time, `${day}T09:15:00.000Z`);
    await log.close();
  });

  it('retention: old events and their files go, newer stay; the disk cap removes the oldest', async () => {
    const log = await EventLog.open({
      file: fresh(),
      timezone: 'UTC',
      dailyFiles: true,
      retainKnownDays: 30,
      retainUnknownDays: 7,
    });
    const now = Date.parse('2026-06-30T12:00:00Z');
    const img = await JPEG();
    const old = await log.record(event('2026-05-01T12:00:00.000Z', ALICE), { snapshot: img, crop: img });
    const oldUnknown = await log.record(event('2026-06-20T12:00:00.000Z', null), { snapshot: img });
    const recent = await log.record(event('2026-06-25T12:00:00.000Z', ALICE), { snapshot: img });
    const recentUnknown = await log.record(event('2026-06-28T12:00:00.000Z', null), { snapshot: img });
    assert.ok(existsSync(path.join(log.images.root, old.snapshot ?? '')));
    assert.equal(statSync(path.join(log.images.root, old.id)).mode & 0o777, 0o700);

    const report = await log.sweep(now);
    assert.equal(report.expired, 2);
    const left = (await log.query()).map((e) => e.id).sort();
    assert.deepEqual(left, [recent.id, recentUnknown.id].sort());
    assert.ok(!existsSync(path.join(log.images.root, old.id)), 'pictures of an expired event gone');
    assert.ok(!existsSync(path.join(log.images.root, oldUnknown.id)));
    assert.ok(existsSync(path.join(log.images.root, recent.id)));
    assert.ok(!existsSync(log.dailyFile('2026-05-01')), 'a daily file left empty is removed');
    assert.ok(!readFileSync(log.file, 'utf8').includes(old.id), 'compacted');
    await log.close();

    // The cap: a log over 1 MB loses its oldest events first.
    const capped = await EventLog.open({ file: fresh(), timezone: 'UTC', maxDiskMB: 1 });
    const big = await sharp({
      create: { width: 700, height: 700, channels: 3, background: '#000' },
    })
      .jpeg({ quality: 100 })
      .toBuffer();
    const noise = Buffer.concat([big, Buffer.alloc(300 * 1024, 7)]);
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) {
      ids.push((await capped.record(event(`2026-06-2${i}T12:00:00.000Z`, ALICE), { snapshot: noise })).id);
    }
    assert.ok((await capped.diskUsage()) > 1024 * 1024);
    const r = await capped.sweep(now);
    assert.ok(r.overCap >= 3, `removed ${r.overCap}`);
    assert.ok((await capped.diskUsage()) <= 1024 * 1024);
    const kept = (await capped.query()).map((e) => e.id);
    assert.deepEqual(kept.sort(), ids.slice(r.overCap).sort(), 'the newest stay');
    await capped.close();
  });

  it('erasure: no event, file or daily line of the person remains (grep)', async () => {
    const file = fresh();
    const log = await EventLog.open({ file, timezone: 'Asia/Bangkok', dailyFiles: true });
    const img = await JPEG();
    const mine: DetectionEvent[] = [];
    for (const t of ['2026-07-01T10:00:00.000Z', '2026-07-01T20:00:00.000Z', '2026-07-03T05:00:00.000Z']) {
      mine.push(await log.record(event(t, ALICE), { snapshot: img, crop: img }));
    }
    const bobs = await log.record(event('2026-07-01T11:00:00.000Z', BOB), { snapshot: img });
    await log.record(event('2026-07-01T12:00:00.000Z', null));
    const folder = path.dirname(file);
    assert.ok(filesContaining(folder, ALICE.id).length >= 2);

    assert.equal(await log.erasePerson(ALICE.id), 3);
    assert.deepEqual(filesContaining(folder, ALICE.id), []);
    assert.deepEqual(filesContaining(folder, ALICE.name), []);
    for (const e of mine) assert.ok(!existsSync(path.join(log.images.root, e.id)));
    assert.equal((await log.query()).length, 2, "the others' events stay");
    assert.ok(existsSync(path.join(log.images.root, bobs.snapshot ?? '')));
    assert.ok(filesContaining(folder, BOB.id).length >= 2);
    assert.ok(
      readdirSync(folder).some((f) => f.startsWith('detections_')),
      'daily files of others remain',
    );
    await log.close();
  });

  it("keeps a passage's other crops with its event, gives them to enrol, and erases them with it", async () => {
    const file = fresh();
    const log = await EventLog.open({ file, timezone: 'UTC' });
    const picture = (background: string): Promise<Buffer> =>
      sharp({ create: { width: 40, height: 40, channels: 3, background } })
        .jpeg()
        .toBuffer();
    const [crop, s1, s2] = await Promise.all(['#102030', '#405060', '#708090'].map(picture));
    const stranger = {
      ...event('2026-07-01T10:00:00.000Z', null),
      visitor: {
        id: 'VISITOR_0001',
        visits: 1,
        firstSeen: '2026-07-01T10:00:00.000Z',
        lastSeen: '2026-07-01T10:00:00.000Z',
        cameras: ['door'],
      },
    };
    const e = await log.record(stranger, { snapshot: crop, crop, samples: [s1, s2] });
    assert.deepEqual(e.samples, [`${e.id}/sample-1.jpg`, `${e.id}/sample-2.jpg`]);
    assert.deepEqual(await log.enrolPictures(e.id), [crop, s1, s2], 'the crop first, then the passage');
    assert.deepEqual((await log.pictures(e)).samples, [s1, s2]);
    // Without a crop the plain frame is enrolled; an event recorded without samples has none.
    const plain = await log.record(event('2026-07-01T10:05:00.000Z', null), { snapshot: s1 });
    assert.equal(plain.samples, undefined);
    assert.deepEqual(await log.enrolPictures(plain.id), [s1]);
    assert.deepEqual(await log.enrolPictures('20000101T000000.000Z-nothin'), []);
    // A sample path naming another event's folder (an event file changed by hand) is not followed.
    const other = await log.record(event('2026-07-01T10:10:00.000Z', null), { crop: s2, samples: [s1] });
    const body = path.join(log.images.root, other.id, 'event.json');
    writeFileSync(body, JSON.stringify({ ...other, samples: [`${e.id}/sample-1.jpg`, '../../etc/passwd'] }));
    assert.deepEqual(await log.enrolPictures(other.id), [s2]);

    assert.equal(await log.eraseVisitor('VISITOR_0001'), 1);
    assert.ok(!existsSync(path.join(log.images.root, e.id)), 'the event folder, samples with it, is gone');
    assert.deepEqual(await log.enrolPictures(e.id), []);
    await log.close();
  });

  it('holds an index entry per event in the datafile, the event in its own file; reads a log written before', async () => {
    const file = fresh();
    const folder = path.dirname(file);
    // A log of an earlier FaceWatch: whole events in the datafile, one of them showing Alice beside Bob.
    const old = event('2026-07-01T09:00:00.000Z', BOB);
    old.faces = [
      { box: old.box, person: BOB },
      { box: { x: 200, y: 10, width: 90, height: 90 }, person: ALICE },
    ];
    const oldAlice = event('2026-07-01T09:30:00.000Z', ALICE);
    mkdirSync(folder, { recursive: true });
    writeFileSync(file, [old, oldAlice].map((e) => JSON.stringify({ ...e, _id: e.id })).join('\n') + '\n');

    const log = await EventLog.open({ file, timezone: 'UTC' });
    const img = await JPEG();
    const recorded = await log.record(
      { ...event('2026-07-01T10:00:00.000Z', ALICE), score: 0.97 },
      { crop: img },
    );
    assert.deepEqual(await log.get(recorded.id), recorded, 'read back whole from its file');
    assert.deepEqual(
      JSON.parse(readFileSync(path.join(log.images.root, recorded.id, 'event.json'), 'utf8')),
      recorded,
    );
    const line = readFileSync(file, 'utf8')
      .split('\n')
      .find((l) => l.includes(recorded.id));
    const entry = JSON.parse(line ?? '{}') as Record<string, unknown>;
    for (const k of ['box', 'quality', 'trackId', 'distance', 'score'])
      assert.ok(!(k in entry), `the datafile (held in memory) has no ${k}`);
    assert.deepEqual(entry.person, ALICE);

    assert.deepEqual(
      (await log.query()).map((e) => e.id),
      [recorded.id, oldAlice.id, old.id],
      'old and new events in one query, newest first',
    );
    assert.deepEqual((await log.get(old.id))?.faces, old.faces);
    assert.equal((await log.stats(2, new Date('2026-07-01T12:00:00Z'))).todayByPersonId[ALICE.id]?.count, 2);

    assert.equal(await log.erasePerson(ALICE.id), 2, 'her old and new events');
    assert.deepEqual(filesContaining(folder, ALICE.id), []);
    assert.deepEqual(filesContaining(folder, ALICE.name), []);
    assert.deepEqual(
      (await log.get(old.id))?.faces,
      [{ box: old.box, person: BOB }],
      'she left the old event',
    );
    assert.equal((await log.query()).length, 1);
    await log.close();
    const reopened = await EventLog.open({ file, timezone: 'UTC' });
    assert.deepEqual(
      (await reopened.query()).map((e) => e.faces),
      [[{ box: old.box, person: BOB }]],
    );
    await reopened.close();
  });

  it("keeps the frame plain and draws it when served; erasure pixelates the person in others' frames", async () => {
    const file = fresh();
    const log = await EventLog.open({ file, timezone: 'UTC', dailyFiles: true });
    const photo = await plainFrame(
      readFileSync(fixturePath('face_recognition', 'examples', 'two_people.jpg')),
    );
    const { width = 0 } = await sharp(photo).metadata();
    const aliceBox = { x: 40, y: 40, width: 120, height: 120 };
    const bobBox = { x: width - 180, y: 40, width: 120, height: 120 };
    const faces = [
      { box: aliceBox, person: ALICE },
      { box: bobBox, person: BOB },
    ];
    const time = '2026-08-01T10:00:00.000Z';
    const hers = await log.record(
      { ...event(time, ALICE), box: aliceBox, faces },
      { snapshot: photo, crop: photo },
    );
    const his = await log.record({ ...event(time, BOB), box: bobBox, faces }, { snapshot: photo });
    const folder = path.dirname(file);

    // On disk: the frame as it came, no name drawn into it; served: drawn.
    const stored = readFileSync(path.join(log.images.root, his.snapshot ?? ''));
    assert.ok(stored.equals(photo), 'the stored frame is the plain frame');
    const shown = await log.snapshot(his.id);
    assert.ok(shown && !shown.equals(photo), 'the served snapshot is drawn');
    assert.equal((await sharp(shown).metadata()).width, width);
    assert.deepEqual(await log.frame(his.id), photo);

    assert.equal(await log.erasePerson(ALICE.id), 1);
    assert.equal(await log.get(hers.id), undefined);
    const after = await log.get(his.id);
    assert.deepEqual(after?.faces, [{ box: bobBox, person: BOB }], 'she left the faces of his event');
    assert.deepEqual(filesContaining(folder, ALICE.name), [], 'her name is in no file');
    assert.deepEqual(filesContaining(folder, ALICE.id), [], 'her id is in no file');
    // Her face in his frame is blocks of one colour now; his own face is as it was.
    const frame = readFileSync(path.join(log.images.root, his.snapshot ?? ''));
    const region = async (img: Buffer, b: typeof aliceBox): Promise<Buffer> =>
      // Inside the first of the 4x4 blocks of the box widened by a quarter (45 px for a 120 px box).
      sharp(img)
        .extract({ left: b.x - 30 + 10, top: b.y - 30 + 10, width: 25, height: 25 })
        .greyscale()
        .raw()
        .toBuffer();
    const spread = (px: Buffer): number => Math.max(...px) - Math.min(...px);
    assert.ok(spread(await region(photo, aliceBox)) > 40, 'the test region had detail');
    assert.ok(
      spread(await region(frame, aliceBox)) < 25,
      `her face is pixelated (${spread(await region(frame, aliceBox))})`,
    );
    const diff = (a: Buffer, b: Buffer): number =>
      a.reduce((n, v, i) => n + Math.abs(v - b[i]), 0) / a.length;
    assert.ok(diff(await region(frame, bobBox), await region(photo, bobBox)) < 8, 'his face is untouched');
    const line = JSON.parse(readFileSync(log.dailyFile('2026-08-01'), 'utf8').trim()) as DetectionEvent;
    assert.deepEqual(line.faces, [{ box: bobBox, person: BOB }], 'the daily line was rewritten too');
    await log.close();
  });

  it('records nothing of someone erased while their frame was on its way, in turn with the erasure', async () => {
    const file = fresh();
    const log = await EventLog.open({ file, timezone: 'UTC', dailyFiles: true });
    const folder = path.dirname(file);
    const photo = await plainFrame(
      readFileSync(fixturePath('face_recognition', 'examples', 'two_people.jpg')),
    );
    const { width = 0 } = await sharp(photo).metadata();
    const aliceBox = { x: 40, y: 40, width: 120, height: 120 };
    const bobBox = { x: width - 180, y: 40, width: 120, height: 120 };
    const faces = [
      { box: aliceBox, person: ALICE },
      { box: bobBox, person: BOB },
    ];
    const time = '2026-08-02T10:00:00.000Z';
    const enrolled = new Set([ALICE.id, BOB.id]);
    const known = (id: string): boolean => enrolled.has(id);
    // The erasure is queued first; her frame's record, queued after it, runs after it.
    const erasing = (async () => {
      enrolled.delete(ALICE.id);
      return log.erasePerson(ALICE.id);
    })();
    const hers = log.record(
      { ...event(time, ALICE), box: aliceBox, faces },
      { snapshot: photo, crop: photo },
      known,
    );
    const his = log.record({ ...event(time, BOB), box: bobBox, faces }, { snapshot: photo }, known);
    assert.equal(await erasing, 0);
    assert.equal(await hers, null, 'her event is not recorded');
    const kept = await his;
    assert.ok(kept);
    assert.deepEqual(kept.faces, [{ box: bobBox, person: BOB }], 'she is not among the faces of his event');
    assert.deepEqual(filesContaining(folder, ALICE.id), [], 'her id is in no file');
    assert.deepEqual(filesContaining(folder, ALICE.name), [], 'her name is in no file');
    assert.equal((await log.query()).length, 1);
    // His frame is kept with her face pixelated; without the check it would be the plain frame.
    const frame = readFileSync(path.join(log.images.root, kept.snapshot ?? ''));
    assert.ok(!frame.equals(photo), 'the kept frame is not the frame as it came');
    const spread = async (img: Buffer): Promise<number> => {
      const px = await sharp(img)
        .extract({ left: aliceBox.x - 20, top: aliceBox.y - 20, width: 25, height: 25 })
        .greyscale()
        .raw()
        .toBuffer();
      return Math.max(...px) - Math.min(...px);
    };
    assert.ok((await spread(photo)) > 40, 'the test region had detail');
    assert.ok((await spread(frame)) < 25, `her face is pixelated (${await spread(frame)})`);
    // Without the check (a log used on its own), an event is recorded as given.
    assert.ok(await log.record(event(time, ALICE)));
    await log.close();
  });

  it("erasure removes an older snapshot that has the person's name drawn in (recorded before `faces`)", async () => {
    const log = await EventLog.open({ file: fresh(), timezone: 'UTC' });
    const img = await JPEG();
    const time = '2026-08-02T10:00:00.000Z';
    // Events of an older version: no `faces`, the names drawn into the one frame they share.
    const hers = await log.record({ ...event(time, ALICE) }, { snapshot: img });
    const his = await log.record({ ...event(time, BOB) }, { snapshot: img, crop: img });
    const elsewhere = await log.record({ ...event(time, BOB, 'garden') }, { snapshot: img });
    await log.erasePerson(ALICE.id);
    assert.equal(await log.get(hers.id), undefined);
    const after = await log.get(his.id);
    assert.equal(after?.snapshot, null, 'the shared drawn frame is gone');
    assert.ok(after?.crop, 'his crop stays');
    assert.ok(!existsSync(path.join(log.images.root, his.id, 'frame.jpg')));
    assert.ok((await log.get(elsewhere.id))?.snapshot, "another camera's frame stays");
    await log.close();
  });

  it('sweeps expired daily lines whatever time zone their file was written in', async () => {
    const log = await EventLog.open({
      file: fresh(),
      timezone: 'Asia/Bangkok',
      dailyFiles: true,
      retainKnownDays: 30,
      retainUnknownDays: 7,
    });
    // 20:00 UTC is the next day in Bangkok, the same day in Los Angeles.
    await log.record(event('2026-05-01T20:00:00.000Z', ALICE));
    await log.record(event('2026-06-20T20:00:00.000Z', null));
    const kept = await log.record(event('2026-06-29T20:00:00.000Z', BOB));
    assert.ok(existsSync(log.dailyFile('2026-05-02')));
    log.configure({
      timezone: 'America/Los_Angeles',
      dailyFiles: true,
      retainKnownDays: 30,
      retainUnknownDays: 7,
    });
    const report = await log.sweep(Date.parse('2026-06-30T12:00:00Z'));
    assert.equal(report.expired, 2);
    assert.ok(!existsSync(log.dailyFile('2026-05-02')), "the Bangkok day's file went");
    assert.ok(!existsSync(log.dailyFile('2026-06-21')));
    assert.ok(readFileSync(log.dailyFile('2026-06-30'), 'utf8').includes(kept.id));
    await log.close();
  });

  it('statistics of cameras and names from outside never reach a prototype', async () => {
    const log = await EventLog.open({ file: fresh(), timezone: 'UTC' });
    const day = '2026-09-01';
    await log.record(event(`${day}T08:00:00.000Z`, { id: 'P1', name: '__proto__' }, '__proto__'));
    await log.record(
      event(`${day}T09:00:00.000Z`, { id: 'constructor', name: 'constructor' }, 'constructor'),
    );
    // An id `__proto__` made the old statistics write `count` onto Object.prototype.
    await log.record(event(`${day}T10:00:00.000Z`, { id: '__proto__', name: 'Mallory' }, 'door'));
    const s = await log.stats(3, new Date(`${day}T12:00:00Z`));
    assert.equal(({} as Record<string, unknown>).count, undefined);
    assert.equal(s.todayByPersonId['__proto__' as string].count, 1);
    assert.equal(Object.getPrototypeOf({}), Object.prototype);
    assert.ok(Object.hasOwn(s.todayByCamera, '__proto__'));
    assert.equal(s.todayByCamera['__proto__' as string], 1);
    assert.equal(s.todayByCamera.constructor, 1);
    assert.equal(s.todayByPersonId['constructor' as string].count, 1);
    const copy = JSON.parse(JSON.stringify(s)) as EventStats;
    assert.equal(copy.todayByPerson['constructor' as string], 1);
    await log.close();
  });

  it('draws boxes and names on the frame: a JPEG of its size; `<` and `&` do not break it', async () => {
    const photo = readFileSync(fixturePath('face_recognition', 'examples', 'two_people.jpg'));
    const meta = await sharp(photo).metadata();
    const box = { x: 20, y: 30, width: 80, height: 90 };
    const out = await drawSnapshot(photo, [
      { box, text: 'Tom <script>&amp; "Jerry"', known: true },
      { box: { x: (meta.width ?? 100) - 50, y: 5, width: 200, height: 200 }, text: 'unknown', known: false },
    ]);
    const m = await sharp(out).metadata();
    assert.equal(m.format, 'jpeg');
    assert.equal(m.width, meta.width);
    assert.equal(m.height, meta.height);
    // The box's green edge is drawn: a pixel on it differs from the photo.
    const px = async (img: Buffer): Promise<number[]> => [
      ...(await sharp(img).extract({ left: 60, top: 30, width: 1, height: 1 }).raw().toBuffer()),
    ];
    const drawn = await px(out);
    assert.ok(
      drawn[1] > drawn[0] + 60 && drawn[1] > drawn[2] + 60,
      `green at the box edge: ${drawn.join(',')}`,
    );
    assert.equal(xmlEscape('a<b&c"d\'e\u0001'), 'a&#60;b&#38;c&#34;d&#39;e');
    // The names are drawn: a label changes the pixels under the box, and the font family exists.
    const plain = await drawSnapshot(photo, [{ box, text: '', known: true }]);
    const named = await drawSnapshot(photo, [{ box, text: 'WWWWWW', known: true }]);
    const under = { left: 20, top: 122, width: 80, height: 20 };
    const a = await sharp(plain).extract(under).raw().toBuffer();
    const b = await sharp(named).extract(under).raw().toBuffer();
    const changed = a.reduce((n, v, i) => n + (Math.abs(v - b[i]) > 40 ? 1 : 0), 0);
    assert.ok(changed > 50, `the label is drawn (${changed} bytes changed)`);
    if (hasTool('fc-list', ['--version'])) {
      const fonts = execFileSync('fc-list', [SNAPSHOT_FONT], { encoding: 'utf8' });
      assert.ok(fonts.trim() !== '', `font ${SNAPSHOT_FONT} installed (fonts-dejavu-core)`);
    }
    const crop = await cropFace(photo, box);
    const c = await sharp(crop).metadata();
    assert.equal(c.format, 'jpeg');
    assert.equal(c.width, 120);
  });
});
