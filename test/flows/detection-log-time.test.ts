/**
 * detection-log and the time a message brings: a `msg.frame.ts` in seconds, a year ahead, a year
 * behind or not a number would sort as the oldest (or newest) event and escape retention, so it is
 * replaced by the time of arrival, with one warning for the node; a time within a day of the clock
 * is kept exactly. In a real Node-RED, with a real face store and event log.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import type { DetectionEvent } from '../../lib/types/events';
import { builtNode, helper, nextMessage, startServer, stopServer } from '../helpers/red';

const nodes = ['face-store', 'detection-log'].map(builtNode);
const DAY = 86400000;

/** One unknown face, as face-match sends it (no picture: the log keeps the event only). */
const faces = (): object[] => [
  {
    box: { x: 10, y: 10, width: 80, height: 80 },
    quality: { faceSize: 80, sharpness: 40, yaw: 0 },
    match: { known: false, person: null, distance: null, confidence: 0, ambiguous: false },
  },
];

describe('detection-log and the time of a frame', () => {
  let dir: string;
  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'fw-flow-time-'));
    await startServer();
  });
  after(async () => {
    await stopServer();
    rmSync(dir, { recursive: true, force: true });
  });
  afterEach(() => helper.unload());

  it('replaces a time in seconds or a year away by the time of arrival, warns once, and keeps a good time exactly', async () => {
    await helper.load(nodes, [
      { id: 'st', type: 'face-store', file: path.join(dir, 'facewatch', 'faces.db'), backups: 0 },
      { id: 'log', type: 'detection-log', store: 'st', cooldown: 3, snapshots: false, wires: [['out']] },
      { id: 'out', type: 'helper' },
    ]);
    const log = helper.getNode('log');
    const out = helper.getNode('out');
    const warnings: string[] = [];
    log.on('call:warn', (c: { args: unknown[] }) => warnings.push(String(c.args[0])));

    // Each on its own camera: a new track, so each message makes one event.
    const send = async (
      camera: string,
      ts: unknown,
    ): Promise<{ event: DetectionEvent; from: number; to: number }> => {
      const next = nextMessage<{ event: DetectionEvent }>(out, 30000);
      const from = Date.now();
      log.receive({ faces: faces(), frame: { camera, seq: 1, ts, width: 640, height: 480 } });
      const { event } = await next;
      return { event, from, to: Date.now() };
    };
    const arrived = ({ event, from, to }: { event: DetectionEvent; from: number; to: number }): void => {
      const t = Date.parse(event.time);
      assert.ok(t >= from - 5 && t <= to + 5, `${event.camera}: ${event.time} is the time of arrival`);
    };

    arrived(await send('seconds', Math.floor(Date.now() / 1000)));
    arrived(await send('year-ahead', Date.now() + 365 * DAY));
    arrived(await send('year-behind', Date.now() - 365 * DAY));
    arrived(await send('text', 'yesterday'));
    arrived(await send('infinite', Infinity));
    const about = warnings.filter((w) => /msg\.frame\.ts/.test(w));
    assert.equal(about.length, 1, warnings.join('\n'));
    assert.match(about[0], /more than a day|not a time/);
    assert.match(about[0], /time of arrival/);

    // Within a day of the clock, behind or ahead, the frame's own time is kept to the millisecond.
    const hourAgo = Date.now() - 3600000 + 123;
    assert.equal((await send('hour-ago', hourAgo)).event.time, new Date(hourAgo).toISOString());
    const soon = Date.now() + 20 * 3600000;
    assert.equal((await send('clock-ahead', soon)).event.time, new Date(soon).toISOString());
    assert.equal(warnings.filter((w) => /msg\.frame\.ts/.test(w)).length, 1);

    // The replaced times went into the log as times of arrival: the newest events are those.
    const answer = nextMessage<{ payload: DetectionEvent[] }>(out);
    log.receive({ topic: 'query', payload: { camera: 'year-ahead' } });
    const [stored] = (await answer).payload;
    assert.ok(Math.abs(Date.parse(stored.time) - Date.now()) < 60000, stored.time);
  });
});
