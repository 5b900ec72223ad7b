/**
 * What the Face Library's Visitors view does to a store, on real NeDB files (lib/events/store-events.ts):
 * merging two visitors (events relabelled, visits counted again over both, the merged one gone from
 * the gallery and its file), splitting sightings off (a new visitor with their samples), the
 * pictures Enrol as enrols (best samples first), a visitor enrolled as a person (its events the
 * person's, no visitor label or descriptor left), forgetting; each audited, and each visitor that
 * leaves a gallery announced to face-mqtt (onVisitorGone).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import type { EventLog } from '../../lib/events/log';
import { closeStore, onVisitorGone, openStore, storeEvents } from '../../lib/events/store-events';

import { eventVisitor, type VisitorRegistry } from '../../lib/events/visitors';
import type { FaceStore } from '../../lib/store/face-store';
import type { DetectionEvent } from '../../lib/types/events';
import { filesContaining } from '../helpers/files';
import { loggedEvent } from '../helpers/sample-event';
import { unitVector } from '../helpers/store-fixtures';

const T0 = Date.parse('2026-12-01T09:00:00Z');
const HOUR = 3_600_000;

describe('the Visitors view’s changes to a store', () => {
  let dir: string;
  let store: FaceStore;
  let log: EventLog;
  let book: VisitorRegistry;
  const gone: string[] = [];
  let stop: () => void;
  let crop: Buffer;

  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'fw-visitor-admin-'));
    store = await openStore({ file: path.join(dir, 'faces.db'), actor: 'test' });
    const events = storeEvents(store);
    book = (await events.visitors())!;
    log = (await events.open()) as EventLog;
    stop = onVisitorGone((s, id) => {
      if (s === store) gone.push(id);
    });
    crop = await sharp({ create: { width: 32, height: 32, channels: 3, background: '#a08070' } })
      .jpeg()
      .toBuffer();
  });
  after(async () => {
    stop();
    await closeStore(store);
    rmSync(dir, { recursive: true, force: true });
  });

  /** One visit of the face `seed` at `time`: its visitor assigned and its event recorded, with a crop. */
  async function visit(seed: number, time: number, quality = 0.5, camera = 'door'): Promise<DetectionEvent> {
    const iso = new Date(time).toISOString();
    const e0 = { ...loggedEvent(iso, null, { trackId: `t${time}` }), camera, known: false, person: null };
    const a = (await book.assign({
      frames: [{ descriptor: unitVector(seed), quality }],
      camera,
      time,
      event: e0.id,
    }))!;
    return log.record({ ...e0, visitor: eventVisitor(a.visitor) }, { crop });
  }

  const audit = (): Array<{ action: string; actor: string; details?: Record<string, unknown> }> =>
    readFileSync(path.join(dir, 'faces.audit.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { action: string; actor: string; details?: Record<string, unknown> });

  it('merges a visitor into another: its events carry the id, the visits are counted again, it is gone', async () => {
    const a1 = await visit(1, T0);
    const b1 = await visit(2, T0 + 2 * HOUR);
    const a2 = await visit(1, T0 + 4 * HOUR);
    assert.equal(a1.visitor?.id, 'VISITOR_0001');
    assert.equal(b1.visitor?.id, 'VISITOR_0002');
    assert.equal(a2.visitor?.id, 'VISITOR_0001');
    const events = storeEvents(store);
    await assert.rejects(events.mergeVisitors('VISITOR_0001', 'VISITOR_0001'), RangeError);
    assert.equal(await events.mergeVisitors('VISITOR_0001', 'VISITOR_0999'), null);
    const v = (await events.mergeVisitors('VISITOR_0001', 'VISITOR_0002', 'facewatch-library:ann'))!;
    assert.equal(v.id, 'VISITOR_0001');
    assert.equal(v.visits, 3, 'three sightings two hours apart are three visits');
    assert.equal(v.samples.length, 3, 'the samples of both visitors pooled');
    assert.equal(book.gallery.get('VISITOR_0002'), undefined);
    assert.deepEqual(
      (await log.query({ visitor: 'VISITOR_0001' })).map((e) => e.id).sort(),
      [a1.id, b1.id, a2.id].sort(),
    );
    assert.equal((await log.query({ visitor: 'VISITOR_0002' })).length, 0);
    assert.deepEqual(gone, ['VISITOR_0002']);
    // Nothing in the store's files still says VISITOR_0002, but the audit line of the merge.
    assert.deepEqual(
      filesContaining(dir, 'VISITOR_0002').map((f) => path.basename(f)),
      ['faces.audit.jsonl'],
    );
    const line = audit().at(-1)!;
    assert.equal(line.action, 'visitor-merge');
    assert.equal(line.actor, 'facewatch-library:ann');
    assert.deepEqual(line.details, { visitor: 'VISITOR_0001', merged: 'VISITOR_0002', events: 1 });
    // Both faces now find the merged visitor.
    assert.equal((await visit(2, T0 + 6 * HOUR)).visitor?.id, 'VISITOR_0001');
  });

  it('splits sightings off into a new visitor with their samples; an event of another visitor is refused', async () => {
    const events = storeEvents(store);
    const all = await log.query({ visitor: 'VISITOR_0001' });
    const face2 = all.filter(
      (e) => e.time !== new Date(T0).toISOString() && e.time !== new Date(T0 + 4 * HOUR).toISOString(),
    );
    assert.equal(face2.length, 2);
    const other = await visit(50, T0 + 7 * HOUR);
    await assert.rejects(
      events.splitVisitor('VISITOR_0001', [other.id]),
      /not a sighting of visitor VISITOR_0001/,
    );
    await assert.rejects(
      events.splitVisitor(
        'VISITOR_0001',
        all.map((e) => e.id),
      ),
      RangeError,
    );
    const out = (await events.splitVisitor(
      'VISITOR_0001',
      face2.map((e) => e.id),
      'facewatch-library:ann',
    ))!;
    assert.equal(out.from.id, 'VISITOR_0001');
    assert.equal(out.to.id, 'VISITOR_0004');
    assert.equal(out.from.visits, 2);
    assert.equal(out.to.visits, 2);
    assert.equal(out.to.samples.length, 2, 'the moved sightings’ samples went with them');
    assert.equal(out.from.samples.length, 2);
    assert.deepEqual(
      (await log.query({ visitor: 'VISITOR_0004' })).map((e) => e.id).sort(),
      face2.map((e) => e.id).sort(),
    );
    assert.equal(audit().at(-1)!.action, 'visitor-split');
    // The split-off face comes back as its new visitor.
    assert.equal((await visit(2, T0 + 9 * HOUR)).visitor?.id, 'VISITOR_0004');
  });

  it('gives the best pictures to enrol, then makes the visitor’s events the person’s and forgets the visitor', async () => {
    const events = storeEvents(store);
    const pictures = (await events.visitorPictures('VISITOR_0004', 2))!;
    assert.equal(pictures.length, 2);
    assert.ok(pictures.every((p) => p.image.equals(crop)));
    const own = await log.query({ visitor: 'VISITOR_0004' });
    assert.ok(pictures.every((p) => own.some((e) => e.id === p.event)));
    assert.equal(await events.visitorPictures('VISITOR_0999', 2), null);

    const n = await events.visitorEnrolled(
      'VISITOR_0004',
      { id: 'bob', name: 'Bob' },
      'facewatch-library:ann',
    );
    assert.equal(n, own.length);
    const theirs = await log.query({ person: 'bob' });
    assert.equal(theirs.length, own.length);
    for (const e of theirs) {
      assert.equal(e.known, true);
      assert.deepEqual(e.person, { id: 'bob', name: 'Bob' });
      assert.equal(e.visitor, undefined);
      assert.deepEqual(
        e.faces?.map((f) => f.person),
        [{ id: 'bob', name: 'Bob' }],
        'their face in the frame is named',
      );
    }
    assert.equal(book.gallery.get('VISITOR_0004'), undefined);
    assert.equal(gone.at(-1), 'VISITOR_0004');
    assert.deepEqual(audit().at(-1)!.details, { visitor: 'VISITOR_0004', person: 'bob', events: own.length });
    assert.deepEqual(
      filesContaining(dir, 'VISITOR_0004').map((f) => path.basename(f)),
      ['faces.audit.jsonl'],
      'the visitor’s label is gone from the events, the daily files and the gallery',
    );
  });

  it('forgets a visitor, audited and announced', async () => {
    const events = storeEvents(store);
    const id = (await log.query({ visitor: 'VISITOR_0003' }))[0]?.visitor?.id;
    assert.equal(id, 'VISITOR_0003');
    assert.equal(await events.forgetVisitor('VISITOR_0003', 'facewatch-library:ann'), 1);
    assert.equal(gone.at(-1), 'VISITOR_0003');
    const line = audit().at(-1)!;
    assert.equal(line.action, 'visitor-forget');
    assert.deepEqual(line.details, { visitor: 'VISITOR_0003', events: 1 });
    assert.equal(await events.forgetVisitor('VISITOR_0003'), null);
  });

  it('links two visitors that were one person when a sighting falls under the threshold of both', async () => {
    const a = unitVector(70);
    const n = unitVector(71);
    // Two sightings 0.6 apart (two visitors), then one 0.3 from each: one person seen apart.
    const at = (k: number): number[] => Array.from(a, (x, i) => x + k * n[i]);
    const sighting = async (descriptor: number[], time: number): Promise<DetectionEvent> => {
      const iso = new Date(time).toISOString();
      const e0 = { ...loggedEvent(iso, null, { trackId: `l${time}` }), known: false, person: null };
      const made = (await book.assign({
        frames: [{ descriptor, quality: 0.5 }],
        camera: 'door',
        time,
        event: e0.id,
      }))!;
      return log.record({ ...e0, visitor: eventVisitor(made.visitor) }, { crop });
    };
    const first = await sighting(at(0), T0 + 20 * HOUR);
    const second = await sighting(at(0.6), T0 + 22 * HOUR);
    assert.notEqual(first.visitor!.id, second.visitor!.id, 'too far apart for each other');
    const third = await sighting(at(0.3), T0 + 24 * HOUR);
    const into = third.visitor!.id;
    const merged = [first.visitor!.id, second.visitor!.id].find((id) => id !== into)!;
    assert.ok([first.visitor!.id, second.visitor!.id].includes(into));
    assert.equal(book.gallery.get(merged), undefined, 'one visitor now');
    assert.equal(book.gallery.get(into)?.samples.length, 3);
    assert.equal(book.gallery.get(into)?.visits, 3);
    assert.deepEqual(
      (await log.visitorEvents(into)).map((e) => e.id),
      [first.id, second.id, third.id],
      'the merged visitor’s events carry the id',
    );
    assert.equal(gone.at(-1), merged, 'its retained topics are cleared');
    const line = audit().at(-1)!;
    assert.equal(line.action, 'visitor-merge');
    assert.equal(line.actor, 'facewatch');
    assert.deepEqual(line.details, { visitor: into, merged, events: 1, linked: true });
  });

  it('writes no event of a visitor forgotten while it was on its way, and relabels one merged or enrolled meanwhile', async () => {
    const events = storeEvents(store);
    const follow = (e: DetectionEvent): DetectionEvent | null => events.follow(e);
    /** An event given its visitor (by a real assignment) and not written yet: on its way. */
    const onItsWay = async (seed: number, time: number): Promise<DetectionEvent> => {
      const iso = new Date(time).toISOString();
      const e0 = { ...loggedEvent(iso, null, { trackId: `w${time}` }), known: false, person: null };
      const made = (await book.assign({
        frames: [{ descriptor: unitVector(seed), quality: 0.5 }],
        camera: 'door',
        time,
        event: e0.id,
      }))!;
      return { ...e0, visitor: eventVisitor(made.visitor) };
    };
    const write = (e: DetectionEvent): Promise<DetectionEvent | null> =>
      log.record(e, { crop }, () => true, follow);
    /**
     * Runs `change` with events written at each point of it: before its erasure or relabelling
     * runs, right after it (before the gallery's change: the interleaving that left a trace), and
     * after it. Resolves to what each write did.
     */
    const around = async (
      on: DetectionEvent[],
      change: () => Promise<unknown>,
    ): Promise<Array<DetectionEvent | null>> => {
      const original = { erase: log.eraseVisitor.bind(log), relabel: log.relabelVisitor.bind(log) };
      let during: Promise<DetectionEvent | null> | undefined;
      const thenWrite = async <T>(run: () => Promise<T>): Promise<T> => {
        const out = await run();
        during ??= write(on[1]);
        await during;
        return out;
      };
      log.eraseVisitor = (id) => thenWrite(() => original.erase(id));
      log.relabelVisitor = (id, fn, only) => thenWrite(() => original.relabel(id, fn, only));
      try {
        const changing = change();
        const before = write(on[0]);
        await changing;
        return [await before, await during!, await write(on[2])];
      } finally {
        // The log's own methods again (the wrappers were set on the object, over its class's).
        Reflect.deleteProperty(log, 'eraseVisitor');
        Reflect.deleteProperty(log, 'relabelVisitor');
      }
    };

    // Forgotten: none of its events is written, and no file but the audit log names it.
    const seen = await log.record(await onItsWay(90, T0 + 30 * HOUR), { crop });
    const x = seen.visitor!.id;
    const xs = [
      await onItsWay(90, T0 + 31 * HOUR),
      await onItsWay(90, T0 + 32 * HOUR),
      await onItsWay(90, T0 + 33 * HOUR),
    ];
    assert.ok(xs.every((e) => e.visitor?.id === x));
    const forgot = await around(xs, () => events.forgetVisitor(x));
    assert.deepEqual(forgot.slice(1), [null, null], 'written after it was forgotten: not written');
    assert.deepEqual(
      filesContaining(dir, x).map((f) => path.basename(f)),
      ['faces.audit.jsonl'],
      'no event, picture, daily line or sample of the forgotten visitor is left',
    );
    assert.equal((await log.query({ visitor: x })).length, 0);

    // Merged into another: written with the other's id.
    const into = (await log.record(await onItsWay(91, T0 + 34 * HOUR), { crop })).visitor!.id;
    const from = (await log.record(await onItsWay(92, T0 + 35 * HOUR), { crop })).visitor!.id;
    const fs = [
      await onItsWay(92, T0 + 36 * HOUR),
      await onItsWay(92, T0 + 37 * HOUR),
      await onItsWay(92, T0 + 38 * HOUR),
    ];
    const merged = await around(fs, () => events.mergeVisitors(into, from));
    for (const e of merged.slice(1)) assert.equal(e?.visitor?.id, into);
    assert.equal((await log.query({ visitor: from })).length, 0);
    assert.equal((await log.query({ visitor: into })).length, 5);
    assert.deepEqual(
      filesContaining(dir, from).map((f) => path.basename(f)),
      ['faces.audit.jsonl'],
    );

    // Enrolled as a person: written as theirs, with no visitor label.
    const zs = [
      await onItsWay(91, T0 + 39 * HOUR),
      await onItsWay(91, T0 + 40 * HOUR),
      await onItsWay(91, T0 + 41 * HOUR),
    ];
    assert.ok(zs.every((e) => e.visitor?.id === into));
    const enrolled = await around(zs, () => events.visitorEnrolled(into, { id: 'cy', name: 'Cy' }));
    for (const e of enrolled.slice(1)) {
      assert.deepEqual(e?.person, { id: 'cy', name: 'Cy' });
      assert.equal(e?.known, true);
      assert.equal(e?.visitor, undefined);
    }
    assert.equal((await log.query({ person: 'cy' })).length, 8);
    assert.deepEqual(
      filesContaining(dir, into).map((f) => path.basename(f)),
      ['faces.audit.jsonl'],
    );
  });
});
