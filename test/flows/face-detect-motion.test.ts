/**
 * face-detect's motion gating in a real Node-RED runtime, on the synthetic CCTV clip
 * (test/helpers/motion-clip.ts) decoded by ffmpeg, with the real tiny detector: the same passages
 * found with the gate as without, skipped frames sent on with msg.faces = [] and msg.motion (or
 * dropped), photos never gated, region mode's crops, and the share skipped in the status.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, afterEach, before, describe, it } from 'node:test';
import type { Box, DetectedFace } from '../../lib/types';
import { fixturePath, toolSkip } from '../helpers/env';
import { clipFrames, motionClip, passageAt, PASSAGES, type ClipFrame } from '../helpers/motion-clip';
import { builtNode, helper, nextMessage, startServer, stopServer } from '../helpers/red';

interface Out {
  seq?: number;
  payload: number;
  faces: DetectedFace[];
  timing: {
    queue: number;
    inference: number;
    total: number;
    motion?: number;
    skipped?: boolean;
    reason?: string;
  };
  motion?: { moving: boolean; area: number; regions: Box[]; detected: boolean; reason: string; crop?: Box };
  width: number;
  height: number;
  image?: Buffer;
}

const nodes = [builtNode('face-engine'), builtNode('face-detect')];
const detect = (id: string, extra: Record<string, unknown>): object => ({
  id,
  type: 'face-detect',
  engine: 'eng',
  descriptors: false,
  keepImage: 'never',
  wires: [[`${id}-out`]],
  ...extra,
});
const flow = (detectors: Record<string, Record<string, unknown>>): object[] => [
  { id: 'eng', type: 'face-engine', backend: 'wasm', poolSize: 1, detector: 'tiny' },
  ...Object.entries(detectors).flatMap(([id, extra]) => [
    detect(id, extra),
    { id: `${id}-out`, type: 'helper' },
  ]),
  { id: 's1', type: 'status', scope: ['fdOn'], wires: [['statuses']] },
  { id: 'statuses', type: 'helper' },
  { id: 'c1', type: 'catch', scope: null, uncaught: false, wires: [['caught']] },
  { id: 'caught', type: 'helper' },
];

/** A clip frame as rtsp-source sends it (its time in the clip as ts, so the gate runs on clip time). */
const asMsg = (f: ClipFrame, seq: number, camera = 'corridor'): Record<string, unknown> => ({
  seq,
  frame: {
    data: Buffer.from(f.data),
    width: f.width,
    height: f.height,
    channels: 3,
    camera,
    seq,
    ts: f.t * 1000,
  },
});

/** Sends a message to a node and waits for its output. */
async function through(id: string, msg: Record<string, unknown>): Promise<Out> {
  const out = nextMessage<Out>(helper.getNode(`${id}-out`), 120000);
  helper.getNode(id).receive(msg);
  return out;
}

describe(
  'face-detect motion gating in a flow',
  { skip: toolSkip(process.env.FFMPEG_PATH || 'ffmpeg') },
  () => {
    let frames: ClipFrame[];
    before(async () => {
      frames = clipFrames(await motionClip());
      await startServer();
    });
    after(stopServer);
    afterEach(() => helper.unload());

    it('finds every passage of the clip gated (frame and regions) as ungated, sends skipped frames on with no faces and says why', async (t) => {
      await helper.load(nodes, flow({ fdOff: { motion: 'off' }, fdOn: {}, fdReg: { motion: 'regions' } }));
      const caught: unknown[] = [];
      helper.getNode('caught').on('input', (m: unknown) => caught.push(m));
      const statuses: string[] = [];
      helper
        .getNode('statuses')
        .on('input', (m: { status: { text: string } }) => statuses.push(m.status.text));
      const found: Record<string, Set<string>> = { off: new Set(), on: new Set(), reg: new Set() };
      const runs: Record<string, number> = { off: 0, on: 0, reg: 0 };
      let crops = 0;
      for (let i = 0; i < frames.length; i++) {
        const f = frames[i];
        for (const [id, node] of [
          ['off', 'fdOff'],
          ['on', 'fdOn'],
          ['reg', 'fdReg'],
        ] as const) {
          const msg = await through(node, asMsg(f, i));
          assert.equal(msg.seq, i, 'one output per frame, in order');
          assert.equal(msg.payload, msg.faces.length);
          assert.deepEqual([msg.width, msg.height], [f.width, f.height]);
          if (id === 'off') {
            assert.equal(msg.motion, undefined, 'no msg.motion without gating');
            assert.equal(msg.timing.skipped, undefined);
          } else {
            assert.ok(msg.motion, 'msg.motion on every gated frame');
            assert.equal(msg.timing.skipped, !msg.motion.detected);
            assert.equal(msg.timing.reason, msg.motion.reason);
            assert.ok(typeof msg.timing.motion === 'number' && msg.timing.motion >= 0);
            if (!msg.motion.detected) {
              assert.equal(msg.motion.reason, 'no-motion');
              assert.deepEqual(msg.faces, []);
              assert.equal(msg.timing.inference, 0);
            }
            if (msg.motion.moving) assert.ok(msg.motion.regions.length > 0 && msg.motion.area > 0);
            if (msg.motion.crop) {
              crops++;
              const c = msg.motion.crop;
              for (const face of msg.faces) {
                assert.ok(
                  face.box.x >= c.x && face.box.x + face.box.width <= c.x + c.width + 1,
                  'a box in frame coordinates',
                );
              }
            }
          }
          if (id === 'off' || msg.motion?.detected) runs[id]++;
          if (msg.faces.length) {
            const p = passageAt(f.t, 0.5);
            assert.ok(p, `${id}: a face at ${f.t} s, outside every passage`);
            found[id].add(p.name);
          }
        }
      }
      t.diagnostic(
        `detector runs: ${runs.off} ungated, ${runs.on} gated (frame), ${runs.reg} gated (regions, ${crops} on crops)`,
      );
      const all = PASSAGES.map((p) => p.name).sort();
      assert.deepEqual([...found.off].sort(), all);
      assert.deepEqual([...found.on].sort(), all);
      assert.deepEqual([...found.reg].sort(), all);
      assert.ok(runs.on * 4 <= runs.off, `${runs.on} gated runs of ${runs.off}`);
      assert.ok(crops > 0, 'region mode detected on crops');
      // The status is updated at most twice a second; the last counts follow within that.
      const share = Math.round((1 - runs.on / frames.length) * 100);
      const final = new RegExp(`${share}% skipped|skipped=${share}\\b`);
      const end = Date.now() + 5000;
      while (!final.test(statuses[statuses.length - 1] ?? '') && Date.now() < end)
        await new Promise((r) => setTimeout(r, 50));
      assert.match(statuses[statuses.length - 1] ?? '', final);
      assert.deepEqual(caught, []);
    });

    it('drops skipped frames when set to, never gates photos, and leaves a malformed frame to the engine', async () => {
      await helper.load(nodes, flow({ fdDrop: { motionSkipped: 'drop' }, fdPhotos: {} }));
      const outs: Out[] = [];
      const done = new Promise<void>((resolve) =>
        helper.getNode('fdDrop-out').on('input', (m: Out) => {
          outs.push(m);
          if (m.seq === 99) resolve();
        }),
      );
      const still = frames.slice(0, 6); // 0..2.5 s: nothing moves
      const moving = frames.find((f) => f.t === PASSAGES[0].start + 1)!;
      const drop = helper.getNode('fdDrop');
      // Skipped frames leave (or are dropped) at once, so any of them sent would arrive before the last.
      for (let i = 0; i < still.length; i++) drop.receive(asMsg(still[i], i));
      drop.receive(asMsg(moving, 99));
      await done;
      assert.deepEqual(
        outs.map((m) => [m.seq, m.motion?.reason]),
        [
          [0, 'refresh'],
          [99, 'motion'],
        ],
        'the first frame (nothing learnt yet) and the moving one; the still ones dropped',
      );

      const photo = readFileSync(
        fixturePath('face_recognition', 'examples', 'knn_examples', 'train', 'obama', 'obama.jpg'),
      );
      for (let i = 0; i < 3; i++) {
        const msg = await through('fdPhotos', { payload: photo });
        assert.equal(msg.faces.length, 1, `photo ${i}: detected every time`);
        assert.equal(msg.motion, undefined);
        assert.equal(msg.timing.skipped, undefined);
      }
      // Twice, so the second would be a still frame of a known camera if the gate looked at it.
      for (let i = 0; i < 2; i++) {
        const caught = nextMessage<{ error: { message: string } }>(helper.getNode('caught'), 60000);
        helper.getNode('fdPhotos').receive({
          frame: {
            data: Buffer.alloc(30),
            width: 640,
            height: 360,
            channels: 3,
            camera: 'broken',
            ts: i * 500,
          },
        });
        assert.match((await caught).error.message, /raw frame holds 30 bytes, expected 691200 for 640x360x3/);
      }
    });
  },
);
