import assert from 'node:assert/strict';
import path from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { ROOT } from '../helpers/env';
import { collect, helper, nextMessage, startServer, stopServer } from '../helpers/red';

const PROBE_DIR = path.join(ROOT, 'test', 'fixtures', 'nodes');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const probeModule = require(path.join(PROBE_DIR, 'facewatch-probe.js')) as ((RED: RedApi) => void) & {
  closed: { id: string; removed: boolean }[];
};

interface RedApi {
  _: (key: string, subs?: Record<string, unknown>) => string;
}
// Node-RED's own i18n (the module the runtime uses), so the probe's catalog is really looked up.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { i18n } = require('@node-red/util') as {
  i18n: {
    init(settings: { lang?: string }): void;
    registerMessageCatalog(namespace: string, dir: string, file: string): Promise<void>;
    _: RedApi['_'];
  };
};

/**
 * The probe with its message catalog. The test helper's RED._ returns every key unchanged; Node-RED
 * binds RED._ to the node's catalog namespace, and so does this.
 */
const probe = Object.assign(
  (RED: RedApi) => {
    RED._ = (key, subs) => i18n._(`facewatch-probe:${key}`, subs);
    probeModule(RED);
  },
  { closed: probeModule.closed },
);

async function loadCatalog(): Promise<void> {
  i18n.init({ lang: 'en-US' });
  await i18n.registerMessageCatalog(
    'facewatch-probe',
    path.join(PROBE_DIR, 'locales'),
    'facewatch-probe.json',
  );
}

const flow = [
  { id: 'p1', type: 'facewatch-probe', name: 'probe', closeDelay: 50, wires: [['out']] },
  { id: 'out', type: 'helper' },
  { id: 'c1', type: 'catch', scope: null, uncaught: false, wires: [['caught']] },
  { id: 'caught', type: 'helper' },
  { id: 's1', type: 'status', scope: null, wires: [['statuses']] },
  { id: 'statuses', type: 'helper' },
  { id: 'k1', type: 'complete', scope: ['p1'], uncaught: false, wires: [['completed']] },
  { id: 'completed', type: 'helper' },
];

describe('shared runtime pieces (through the test-only probe node)', () => {
  before(async () => {
    await loadCatalog();
    await startServer();
  });
  after(stopServer);
  afterEach(() => helper.unload());

  it('ends every good message in exactly one done() and passes it on', async () => {
    await helper.load(probe, flow);
    const p1 = helper.getNode('p1');
    const outs = collect(helper.getNode('out'), 3);
    const dones = collect(helper.getNode('completed'), 3);
    for (const n of [1, 2, 3]) p1.receive({ payload: n });
    assert.deepEqual(
      (await outs).map((m) => m.payload),
      [1, 2, 3],
    );
    assert.equal((await dones).length, 3);
  });

  for (const topic of ['fail', 'throw-sync', 'reject-string']) {
    it(`turns a handler failure (${topic}) into done(err): Catch gets it, status shows it, no crash`, async () => {
      await helper.load(probe, flow);
      const p1 = helper.getNode('p1');
      const caught = nextMessage<{ error: { message: string }; payload: unknown }>(helper.getNode('caught'));
      const statuses = helper.getNode('statuses');
      const errStatus = new Promise<{ status: { fill: string; text: string } }>((resolve) => {
        statuses.on('input', (m: { status: { fill: string; text: string } }) => {
          if (m.status.fill === 'red') resolve(m);
        });
      });
      p1.receive({ topic, payload: 'x' });
      const c = await caught;
      assert.equal(c.payload, 'x');
      assert.match(
        c.error.message,
        /probe failed on purpose|probe threw synchronously|plain string rejection/,
      );
      // Catch sees Node-RED's `Error: <message>`; the status shows the message alone.
      assert.equal(c.error.message.replace(/^Error: /, ''), (await errStatus).status.text);
      // The node still works after the failure.
      const ok = nextMessage(helper.getNode('out'));
      p1.receive({ payload: 'after' });
      assert.equal((await ok).payload, 'after');
    });
  }

  it('awaits the async close handler with (removed, done)', async () => {
    await helper.load(probe, flow);
    probe.closed.length = 0;
    // The cleanup sleeps 50 ms; it is recorded by the time unload resolves only if Node-RED awaited it.
    await helper.unload();
    assert.deepEqual(probe.closed, [{ id: 'p1', removed: false }]);
  });

  it("sets status texts translated from the node's catalog, never a raw key", async () => {
    await helper.load(probe, flow);
    const p1 = helper.getNode('p1');
    const statuses = collect<{ status: { text: string; fill: string } }>(helper.getNode('statuses'), 1);
    p1.receive({ payload: 7 });
    const [s] = await statuses;
    assert.equal(s.status.fill, 'green');
    assert.equal(s.status.text, 'got 7');
  });

  describe('admin routes always answer', () => {
    it('200 with the handler result', async () => {
      await helper.load(probe, flow);
      const res = await helper.request().get('/facewatch/probe/ok');
      assert.equal(res.status, 200);
      assert.deepEqual(res.body, { ok: true });
    });
    it('explicit status and body', async () => {
      await helper.load(probe, flow);
      const res = await helper.request().get('/facewatch/probe/other');
      assert.equal(res.status, 201);
      assert.deepEqual(res.body, { mode: 'other' });
    });
    it('the status of an HttpError', async () => {
      await helper.load(probe, flow);
      const res = await helper.request().get('/facewatch/probe/missing');
      assert.equal(res.status, 404);
      assert.deepEqual(res.body, { error: 'no such thing' });
    });
    it('500 for a crash, 504 for a hang', async () => {
      await helper.load(probe, flow);
      const crash = await helper.request().get('/facewatch/probe/crash');
      assert.equal(crash.status, 500);
      assert.deepEqual(crash.body, { error: 'handler crashed' });
      const hang = await helper.request().get('/facewatch/probe/hang');
      assert.equal(hang.status, 504);
    });
  });
});
