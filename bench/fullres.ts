/**
 * `npm run bench -- fullres`: describing faces from the camera's full picture (issue: recognition
 * that names more faces at zero strangers). The fixtures' labelled people pass a 1920x1080 H.264
 * camera at face widths of 40 to 120 px (test/helpers/fullres-clip.ts); each is enrolled from
 * another photo of theirs. Side by side on the same frames, with the camera detection settings:
 *
 * - **frame** (the baseline, what FaceWatch did before): faces found and described in the frame
 *   scaled to 640 px, as face-camera sends it;
 * - **frame + full picture** (face-camera's default now): found in the scaled frame, described from
 *   the full picture cut around each face;
 * - **full frame**: the whole 1920 px frame given to the engine (face-camera's width 0).
 *
 * Reported per face size: faces found, named as themselves, named as somebody else (must be 0),
 * and the engine's time per frame (median; one worker). Writes bench/results/fullres.json.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FaceEngine } from '../lib/vision/engine';
import { machine } from './machine';
import {
  decodeFrames,
  makeFullResClip,
  referenceStore,
  SCALED_W,
  scoreFrames,
  type SizeScore,
} from '../test/helpers/fullres-clip';

const SMALL = 60;

export async function run(): Promise<unknown> {
  const engine = await FaceEngine.create({ poolSize: 1 });
  const dir = mkdtempSync(path.join(os.tmpdir(), 'fw-bench-fullres-'));
  const clip = await makeFullResClip(engine);
  const store = await referenceStore(engine, clip, dir);
  try {
    const scaled = await decodeFrames(clip.file, SCALED_W);
    const full = await decodeFrames(clip.file, 0);
    const ways = {
      frame: await scoreFrames(engine, store, clip, scaled),
      'frame + full picture': await scoreFrames(engine, store, clip, scaled, full),
      'full frame': await scoreFrames(engine, store, clip, full),
    };
    const total = (sizes: SizeScore[], key: 'found' | 'named' | 'wrong', max = Infinity): number =>
      sizes.filter((s) => s.size <= max).reduce((n, s) => n + s[key], 0);
    const summary = Object.fromEntries(
      Object.entries(ways).map(([name, w]) => [
        name,
        {
          found: total(w.sizes, 'found'),
          named: total(w.sizes, 'named'),
          wrong: total(w.sizes, 'wrong'),
          smallNamed: total(w.sizes, 'named', SMALL),
          medianMs: Math.round(w.medianMs),
        },
      ]),
    );
    for (const [name, w] of Object.entries(ways)) {
      process.stdout.write(`${name.padEnd(22)} ${Math.round(w.medianMs)} ms/frame\n`);
      for (const s of w.sizes)
        process.stdout.write(
          `  ${String(s.size).padStart(3)} px: ${s.found}/${s.planted} found, ${s.named} named, ${s.wrong} wrong\n`,
        );
    }
    const small = summary['frame + full picture'].smallNamed / Math.max(1, summary.frame.smallNamed);
    process.stdout.write(
      `faces of ${SMALL} px or less named: ${summary.frame.smallNamed} from the frame, ` +
        `${summary['frame + full picture'].smallNamed} with the full picture (${small.toFixed(1)}x; target ≥ 2x)\n`,
    );
    const result = {
      generated: new Date().toISOString(),
      machine: machine(),
      clip: {
        width: 1920,
        height: 1080,
        frames: clip.frames,
        faces: clip.planted.length,
        people: clip.references.length,
      },
      baseline: 'frame: found and described in the 640 px frame',
      ways,
      summary,
      smallFaces: { upTo: SMALL, ratio: Math.round(small * 100) / 100, target: 2, meetsTarget: small >= 2 },
    };
    const out = path.join(__dirname, 'results');
    mkdirSync(out, { recursive: true });
    writeFileSync(path.join(out, 'fullres.json'), JSON.stringify(result, null, 2) + '\n');
    return result;
  } finally {
    await store.close();
    await engine.close();
    clip.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
}
