import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fixturePath } from '../helpers/env';
import { builtNode, helper, nextMessage, startServer, stopServer } from '../helpers/red';

const nodes = [builtNode('face-engine'), builtNode('face-detect')];

/** The runtime methods a message's end goes through, as the flow calls them on the node. */
interface Spied {
  send(...args: unknown[]): void;
  status(...args: unknown[]): void;
  error(...args: unknown[]): void;
  _complete(msg: unknown, err?: unknown): void;
}

describe('face-detect when its flow stops', () => {
  before(startServer);
  after(stopServer);

  it('sends nothing for a message still in flight, and ends it without an error', async () => {
    await helper.load(nodes, [
      { id: 'eng', type: 'face-engine', backend: 'wasm', poolSize: 1, detector: 'ssd' },
      { id: 'fd', type: 'face-detect', engine: 'eng', descriptors: true, wires: [['out']] },
      { id: 'out', type: 'helper' },
    ]);
    const photo = readFileSync(fixturePath('face_recognition', 'examples', 'biden.jpg'));
    const fd = helper.getNode('fd') as unknown as Spied & ReturnType<typeof helper.getNode>;
    const out = helper.getNode('out');
    // A first frame warms the engine, so the second is truly in the worker when the flow stops.
    const first = nextMessage(out, 120000);
    fd.receive({ payload: photo });
    await first;

    const afterClose: string[] = [];
    const completed: unknown[] = [];
    let closing = false;
    for (const name of ['send', 'status', 'error'] as const) {
      const original = fd[name].bind(fd);
      fd[name] = (...args: unknown[]) => {
        if (closing) afterClose.push(name);
        original(...args);
      };
    }
    const complete = fd._complete.bind(fd);
    fd._complete = (msg, err) => {
      completed.push(err ?? 'done');
      complete(msg, err);
    };
    out.on('input', () => afterClose.push('output'));

    fd.receive({ payload: photo, topic: 'in flight' });
    await sleep(20);
    closing = true;
    await helper.unload();
    // Let the handler settle after its engine went away.
    for (let i = 0; i < 100 && completed.length === 0; i++) await sleep(20);
    assert.deepEqual(completed, ['done'], 'the message ended with done(), no error');
    assert.deepEqual(afterClose, [], 'no output, status or error after the close');
  });
});
