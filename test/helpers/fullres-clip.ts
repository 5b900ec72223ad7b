/**
 * A full-resolution CCTV clip made from the fixtures, for the "describe from the camera's full
 * resolution" measurement (test/unit/fullres.test.ts, `npm run bench -- fullres`): 1920x1080 H.264
 * frames of a plain background in which the labelled people of the fixtures pass at several
 * distances, their faces 40 to 120 px wide, three people per frame. Each person with two photos is
 * enrolled from the first; the second is what the camera sees.
 *
 * The clip is then decoded as a camera decodes it, scaled to 640 px wide (face-camera's default
 * width) and at its full size, and every frame goes through the engine both ways with the same
 * detection settings: the faces found, and how many of them are named as who they are.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { FaceStore } from '../../lib/store/face-store';
import type { Box, DetectOptions, RawImage } from '../../lib/types';
import type { FaceEngine } from '../../lib/vision/engine';
import { labelledPhotos, SETS } from './env';

const run = promisify(execFile);
const FFMPEG = process.env.FFMPEG_PATH || 'ffmpeg';

export const FULL_W = 1920;
export const FULL_H = 1080;
/** face-camera's default width: the frames face-detect gets today. */
export const SCALED_W = 640;
/** Face widths in the full frame, in pixels. */
export const FACE_SIZES = [40, 50, 60, 80, 100, 120] as const;
/** Where the three faces of a frame stand (their centres, full-frame pixels). */
const SPOTS = [
  { x: 360, y: 520 },
  { x: 960, y: 600 },
  { x: 1560, y: 480 },
];

/** One person in one frame: who, how large, where. */
export interface PlantedFace {
  frame: number;
  identity: string;
  size: number;
  /** The face's centre in the full frame. */
  x: number;
  y: number;
}

/** The clip on disk and what is in it; `dispose` removes it. */
export interface FullResClip {
  file: string;
  frames: number;
  planted: PlantedFace[];
  /** The enrolment photo of each identity. */
  references: Array<{ identity: string; path: string }>;
  dispose(): void;
}

/** The largest face's box in a photo, found by `engine` at the photo's own resolution. */
async function faceBox(engine: FaceEngine, image: Buffer): Promise<Box | null> {
  const r = await engine.detect(image, { minConfidence: 0.3, minFaceSize: 0, descriptors: false });
  return r.faces[0]?.box ?? null;
}

/**
 * Makes the clip: for each face size, the probe photos of the fixtures' people, three to a frame,
 * each scaled so that its face is that wide and pasted (with the head around it) on the background.
 * Two frames per second, H.264 at a camera's quality (CRF 23).
 */
export async function makeFullResClip(engine: FaceEngine): Promise<FullResClip> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'fw-fullres-'));
  const people: Array<{ identity: string; reference: string; probe: Buffer; box: Box }> = [];
  for (const set of SETS) {
    const byIdentity = new Map<string, string[]>();
    for (const p of labelledPhotos(set)) {
      const id = `${set}:${p.identity}`;
      byIdentity.set(id, [...(byIdentity.get(id) ?? []), p.path]);
    }
    for (const [identity, paths] of byIdentity) {
      if (paths.length < 2) continue;
      const sorted = [...paths].sort();
      const probe = readFileSync(sorted[1]);
      const box = await faceBox(engine, probe);
      if (box) people.push({ identity, reference: sorted[0], probe, box });
    }
  }
  const background = await sharp({
    create: { width: FULL_W, height: FULL_H, channels: 3, background: { r: 96, g: 104, b: 98 } },
  })
    .composite([
      {
        input: Buffer.from(
          `<svg width="${FULL_W}" height="${FULL_H}"><defs><linearGradient id="g" x1="0" y1="0" x2="1" y2="1">` +
            `<stop offset="0" stop-color="#4a5560"/><stop offset="1" stop-color="#b0a890"/></linearGradient></defs>` +
            `<rect width="100%" height="100%" fill="url(#g)"/><rect x="100" y="760" width="1720" height="40" fill="#3a3a3a"/></svg>`,
        ),
      },
    ])
    .raw()
    .toBuffer();
  const planted: PlantedFace[] = [];
  const frames: Buffer[] = [];
  for (const size of FACE_SIZES) {
    for (let first = 0; first < people.length; first += SPOTS.length) {
      const layers: sharp.OverlayOptions[] = [];
      const frame = frames.length;
      for (const [i, spot] of SPOTS.entries()) {
        const p = people[first + i];
        if (!p) continue;
        const scale = size / p.box.width;
        // The head and shoulders around the face: twice the box on each side, within the photo.
        const meta = await sharp(p.probe).metadata();
        const left = Math.max(0, Math.round(p.box.x - p.box.width));
        const top = Math.max(0, Math.round(p.box.y - p.box.height));
        const right = Math.min(meta.width ?? 0, Math.round(p.box.x + 2 * p.box.width));
        const bottom = Math.min(meta.height ?? 0, Math.round(p.box.y + 2 * p.box.height));
        const w = Math.max(1, Math.round((right - left) * scale));
        const h = Math.max(1, Math.round((bottom - top) * scale));
        const tile = await sharp(p.probe)
          .extract({ left, top, width: right - left, height: bottom - top })
          .resize(w, h, { kernel: 'lanczos3' })
          .removeAlpha()
          .toColourspace('srgb')
          .png()
          .toBuffer();
        const cx = (p.box.x + p.box.width / 2 - left) * scale;
        const cy = (p.box.y + p.box.height / 2 - top) * scale;
        layers.push({ input: tile, left: Math.round(spot.x - cx), top: Math.round(spot.y - cy) });
        planted.push({ frame, identity: p.identity, size, x: spot.x, y: spot.y });
      }
      frames.push(
        await sharp(background, { raw: { width: FULL_W, height: FULL_H, channels: 3 } })
          .composite(layers)
          .removeAlpha()
          .raw()
          .toBuffer(),
      );
    }
  }
  const file = path.join(dir, 'fullres.mp4');
  await new Promise<void>((resolve, reject) => {
    const child = execFile(
      FFMPEG,
      [
        '-hide_banner',
        '-loglevel',
        'error',
        '-f',
        'rawvideo',
        '-pix_fmt',
        'rgb24',
        '-s',
        `${FULL_W}x${FULL_H}`,
        '-r',
        '2',
        '-i',
        'pipe:0',
        '-c:v',
        'libx264',
        '-preset',
        'veryfast',
        '-crf',
        '23',
        '-pix_fmt',
        'yuv420p',
        '-y',
        file,
      ],
      { maxBuffer: 1 << 20 },
      (err) => (err ? reject(new Error(`ffmpeg could not make the clip: ${err.message}`)) : resolve()),
    );
    for (const f of frames) child.stdin?.write(f);
    child.stdin?.end();
  });
  return {
    file,
    frames: frames.length,
    planted,
    references: people.map((p) => ({ identity: p.identity, path: p.reference })),
    dispose: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** The clip's frames decoded by ffmpeg, scaled to `width` as face-camera scales them (0: full size). */
export async function decodeFrames(file: string, width: number): Promise<RawImage[]> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'fw-fullres-frames-'));
  try {
    const filters = width > 0 ? ['-vf', `scale=${width}:-2:flags=area`] : [];
    await run(FFMPEG, [
      '-hide_banner',
      '-loglevel',
      'error',
      '-i',
      file,
      ...filters,
      path.join(dir, 'f%04d.png'),
    ]);
    const out: RawImage[] = [];
    for (const name of readdirSync(dir).sort()) {
      const { data, info } = await sharp(path.join(dir, name)).raw().toBuffer({ resolveWithObject: true });
      out.push({ data, width: info.width, height: info.height, channels: info.channels as 3 });
    }
    return out;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** What one way of describing the clip's faces gave, per face size. */
export interface SizeScore {
  size: number;
  planted: number;
  /** Planted faces the detector found (a box around the face's centre). */
  found: number;
  /** Found and named as who they are, under the match threshold. */
  named: number;
  /** Found and named as somebody else (must stay 0). */
  wrong: number;
}

/** Camera detection settings (README "Performance"): the lower confidence, no minimum size. */
export const CLIP_DETECT: Partial<DetectOptions> = { minConfidence: 0.3, minFaceSize: 0, descriptors: true };

/**
 * Runs every frame (as decoded at `frames`' size) through `engine` and names the faces against
 * `store`: the planted faces found, named and named wrongly, per face size. With `fulls` (the same
 * frames at full size), faces are found in `frames` and described from `fulls`. `medianMs` is the
 * engine's time per frame.
 */
export async function scoreFrames(
  engine: FaceEngine,
  store: FaceStore,
  clip: FullResClip,
  frames: RawImage[],
  fulls?: RawImage[],
): Promise<{ sizes: SizeScore[]; medianMs: number }> {
  const sizes = new Map<number, SizeScore>(
    FACE_SIZES.map((s) => [s, { size: s, planted: 0, found: 0, named: 0, wrong: 0 }]),
  );
  const times: number[] = [];
  for (const [i, frame] of frames.entries()) {
    const k = frame.width / FULL_W;
    const t0 = performance.now();
    const r = await engine.detect(frame, CLIP_DETECT, fulls ? { full: fulls[i] } : {});
    times.push(performance.now() - t0);
    for (const p of clip.planted.filter((q) => q.frame === i)) {
      const s = sizes.get(p.size)!;
      s.planted++;
      const x = p.x * k;
      const y = p.y * k;
      const face = r.faces.find(
        (f) => f.box.x <= x && x <= f.box.x + f.box.width && f.box.y <= y && y <= f.box.y + f.box.height,
      );
      if (!face?.descriptor) continue;
      s.found++;
      const m = store.match(face.descriptor, face.modelId);
      if (!m.known) continue;
      if (m.person?.name === p.identity) s.named++;
      else s.wrong++;
    }
  }
  times.sort((a, b) => a - b);
  return { sizes: [...sizes.values()], medianMs: times[Math.floor(times.length / 2)] ?? 0 };
}

/** A store in `dir` with every reference photo of the clip enrolled (its largest face). */
export async function referenceStore(engine: FaceEngine, clip: FullResClip, dir: string): Promise<FaceStore> {
  const store = await FaceStore.open({ file: path.join(dir, 'faces.db'), backups: 0 });
  for (const ref of clip.references) {
    const r = await engine.detect(readFileSync(ref.path), { minConfidence: 0.3, minFaceSize: 0 });
    const face = r.faces[0];
    if (face?.descriptor)
      await store.addPerson({ name: ref.identity }, { descriptor: face.descriptor, modelId: face.modelId });
  }
  return store;
}
