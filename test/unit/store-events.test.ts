/**
 * Events belong to their store, on real NeDB files: each store keeps its events in its own folder,
 * so two stores in one folder never share them; deleting a person erases their events whether a
 * detection log was open or not; an erasure whose events could not be erased stays pending and is
 * finished by the next delete or the next open; an older FaceWatch's shared events file is adopted
 * by the store it belonged to.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { EventLog } from '../../lib/events/log';
import { closeStore, eventLogFile, openStore, storeEvents } from '../../lib/events/store-events';
import type { DetectionEvent } from '../../lib/types/events';
import { filesContaining } from '../helpers/files';
import { loggedEvent } from '../helpers/sample-event';

function event(person: { id: string; name: string } | null, time = new Date().toISOString()): DetectionEvent {
  return loggedEvent(time, person);
}

describe('events belong to their store', () => {
  let dir: string;
  let n = 0;
  const folder = (): string => {
    const d = path.join(dir, `case${++n}`);
    mkdirSync(d);
    return d;
  };
  before(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'fw-store-events-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('two stores in one folder keep their events apart: deleting PERSON_0001 of one spares the other', async () => {
    const d = folder();
    const a = await openStore({ file: path.join(d, 'office.db') });
    const b = await openStore({ file: path.join(d, 'lobby.db') });
    const alice = await a.addPerson({ name: 'Alice Aardvark' });
    const bob = await b.addPerson({ name: 'Bob Bandicoot' });
    assert.equal(alice.id, 'PERSON_0001');
    assert.equal(bob.id, 'PERSON_0001', 'both stores count from 1');
    const la = await storeEvents(a).open();
    const lb = await storeEvents(b).open();
    assert.notEqual(la.file, lb.file);
    assert.equal(la.file, path.join(d, 'office-events', 'events.db'));
    await la.record(event(alice));
    await lb.record(event(bob));
    assert.equal(await a.deletePerson(alice.id), true);
    assert.equal((await la.query()).length, 0, "Alice's event is gone");
    assert.equal((await lb.query()).length, 1, "Bob's event, in the other store, stays");
    assert.deepEqual(filesContaining(d, 'Alice Aardvark'), []);
    await closeStore(a);
    await closeStore(b);
  });

  it('several detection-logs on one store: the strictest settings apply whatever order they start in, and each one overridden is told', async () => {
    const lax = {
      retainKnownDays: 30,
      retainUnknownDays: 30,
      maxDiskMB: 0,
      dailyFiles: true,
      timezone: 'UTC',
    };
    const strict = {
      retainKnownDays: 10,
      retainUnknownDays: 2,
      maxDiskMB: 50,
      dailyFiles: false,
      timezone: 'Asia/Bangkok',
    };
    const expected = { retainKnownDays: 10, retainUnknownDays: 2, maxDiskMB: 50, dailyFiles: false };
    for (const order of [
      [lax, strict],
      [strict, lax],
    ]) {
      const d = folder();
      const store = await openStore({ file: path.join(d, 'faces.db') });
      const events = storeEvents(store);
      const told: Record<string, string[]> = { first: [], second: [] };
      const first = await events.configure('first', order[0], (m) => told.first.push(m));
      const second = await events.configure('second', order[1], (m) => told.second.push(m));
      assert.equal(first.log, second.log, 'one log per store');
      // The strictest of both, and the first node's time zone.
      assert.deepEqual(first.log.settings, { ...expected, timezone: order[0].timezone });
      // Whoever is overridden is told, once, naming what applies; the strict one, not overridden
      // in retention, is told only of the time zone when it came second.
      const laxName = order[0] === lax ? 'first' : 'second';
      assert.equal(told[laxName].length, 1, JSON.stringify(told));
      assert.match(
        told[laxName][0],
        /strictest of their settings \(known faces kept 10 days, unknown 2 days, a 50 MB disk cap, daily files off/,
      );
      assert.equal(second.warning, told.second[0]);
      // An unknown face's event of 5 days ago is past the strict retention: the sweep removes it.
      const old = new Date(Date.now() - 5 * 86400000).toISOString();
      await first.log.record(loggedEvent(old, null));
      await first.log.sweep();
      assert.equal((await first.log.query()).length, 0, 'kept no longer than the strictest node promised');
      // The strict node leaves: the lax settings apply again.
      events.unconfigure(order[0] === strict ? 'first' : 'second');
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(first.log.settings.retainUnknownDays, 30);
      await closeStore(store);
    }
  });

  it('deleting a person erases their events when no detection log had the events open', async () => {
    const d = folder();
    const file = path.join(d, 'faces.db');
    const store = await openStore({ file });
    const p = await store.addPerson({ name: 'Carol Caracal' });
    await closeStore(store);
    // Events recorded earlier (by a detection-log in another run).
    const log = await EventLog.open({ file: eventLogFile(file), dailyFiles: true });
    await log.record(event({ id: p.id, name: p.name }));
    await log.close();
    assert.ok(filesContaining(d, 'Carol Caracal').length >= 2);
    const again = await openStore({ file });
    assert.equal(await again.deletePerson(p.id), true);
    await closeStore(again);
    assert.deepEqual(filesContaining(d, 'Carol Caracal'), [], 'no event, daily line or audit line names her');
  });

  it('an erasure whose events cannot be erased stays pending, and the next open finishes it', async () => {
    const d = folder();
    const file = path.join(d, 'faces.db');
    const store = await openStore({ file });
    const p = await store.addPerson({ name: 'Dave Dingo' });
    const log = await storeEvents(store).open();
    await log.record(event({ id: p.id, name: p.name }));
    await log.close();
    // The events folder made unusable: a file where its datafile's folder must be renamed in.
    const events = path.dirname(eventLogFile(file));
    renameSync(events, `${events}.away`);
    mkdirSync(events);
    mkdirSync(path.join(events, 'events.db'));
    await assert.rejects(store.deletePerson(p.id), /detection log|events\.db|EISDIR|illegal operation/i);
    assert.deepEqual(
      store.pendingErasures().map((e) => e.id),
      [p.id],
      'recorded as pending',
    );
    await closeStore(store).catch(() => undefined);
    rmSync(events, { recursive: true });
    renameSync(`${events}.away`, events);
    const reopened = await openStore({ file });
    assert.deepEqual(reopened.pendingErasures(), [], 'finished at open');
    assert.deepEqual(filesContaining(d, 'Dave Dingo'), []);
    await closeStore(reopened);
  });

  it("forgets a recurring visitor: out of the gallery and the log, nothing of it left in the store's files", async () => {
    const d = mkdtempSync(path.join(os.tmpdir(), 'fw-store-events-'));
    const store = await openStore({ file: path.join(d, 'faces.db') });
    const events = storeEvents(store);
    const book = (await events.visitors())!;
    const log = await events.open();
    const descriptor = Array.from({ length: 128 }, (_, i) => Math.sin(i + 1) / 8);
    const a = (await book.assign({
      frames: [{ descriptor, quality: 0.9 }],
      camera: 'door',
      time: Date.now(),
    }))!;
    const e = { ...loggedEvent(new Date().toISOString(), null), camera: 'door' };
    await log.record({
      ...e,
      known: false,
      person: null,
      visitor: { id: a.visitor.id, visits: 1, firstSeen: e.time, lastSeen: e.time, cameras: ['door'] },
    });
    const needle = Buffer.from(Float32Array.from(descriptor).buffer).toString('base64').slice(0, 24);
    // The store's audit log keeps the fact of the forgetting by design; nothing else may name it.
    const everything = (): string =>
      [...filesContaining(d, a.visitor.id), ...filesContaining(d, needle)]
        .filter((f) => !f.endsWith('.audit.jsonl'))
        .join(', ');
    assert.notEqual(everything(), '');
    assert.equal(await events.forgetVisitor(a.visitor.id), 1);
    assert.equal(everything(), '', 'no file of the store names the visitor or holds its descriptor');
    assert.match(readFileSync(path.join(d, 'faces.audit.jsonl'), 'utf8'), /"action":"visitor-forget"/);
    assert.equal(await events.forgetVisitor(a.visitor.id), null);
    await closeStore(store);
    rmSync(d, { recursive: true, force: true });
  });

  it("adopts an older FaceWatch's shared events file when the folder holds one store", async () => {
    const d = folder();
    const file = path.join(d, 'faces.db');
    const store = await openStore({ file });
    const p = await store.addPerson({ name: 'Erin Eel' });
    await closeStore(store);
    const legacy = await EventLog.open({
      file: path.join(d, 'events.db'),
      dailyFiles: true,
      timezone: 'UTC',
    });
    const e = await legacy.record(event({ id: p.id, name: p.name }, '2026-07-01T10:00:00.000Z'));
    await legacy.close();
    const again = await openStore({ file });
    const log = await storeEvents(again).existing();
    assert.ok(log, 'the adopted log opens');
    assert.equal((await log.get(e.id))?.person?.name, 'Erin Eel');
    assert.ok(!existsSync(path.join(d, 'events.db')), 'moved');
    assert.ok(readdirSync(path.dirname(log.file)).includes('detections_2026-07-01.jsonl'));
    await closeStore(again);
  });

  it('leaves a shared events file of several stores where it is, and says so', async () => {
    const d = folder();
    const a = await openStore({ file: path.join(d, 'a.db') });
    await a.addPerson({ name: 'Fay Ferret' });
    const b = await openStore({ file: path.join(d, 'b.db') });
    await b.addPerson({ name: 'Gus Gecko' });
    const legacy = await EventLog.open({ file: path.join(d, 'events.db') });
    await legacy.close();
    const events = storeEvents(a);
    await events.open();
    assert.match(events.takeWarning() ?? '', /several face stores/);
    assert.ok(existsSync(path.join(d, 'events.db')), 'left where it is');
    await closeStore(a);
    await closeStore(b);
  });
});
