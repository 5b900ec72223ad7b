/**
 * The naming rule on the labelled photos: the first photo of each identity of the three sets is
 * enrolled in one store, and every photo goes through the engine, the store's matching and the
 * detection log's recorder as a photo (a one-frame track): every other photo is a probe, and no
 * event may name anyone but the person in it, among the 19 people of the three sets. On the
 * shipped fixtures always, and on the full shared sets when they are there.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { EventLog } from '../../lib/events/log';
import { EventRecorder } from '../../lib/events/recorder';
import { acceptFace, resolveEnrolOptions } from '../../lib/store/enrol';
import { FaceStore } from '../../lib/store/face-store';
import { resolveMatchOptions } from '../../lib/store/match';
import { FaceEngine } from '../../lib/vision/engine';
import { SETS, fullDataSkip, labelledPhotos, type LabelledPhoto } from '../helpers/env';

describe('the naming rule on the labelled photos', () => {
  let dir: string;
  let engine: FaceEngine;
  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'fw-events-photos-'));
    engine = await FaceEngine.create({ poolSize: 2 });
  });
  after(async () => {
    await engine?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function check(full: boolean): Promise<string> {
    const photos: LabelledPhoto[] = SETS.flatMap((set) => labelledPhotos(set, { full }));
    const relaxed = resolveEnrolOptions({ faces: 'largest', minFaceSize: 0, minSharpness: 0, maxYaw: 90 });
    const faces = await Promise.all(
      photos.map((p) => acceptFace(engine, readFileSync(p.path), relaxed, p.rel).catch(() => null)),
    );
    const tag = full ? 'full' : 'fixtures';
    const store = await FaceStore.open({ file: path.join(dir, `${tag}.db`), backups: 0 });
    const log = await EventLog.open({ file: path.join(dir, `${tag}-events.db`), timezone: 'UTC' });
    const recorder = new EventRecorder(log, { cooldown: 3, snapshots: false });
    // Every identity's first photo is enrolled; the rest are probes.
    const idOf = new Map<string, string>();
    const probes: Array<[LabelledPhoto, NonNullable<(typeof faces)[number]>]> = [];
    for (const [i, p] of photos.entries()) {
      const f = faces[i];
      if (!f) continue;
      const key = `${p.set}:${p.identity}`;
      if (idOf.has(key)) {
        probes.push([p, f]);
        continue;
      }
      const person = await store.addPerson(
        { name: key },
        { descriptor: f.face.descriptor, modelId: f.face.modelId },
      );
      idOf.set(key, person.id);
    }
    let named = 0;
    let ts = Date.parse('2026-01-01T00:00:00Z');
    for (const [p, f] of probes) {
      const match = await store.matchAsync(f.face.descriptor, f.face.modelId, resolveMatchOptions());
      const [r] = await recorder.frame({
        ts: (ts += 1000),
        faces: [
          {
            box: f.face.box,
            score: f.face.score,
            quality: f.face.quality,
            descriptor: f.face.descriptor,
            match,
          },
        ],
      });
      assert.ok(r, `${p.rel}: a photo is its own track and makes an event`);
      // The detector's confidence travels with the event (the Face Library shows it for unknown faces).
      assert.ok(
        typeof r.event.score === 'number' && r.event.score > 0 && r.event.score <= 1,
        `${p.rel}: score ${r.event.score}`,
      );
      assert.equal(r.event.score, Math.round(f.face.score * 1000) / 1000);
      if (!r.event.person) continue;
      named++;
      assert.equal(
        r.event.person.id,
        idOf.get(`${p.set}:${p.identity}`),
        `${p.set}/${p.rel} named ${r.event.person.name}`,
      );
    }
    await log.close();
    await store.close();
    return `${tag}: ${probes.length} probes of ${idOf.size} people, ${named} named, all rightly`;
  }

  it('names nobody wrongly on the shipped fixtures', async (t) => {
    t.diagnostic(await check(false));
  });

  it('names nobody wrongly on the full shared sets', fullDataSkip(), async (t) => {
    t.diagnostic(await check(true));
  });
});
