import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, afterEach, before, describe, it } from 'node:test';
import type { DetectedFace } from '../../lib/types';
import { faceApiSample, fixturePath } from '../helpers/env';
import { builtNode, collect, helper, nextMessage, startServer, stopServer } from '../helpers/red';

interface Out {
  payload: number;
  faces: DetectedFace[];
  timing: { queue: number; inference: number; total: number };
  image?: Buffer;
  frame?: Record<string, unknown>;
  width: number;
  height: number;
}

const nodes = [builtNode('face-engine'), builtNode('face-detect')];
const flow = (extra: Record<string, unknown> = {}): object[] => [
  { id: 'eng', type: 'face-engine', backend: 'wasm', poolSize: 1, detector: 'ssd' },
  {
    id: 'fd',
    type: 'face-detect',
    engine: 'eng',
    descriptors: true,
    keepImage: 'faces',
    wires: [['out']],
    ...extra,
  },
  { id: 'out', type: 'helper' },
  { id: 'c1', type: 'catch', scope: null, uncaught: false, wires: [['caught']] },
  { id: 'caught', type: 'helper' },
];

describe('face-detect in a flow', () => {
  before(startServer);
  after(stopServer);
  afterEach(() => helper.unload());

  it('finds the face of a real photo, with a descriptor, timing and the JPEG passed through', async () => {
    await helper.load(nodes, flow());
    const photo = readFileSync(
      fixturePath('face_recognition', 'examples', 'knn_examples', 'train', 'obama', 'obama.jpg'),
    );
    const out = nextMessage<Out>(helper.getNode('out'), 120000);
    helper.getNode('fd').receive({ payload: photo, topic: 'obama' });
    const msg = await out;
    assert.equal(msg.payload, 1);
    assert.equal(msg.faces.length, 1);
    const [face] = msg.faces;
    assert.equal(face.descriptor?.length, 128);
    assert.match(face.modelId, /\S/);
    assert.ok(face.box.width > 100 && face.box.x >= 0 && face.box.x + face.box.width <= msg.width);
    assert.ok(msg.timing.total >= msg.timing.inference);
    assert.equal(msg.image, photo, 'a JPEG input is kept as msg.image without re-encoding');
  });

  it('takes a raw frame in msg.frame, strips its pixels and encodes msg.image once', async () => {
    await helper.load(nodes, flow());
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const sharp = require('sharp') as typeof import('sharp');
    const { data, info } = await sharp(faceApiSample(2))
      .removeAlpha()
      .raw()
      .toBuffer({ resolveWithObject: true });
    const out = nextMessage<Out>(helper.getNode('out'), 120000);
    helper
      .getNode('fd')
      .receive({ frame: { data, width: info.width, height: info.height, channels: 3, camera: 'door' } });
    const msg = await out;
    assert.ok(msg.faces.length >= 1);
    assert.deepEqual(Object.keys(msg.frame ?? {}).sort(), ['camera', 'channels', 'height', 'width']);
    assert.ok(msg.image && msg.image[0] === 0xff && msg.image[1] === 0xd8, 'msg.image is a JPEG');
  });

  it("describes a camera frame's faces from its full picture (msg.frame.full), then drops the picture", async () => {
    await helper.load(nodes, flow({ minFaceSize: 0, minConfidence: 0.3 }));
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const sharp = require('sharp') as typeof import('sharp');
    const photo = readFileSync(faceApiSample(1));
    // The frame a camera scaled to a quarter of its width (1920 to 480), and its full picture as
    // face-camera sends it.
    const small = await sharp(photo).resize(480).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    const full = await sharp(photo).jpeg({ quality: 92 }).toBuffer();
    const frame = { width: small.info.width, height: small.info.height, channels: 3, camera: 'door' };
    const send = async (msg: Record<string, unknown>): Promise<Out> => {
      const out = nextMessage<Out>(helper.getNode('out'), 120000);
      helper.getNode('fd').receive(msg);
      return out;
    };
    // Two cameras: the motion gate would skip the same frame seen twice by one camera.
    const plain = await send({ frame: { data: Buffer.from(small.data), ...frame } });
    const described = await send({
      frame: { data: Buffer.from(small.data), ...frame, camera: 'hall', full },
    });
    const atFull = await send({ payload: photo });
    assert.deepEqual(Object.keys(described.frame ?? {}).sort(), ['camera', 'channels', 'height', 'width']);
    assert.ok(described.faces.length >= 3, `${described.faces.length} faces`);
    assert.deepEqual(
      described.faces.map((f) => f.box),
      plain.faces.map((f) => f.box),
      'found in the frame either way',
    );
    const d = (a: number[], b: number[]): number => Math.hypot(...a.map((x, i) => x - b[i]));
    let fromFull = 0;
    let fromFrame = 0;
    for (const [i, f] of described.faces.entries()) {
      const cx = (f.box.x + f.box.width / 2) * 4;
      const cy = (f.box.y + f.box.height / 2) * 4;
      const same = atFull.faces.find(
        (g) => g.box.x < cx && cx < g.box.x + g.box.width && g.box.y < cy && cy < g.box.y + g.box.height,
      );
      assert.ok(same, `face ${i} is in the full-size photo`);
      fromFull += d(f.descriptor!, same.descriptor!);
      fromFrame += d(plain.faces[i].descriptor!, same.descriptor!);
    }
    assert.ok(
      fromFull < fromFrame,
      `full picture ${fromFull.toFixed(3)}, frame ${fromFrame.toFixed(3)} in all`,
    );
  });

  it('reports bad input to Catch and keeps working', async () => {
    await helper.load(nodes, flow());
    const caught = nextMessage<{ error: { message: string } }>(helper.getNode('caught'), 60000);
    helper.getNode('fd').receive({ payload: Buffer.from('this is not an image') });
    assert.match((await caught).error.message, /image/i);
    const caught2 = nextMessage<{ error: { message: string } }>(helper.getNode('caught'), 60000);
    helper.getNode('fd').receive({ payload: 42 });
    assert.match((await caught2).error.message, /expected msg\.payload to be an image Buffer/);
    const out = nextMessage<Out>(helper.getNode('out'), 120000);
    helper
      .getNode('fd')
      .receive({ payload: readFileSync(fixturePath('face_recognition', 'examples', 'biden.jpg')) });
    assert.equal((await out).faces.length, 1);
  });

  it('drops the image when no face was found', async () => {
    await helper.load(nodes, flow());
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const sharp = require('sharp') as typeof import('sharp');
    const blank = await sharp({ create: { width: 320, height: 240, channels: 3, background: '#808080' } })
      .png()
      .toBuffer();
    const out = nextMessage<Out>(helper.getNode('out'), 120000);
    helper.getNode('fd').receive({ payload: blank });
    const msg = await out;
    assert.equal(msg.payload, 0);
    assert.deepEqual(msg.faces, []);
    assert.equal(msg.image, undefined);
  });
});

describe('face-detect backpressure in a flow', () => {
  before(startServer);
  after(stopServer);
  afterEach(() => helper.unload());

  it('keeps one frame in flight and the newest waiting per camera, drops the rest and shows the count', async () => {
    await helper.load(nodes, [
      // Five copies of one frame: the motion gate would skip all but the first (test/flows/face-detect-motion).
      ...flow({ motion: 'off' }),
      { id: 's1', type: 'status', scope: ['fd'], wires: [['statuses']] },
      { id: 'statuses', type: 'helper' },
    ]);
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const sharp = require('sharp') as typeof import('sharp');
    const { data, info } = await sharp(faceApiSample(6))
      .removeAlpha()
      .raw()
      .toBuffer({ resolveWithObject: true });
    const caught: unknown[] = [];
    helper.getNode('caught').on('input', (m: unknown) => caught.push(m));
    const statuses: { text: string; fill: string }[] = [];
    helper
      .getNode('statuses')
      .on('input', (m: { status: { text: string; fill: string } }) => statuses.push(m.status));
    const outs = collect<Out>(helper.getNode('out'), 2, 120000);
    const fd = helper.getNode('fd');
    for (let i = 0; i < 5; i++) {
      fd.receive({
        frame: { data, width: info.width, height: info.height, channels: 3, camera: 'gate' },
        seq: i,
      });
    }
    const got = await outs;
    assert.deepEqual(
      got.map((m) => (m as unknown as { seq: number }).seq),
      [0, 4],
      'the first frame and the newest were processed',
    );
    const end = Date.now() + 5000;
    while (!statuses.some((s) => /dropped=3|3 dropped/.test(s.text)) && Date.now() < end) {
      await new Promise((r) => setTimeout(r, 50));
    }
    const last = statuses[statuses.length - 1];
    assert.match(last.text, /wasm/);
    assert.match(last.text, /dropped=3|3 dropped/);
    assert.equal(last.fill, 'yellow');
    assert.deepEqual(caught, [], 'dropped frames end quietly, without an error');
  });
});
