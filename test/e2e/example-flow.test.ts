import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { faceApiSample, ROOT } from '../helpers/env';
import { startNodeRed, waitForLog, type RunningNodeRed } from '../helpers/nodered';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const WebSocket = require('ws') as typeof import('ws');

interface DebugMsg {
  id: string;
  msg: string;
  format: string;
}

/**
 * The example flow, imported into a real Node-RED and driven as an operator would: click the inject
 * buttons (POST /inject/:id) and read the debug sidebar (the editor's websocket).
 */
describe('examples/flows.json works on import', () => {
  let nr: RunningNodeRed;
  let ws: import('ws').WebSocket;
  const debug: DebugMsg[] = [];

  before(async () => {
    nr = await startNodeRed({
      flows: JSON.parse(readFileSync(path.join(ROOT, 'examples', 'flows.json'), 'utf8')) as object[],
      env: { FACEWATCH_SAMPLES: path.dirname(faceApiSample(1)) },
    });
    await waitForLog(nr, /Started flows/);
    ws = new WebSocket(`${nr.url.replace('http', 'ws')}/comms`);
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    ws.send(JSON.stringify({ subscribe: 'debug' }));
    ws.on('message', (data: Buffer) => {
      for (const m of JSON.parse(data.toString()) as { topic: string; data: DebugMsg }[]) {
        if (m.topic === 'debug') debug.push(m.data);
      }
    });
  });
  after(async () => {
    ws?.close();
    await nr?.stop();
  });

  async function click(injectId: string, debugId: string): Promise<unknown> {
    const seen = debug.length;
    const res = await fetch(`${nr.url}/inject/${injectId}`, { method: 'POST' });
    assert.equal(res.status, 200);
    const end = Date.now() + 120000;
    for (;;) {
      const hit = debug.slice(seen).find((d) => d.id === debugId || d.id === 'fw.dbg.err');
      if (hit) {
        assert.notEqual(hit.id, 'fw.dbg.err', `the flow reported an error: ${hit.msg}`);
        return JSON.parse(hit.msg) as unknown;
      }
      if (Date.now() > end) throw new Error(`no debug output from ${debugId}\n${nr.log()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  it('detect, enrol, detect again: the enrolled face is named; list and delete', async () => {
    const first = (await click('fw.in.detect', 'fw.dbg.match')) as { known: string[]; unknown: number };
    assert.deepEqual(first.known, []);
    assert.ok(first.unknown >= 2, `sample6 shows several faces (${first.unknown})`);

    const enrolled = (await click('fw.in.enrol', 'fw.dbg.register')) as {
      status: string;
      person: { id: string };
    };
    assert.equal(enrolled.status, 'enrolled');
    assert.equal(enrolled.person.id, 'PERSON_0001');

    const second = (await click('fw.in.detect', 'fw.dbg.match')) as { known: string[]; unknown: number };
    assert.deepEqual(second.known, ['Demo person']);
    assert.equal(second.unknown, first.unknown - 1);

    const list = (await click('fw.in.list', 'fw.dbg.register')) as { id: string }[];
    assert.deepEqual(
      list.map((p) => p.id),
      ['PERSON_0001'],
    );
    const deleted = (await click('fw.in.delete', 'fw.dbg.register')) as { deleted: boolean };
    assert.equal(deleted.deleted, true);
    assert.doesNotMatch(nr.log(), /\[error\]/);
  });

  it('owns its face store: the command line refuses it while Node-RED runs, saying who holds it', () => {
    const store = path.join(nr.userDir, 'facewatch', 'faces.db');
    const run = spawnSync(
      process.execPath,
      ['--import', 'tsx', path.join(ROOT, 'cli', 'facewatch.ts'), 'delete', '--store', store, 'PERSON_0001'],
      { cwd: ROOT, encoding: 'utf8', timeout: 60000 },
    );
    assert.equal(run.status, 3, run.stderr);
    assert.match(run.stderr, /in use by Node-RED \(pid \d+/);
  });
});
