/**
 * Recurring visitors through the detection log's recorder, with a real log and a real visitor
 * gallery on disk: an unknown track's event waits for its best frames and carries its visitor, the
 * same stranger coming back gets the same id (also after a restart), a track named meanwhile makes
 * its named event only, a track that ends early is recorded when it ends, queries and statistics
 * know visitors, and a forgotten visitor leaves none of its descriptor's bytes on disk.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { EventLog } from '../../lib/events/log';
import { EventRecorder, type RecordFace } from '../../lib/events/recorder';
import { VisitorBook } from '../../lib/events/visitor-book';
import { unitVector } from '../helpers/store-fixtures';

const T0 = Date.parse('2026-12-01T09:00:00Z');

/** Near `base` (noise of about `d`), as face-api's descriptors of one face differ between frames. */
function near(base: Float32Array, d: number, seed: number): number[] {
  const n = unitVector(seed);
  return Array.from(base, (x, i) => x + n[i] * d);
}

function face(
  descriptor: number[],
  opts: { x?: number; size?: number; sharp?: number; person?: string } = {},
): RecordFace {
  const size = opts.size ?? 120;
  return {
    box: { x: opts.x ?? 100, y: 80, width: size, height: size },
    score: 0.95,
    quality: { faceSize: size, sharpness: opts.sharp ?? 100, yaw: 0 },
    descriptor,
    match: opts.person
      ? {
          known: true,
          person: { id: opts.person, name: 'Ann', metadata: {} },
          distance: 0.3,
          confidence: 0.8,
        }
      : { known: false, person: null, distance: 0.9, confidence: 0 },
  } as RecordFace;
}

describe('recurring visitors in the detection log', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'fw-events-visitors-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  async function open(name: string): Promise<{ log: EventLog; book: VisitorBook; recorder: EventRecorder }> {
    const log = await EventLog.open({ file: path.join(dir, name, 'events.db'), timezone: 'UTC' });
    const book = await VisitorBook.open(path.join(dir, name, 'visitors.db'));
    const recorder = new EventRecorder(log, {
      cooldown: 3,
      snapshots: false,
      visitors: book,
      visitWaitMs: 50,
    });
    return { log, book, recorder };
  }

  it("waits for an unknown track's best frames, and gives a returning stranger the same id", async () => {
    const { log, book, recorder } = await open('a');
    const bob = unitVector(101);
    // First frame: small and blurred; the event waits.
    assert.deepEqual(
      await recorder.frame({
        camera: 'door',
        ts: T0,
        faces: [face(near(bob, 0.05, 1), { size: 50, sharp: 5 })],
      }),
      [],
    );
    assert.equal(recorder.waitingTracks, 1);
    assert.deepEqual(
      await recorder.frame({ camera: 'door', ts: T0 + 500, faces: [face(near(bob, 0.05, 2), { x: 104 })] }),
      [],
    );
    const third = await recorder.frame({
      camera: 'door',
      ts: T0 + 1000,
      faces: [face(near(bob, 0.05, 3), { x: 108, size: 110 })],
    });
    assert.equal(third.length, 1);
    const e = third[0].event;
    assert.equal(e.known, false);
    assert.equal(e.reason, 'track-start');
    assert.equal(e.visitor?.id, 'VISITOR_0001');
    assert.equal(e.visitor?.visits, 1);
    assert.deepEqual(e.visitor?.cameras, ['door']);
    // The event shows the best frame: the second one (120 px, sharp), not the first.
    assert.equal(e.box.x, 104);
    assert.equal(e.time, new Date(T0 + 500).toISOString());
    assert.equal(recorder.waitingTracks, 0);
    // Later frames of the same track make nothing.
    assert.deepEqual(
      await recorder.frame({ camera: 'door', ts: T0 + 1500, faces: [face(near(bob, 0.05, 4), { x: 110 })] }),
      [],
    );

    // An hour later on another camera: the same visitor, a second visit.
    const later = T0 + 3_600_000;
    for (let i = 0; i < 2; i++)
      assert.deepEqual(
        await recorder.frame({ camera: 'hall', ts: later + i * 500, faces: [face(near(bob, 0.05, 10 + i))] }),
        [],
      );
    const back = await recorder.frame({
      camera: 'hall',
      ts: later + 1000,
      faces: [face(near(bob, 0.05, 12))],
    });
    assert.equal(back[0].event.visitor?.id, 'VISITOR_0001');
    assert.equal(back[0].event.visitor?.visits, 2);
    assert.deepEqual(back[0].event.visitor?.cameras, ['door', 'hall']);

    // Someone else: a new visitor.
    const eve = unitVector(202);
    for (let i = 0; i < 2; i++)
      await recorder.frame({
        camera: 'hall',
        ts: later + 10_000 + i * 500,
        faces: [face(near(eve, 0.05, 20 + i))],
      });
    const other = await recorder.frame({
      camera: 'hall',
      ts: later + 11_000,
      faces: [face(near(eve, 0.05, 22))],
    });
    assert.equal(other[0].event.visitor?.id, 'VISITOR_0002');

    // Queries and statistics know visitors.
    const mine = await log.query({ visitor: 'VISITOR_0001' });
    assert.deepEqual(
      mine.map((x) => x.camera),
      ['hall', 'door'],
    );
    const stats = await log.stats(0, later + 20_000);
    assert.equal(stats.visitorsToday, 2);
    assert.deepEqual(stats.todayVisitorsByCamera, { door: 1, hall: 2 });
    assert.equal(stats.todayVisitorsByHour[9], 1);
    assert.equal(stats.todayVisitorsByHour[10], 2);
    await log.close();
    await book.close();

    // After a restart the gallery is back: Bob is still VISITOR_0001, and new ids carry on.
    const again = await open('a');
    for (let i = 0; i < 2; i++)
      await again.recorder.frame({
        camera: 'door',
        ts: later + 7_200_000 + i * 500,
        faces: [face(near(bob, 0.05, 30 + i))],
      });
    const r = await again.recorder.frame({
      camera: 'door',
      ts: later + 7_201_000,
      faces: [face(near(bob, 0.05, 32))],
    });
    assert.equal(r[0].event.visitor?.id, 'VISITOR_0001');
    assert.equal(r[0].event.visitor?.visits, 3);
    assert.equal(again.book.gallery.next, 3);

    // Forgotten: none of its descriptors' bytes stay in the gallery's file.
    const needle = Buffer.from(
      Float32Array.from(again.book.gallery.get('VISITOR_0001')!.samples[0].descriptor).buffer,
    )
      .toString('base64')
      .slice(0, 24);
    assert.ok(readFileSync(again.book.file, 'utf8').includes(needle));
    await again.book.forget('VISITOR_0001');
    assert.ok(!readFileSync(again.book.file, 'utf8').includes(needle));
    assert.ok(!readFileSync(again.book.file, 'utf8').includes('VISITOR_0001'));
    assert.equal(again.book.gallery.get('VISITOR_0002')?.id, 'VISITOR_0002');
    await again.log.close();
    await again.book.close();
  });

  it('makes only the named event of a track named before its visitor was decided', async () => {
    const { log, book, recorder } = await open('b');
    const ann = unitVector(303);
    assert.deepEqual(await recorder.frame({ camera: 'door', ts: T0, faces: [face(near(ann, 0.05, 1))] }), []);
    const named = await recorder.frame({
      camera: 'door',
      ts: T0 + 500,
      faces: [face(near(ann, 0.05, 2), { person: 'P1' })],
    });
    // One of two frames named: not yet a majority, still waiting.
    assert.deepEqual(named, []);
    const third = await recorder.frame({
      camera: 'door',
      ts: T0 + 1000,
      faces: [face(near(ann, 0.05, 3), { person: 'P1' })],
    });
    assert.equal(third.length, 1);
    assert.equal(third[0].event.reason, 'named');
    assert.equal(third[0].event.person?.id, 'P1');
    assert.equal(third[0].event.visitor, undefined);
    assert.equal(recorder.waitingTracks, 0);
    assert.equal(book.gallery.size, 0);
    assert.equal((await log.query({})).length, 1);
    await log.close();
    await book.close();
  });

  it('records a track that ends before its best frames came, when it ends', async () => {
    const { log, book, recorder } = await open('c');
    const cy = unitVector(404);
    assert.deepEqual(await recorder.frame({ camera: 'door', ts: T0, faces: [face(near(cy, 0.05, 1))] }), []);
    assert.deepEqual(await recorder.flush(), []);
    await new Promise((r) => setTimeout(r, 80));
    const out = await recorder.flush();
    assert.equal(out.length, 1);
    assert.equal(out[0].event.visitor?.id, 'VISITOR_0001');
    assert.equal(out[0].event.frames, 1);
    assert.deepEqual(await recorder.flush(), []);
    await log.close();
    await book.close();
  });

  it("erases a forgotten visitor's events, daily lines and index entries, and no one else's", async () => {
    const log = await EventLog.open({
      file: path.join(dir, 'e', 'events.db'),
      timezone: 'UTC',
      dailyFiles: true,
    });
    const book = await VisitorBook.open(path.join(dir, 'e', 'visitors.db'));
    const recorder = new EventRecorder(log, { cooldown: 3, snapshots: false, visitors: book });
    const visit = async (who: Float32Array, ts: number): Promise<string | undefined> => {
      for (let i = 0; i < 2; i++)
        await recorder.frame({ camera: 'door', ts: ts + i * 500, faces: [face(near(who, 0.05, ts + i))] });
      const [r] = await recorder.frame({
        camera: 'door',
        ts: ts + 1000,
        faces: [face(near(who, 0.05, ts + 2))],
      });
      return r?.event.visitor?.id;
    };
    const bob = unitVector(606);
    const eve = unitVector(707);
    assert.equal(await visit(bob, T0), 'VISITOR_0001');
    assert.equal(await visit(eve, T0 + 60_000), 'VISITOR_0002');
    assert.equal(await visit(bob, T0 + 3_600_000), 'VISITOR_0001');
    const files = (): string =>
      [log.file, ...readdirSync(path.dirname(log.file)).filter((n) => n.endsWith('.jsonl'))]
        .map((f) => readFileSync(path.resolve(path.dirname(log.file), f), 'utf8'))
        .join('\n');
    assert.ok(files().includes('VISITOR_0001'));
    assert.equal(await log.eraseVisitor('VISITOR_0001'), 2);
    assert.deepEqual(await log.query({ visitor: 'VISITOR_0001' }), []);
    assert.equal((await log.query({ visitor: 'VISITOR_0002' })).length, 1);
    assert.ok(!files().includes('VISITOR_0001'), 'nothing of the visitor in the datafile or the daily files');
    assert.ok(files().includes('VISITOR_0002'));
    assert.equal(await log.eraseVisitor('VISITOR_0001'), 0);
    await log.close();
    await book.close();
  });

  it('records at the first frame, with no visitor and no descriptor kept, when visitor tracking is off', async () => {
    const log = await EventLog.open({ file: path.join(dir, 'd', 'events.db'), timezone: 'UTC' });
    const recorder = new EventRecorder(log, { cooldown: 3, snapshots: false });
    const out = await recorder.frame({
      camera: 'door',
      ts: T0,
      faces: [face(near(unitVector(505), 0.05, 1))],
    });
    assert.equal(out.length, 1);
    assert.equal(out[0].event.visitor, undefined);
    assert.equal(recorder.waitingTracks, 0);
    await log.close();
  });

  it('compacts the gallery file as assignments append to it: it stays near its compacted size', async () => {
    const file = path.join(dir, 'g', 'visitors.db');
    const book = await VisitorBook.open(file);
    const lines = (): number => readFileSync(file, 'utf8').split('\n').filter(Boolean).length;
    // Ten strangers, each seen 100 times: 1000 assignments of ten visitors.
    for (let i = 0; i < 1000; i++) {
      const who = unitVector(800 + (i % 10));
      await book.assign({
        frames: [{ descriptor: near(who, 0.02, i), quality: 0.5 }],
        camera: 'door',
        time: T0 + i * 1000,
      });
    }
    assert.equal(book.gallery.size, 10);
    // At most the compaction threshold's lines since the last compaction, and the ten and the meta.
    assert.ok(lines() <= 500 + 11, `${lines()} lines for 10 visitors`);
    await book.compact();
    assert.equal(lines(), 11, 'ten visitors and the next number');
    await book.close();
  });
});
