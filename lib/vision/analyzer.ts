/**
 * The face pipeline inside one inference worker: detector, 68 landmarks, recognition, optional
 * age/gender and expressions, quality and crops. All model state lives in one FaceAnalyzer object;
 * each worker holds exactly one. Runs only in workers (threads or child processes), never on the
 * main thread, because every step here blocks its thread for tens to hundreds of milliseconds.
 */
import path from 'node:path';
import type * as FaceApiTypes from '@vladmandic/face-api';
import type { BackendName, Box, DetectOptions, Point } from '../types';
import { MODEL_MANIFESTS, recognitionModelId, type ModelName } from './models';
import type { Frame } from './image';
import type { ModelSet, WorkerFace } from './protocol';
import { clipRect, extractRgb, laplacianVariance, yawFromLandmarks, type PixelRect } from './quality';

import type * as TfTypes from '@tensorflow/tfjs';

type FaceApi = typeof FaceApiTypes;
/** face-api re-exports the tfjs it is built with, but declares only part of it. */
type Tf = typeof TfTypes;
type Tensor3D = TfTypes.Tensor3D;
/** The same tensors as face-api's declarations name them (two copies of the tfjs types). */
type FaceTensor = Awaited<ReturnType<FaceApi['extractFaceTensors']>>[number];
const asFaceTensor = (t: Tensor3D): FaceTensor => t as unknown as FaceTensor;
type FaceDetection = FaceApiTypes.FaceDetection;

/**
 * Images whose shorter side is under this many pixels are padded (by their own size on every side)
 * before detection. Both detectors miss faces that fill the whole frame, as in tight 150x150 face
 * crops: measured on the 94 crops of the shared face-api.js and dlib sets, SSD found 25 without
 * padding and all 94 with it (tiny: 6 and 93). Frames of cameras, even 240p ones, are larger and
 * are left alone, since padding shrinks their already small faces in the detector's input.
 */
export const SMALL_IMAGE_SIDE = 200;

/** The SSD detector's fixed square input, in pixels. */
const SSD_INPUT_SIZE = 512;

/** Neural networks of one worker, created only when first needed. */
interface Nets {
  ssd?: FaceApiTypes.SsdMobilenetv1;
  tiny?: FaceApiTypes.TinyFaceDetector;
  landmarks?: FaceApiTypes.FaceLandmark68Net;
  recognition?: FaceApiTypes.FaceRecognitionNet;
  ageGender?: FaceApiTypes.AgeGenderNet;
  expressions?: FaceApiTypes.FaceExpressionNet;
}

/** The images of one frame the pipeline works on, and where the frame sits in each (see prepare). */
interface FrameView {
  /** The frame's size. */
  width: number;
  height: number;
  /** The work image (the frame, padded by padX and padY on each side when small) and its size. */
  work: Tensor3D;
  workW: number;
  workH: number;
  padX: number;
  padY: number;
  /** The detector's square input (size x size) holding the work image at rw x rh from left, top. */
  detInput: Tensor3D;
  size: number;
  rw: number;
  rh: number;
  left: number;
  top: number;
}

/** A face the detector found and the pipeline keeps. */
interface KeptFace {
  /** face-api's detection in the work image (what landmarks start from). */
  detection: FaceDetection;
  /** The box in frame pixels, clipped to the frame. */
  rect: PixelRect;
  box: Box;
}

/** What landmarks give the kept faces, by index: their points and the chips the other nets take. */
interface FaceChips {
  landmarks?: Point[][];
  descriptor?: FaceTensor[];
  attributes?: FaceTensor[];
}

/** Loads face-api for a backend: its tfjs-node build, or its WASM build (which also has the cpu backend). */
function loadFaceApi(backend: BackendName): FaceApi {
  /* eslint-disable @typescript-eslint/no-require-imports */
  if (backend === 'tfjs-node') return require('@vladmandic/face-api') as FaceApi;
  // The package entry point requires tfjs-node, which may be absent: load the WASM build by path.
  return require('@vladmandic/face-api/dist/face-api.node-wasm.js') as FaceApi;
  /* eslint-enable @typescript-eslint/no-require-imports */
}

/** The tfjs name of a backend. */
function tfBackendName(backend: BackendName): string {
  return backend === 'tfjs-node' ? 'tensorflow' : backend;
}

/** One worker's models and the detection pipeline over them. */
export class FaceAnalyzer {
  private readonly nets: Nets = {};
  private readonly loading = new Map<ModelName, Promise<void>>();

  private constructor(
    private readonly faceapi: FaceApi,
    private readonly tf: Tf,
    readonly backend: BackendName,
    readonly modelPath: string,
    readonly modelId: string,
  ) {}

  /** Starts the backend and loads the networks of `preload`. Throws when the backend does not start. */
  static async create(backend: BackendName, modelPath: string, preload: ModelSet): Promise<FaceAnalyzer> {
    const faceapi = loadFaceApi(backend);
    const tf = faceapi.tf as unknown as Tf;
    // Production mode: no debug checks, and no console banner urging tfjs-node on every cpu worker
    // (the engine reports the backend in use instead).
    tf.env().set('PROD', true);
    // setBackend answers false (it does not throw) when the backend cannot initialise.
    const ok = await tf.setBackend(tfBackendName(backend));
    await tf.ready();
    if (!ok || tf.getBackend() !== tfBackendName(backend))
      throw new Error(`TensorFlow.js backend ${backend} did not start (active: ${tf.getBackend()})`);
    const analyzer = new FaceAnalyzer(faceapi, tf, backend, modelPath, await recognitionModelId(modelPath));
    for (const name of Object.keys(preload) as ModelName[]) {
      if (preload[name]) await analyzer.ensure(name);
    }
    return analyzer;
  }

  /** Tensors alive in this worker (the weights included); flat over time when nothing leaks. */
  numTensors(): number {
    return this.tf.memory().numTensors;
  }

  /** The WASM backend's linear memory (its heap), or undefined on the other backends. */
  private wasmHeap(): Uint8Array | undefined {
    if (this.backend !== 'wasm') return undefined;
    const heap = (this.tf.backend() as { wasm?: { HEAPU8?: Uint8Array } }).wasm?.HEAPU8;
    return heap instanceof Uint8Array ? heap : undefined;
  }

  /** Bytes of the WASM backend's heap (it grows, never shrinks); 0 on the other backends. */
  wasmHeapBytes(): number {
    return this.wasmHeap()?.length ?? 0;
  }

  /** The heap size {@link prefaultWasmHeap} last made resident. */
  private prefaulted = 0;

  /**
   * Makes every page of the WASM heap resident once the heap has grown (or-ing one byte of each
   * page with its own value; the heap is this thread's alone, and no inference runs while this does).
   * The heap never shrinks, but the kernel maps its pages only as the allocator inside first writes
   * them: left alone, the process's RSS crept up for a quarter of an hour of running (about 80 MB per
   * worker) before reaching the size the heap already had, which reads as a leak. Touched at once,
   * RSS shows the heap the worker holds from its first frames on. Returns the bytes walked (0 when
   * the heap has not grown since the last call).
   */
  prefaultWasmHeap(): number {
    const heap = this.wasmHeap();
    if (!heap || heap.length === this.prefaulted) return 0;
    for (let i = 0; i < heap.length; i += 4096) heap[i] |= 0;
    this.prefaulted = heap.length;
    return heap.length;
  }

  /** Loads a network once; concurrent callers share the load. */
  private ensure(name: ModelName): Promise<void> {
    let p = this.loading.get(name);
    if (!p) {
      p = this.load(name);
      this.loading.set(name, p);
      p.catch(() => this.loading.delete(name));
    }
    return p;
  }

  private async load(name: ModelName): Promise<void> {
    const f = this.faceapi;
    const net = {
      ssd: () => new f.SsdMobilenetv1(),
      tiny: () => new f.TinyFaceDetector(),
      landmarks: () => new f.FaceLandmark68Net(),
      recognition: () => new f.FaceRecognitionNet(),
      ageGender: () => new f.AgeGenderNet(),
      expressions: () => new f.FaceExpressionNet(),
    }[name]();
    try {
      await net.loadFromDisk(this.modelPath);
    } catch (err) {
      const file = path.join(this.modelPath, MODEL_MANIFESTS[name]);
      throw new Error(
        `cannot load the ${name} model from ${file}: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
    (this.nets as Record<ModelName, unknown>)[name] = net;
  }

  private async net<K extends ModelName>(name: K): Promise<NonNullable<Nets[K]>> {
    await this.ensure(name);
    return this.nets[name]!;
  }

  /**
   * Runs the pipeline on one frame: the detector's input ({@link prepare}), the faces it finds in
   * the frame's pixels ({@link locate}), the chips landmarks give ({@link align}), then each face's
   * figures ({@link describe}). Boxes, landmarks and crops are in the frame's own pixels.
   */
  async detect(frame: Frame, options: DetectOptions, full?: Frame): Promise<WorkerFace[]> {
    // Every tensor made for this frame, disposed at the end whatever happens.
    const owned: Array<{ dispose(): void }> = [];
    try {
      const view = this.prepare(frame, options, owned);
      const kept = await this.locate(view, options);
      if (kept.length === 0) return [];
      const chips = await this.align(view, kept, options, owned, full);
      const faces: WorkerFace[] = [];
      for (let i = 0; i < kept.length; i++)
        faces.push(await this.describe(frame, kept[i], chips, i, options));
      return faces;
    } finally {
      for (const t of owned) t.dispose();
    }
  }

  /**
   * The images the pipeline works on. The work image is the frame, padded when small (landmarks and
   * descriptors also run on it, so a face cut by the frame's edge is still aligned on the whole box).
   * The detection image is the work image scaled straight to the detector's square input,
   * zero-padded at the right and bottom, which is the input face-api itself builds. Built from the
   * frame alone, it skips face-api's float copy of the whole frame padded to a square (a 640x360
   * frame becomes 640x640) and saves about an eighth of the tiny detector's time per frame.
   */
  private prepare(frame: Frame, options: DetectOptions, owned: Array<{ dispose(): void }>): FrameView {
    const { tf } = this;
    const { width, height } = frame;
    const image = this.toTensor(frame);
    owned.push(image);
    const small = Math.min(width, height) < SMALL_IMAGE_SIDE;
    const padX = small ? width : 0;
    const padY = small ? height : 0;
    const workW = width + 2 * padX;
    const workH = height + 2 * padY;
    const work: Tensor3D = small
      ? tf.pad(image, [
          [padY, padY],
          [padX, padX],
          [0, 0],
        ])
      : image;
    if (work !== image) owned.push(work);
    const size = options.detector === 'tiny' ? options.inputSize : SSD_INPUT_SIZE;
    const scale = size / Math.max(workW, workH);
    const rw = Math.max(1, Math.min(size, Math.round(width * scale)));
    const rh = Math.max(1, Math.min(size, Math.round(height * scale)));
    const left = Math.min(size - rw, Math.round(padX * scale));
    const top = Math.min(size - rh, Math.round(padY * scale));
    const longer = Math.max(workW, workH);
    const detInput = tf.tidy(() => {
      let x: Tensor3D = image;
      // maxDimension below the detector's size: detect on the frame as seen at that resolution.
      if (options.maxDimension > 0 && options.maxDimension < Math.min(size, longer)) {
        const s = options.maxDimension / longer;
        x = tf.image.resizeBilinear(x, [
          Math.max(1, Math.round(height * s)),
          Math.max(1, Math.round(width * s)),
        ]);
      }
      x = tf.image.resizeBilinear(x, [rh, rw]);
      return tf.pad(x, [
        [top, size - top - rh],
        [left, size - left - rw],
        [0, 0],
      ]);
    });
    owned.push(detInput);
    return { width, height, work, workW, workH, padX, padY, detInput, size, rw, rh, left, top };
  }

  /**
   * The faces the detector finds, in the work image (for landmarks) and in the frame (reported):
   * at least minFaceSize, largest first, at most maxFaces.
   */
  private async locate(view: FrameView, options: DetectOptions): Promise<KeptFace[]> {
    const { faceapi } = this;
    const { width, height, workW, workH, padX, padY, size, rw, rh, left, top } = view;
    let detections: FaceDetection[];
    if (options.detector === 'tiny') {
      const net = await this.net('tiny');
      detections = await net.locateFaces(
        asFaceTensor(view.detInput),
        new faceapi.TinyFaceDetectorOptions({ inputSize: size, scoreThreshold: options.minConfidence }),
      );
    } else {
      const net = await this.net('ssd');
      detections = await net.locateFaces(
        asFaceTensor(view.detInput),
        new faceapi.SsdMobilenetv1Options({ minConfidence: options.minConfidence }),
      );
    }
    const sx = width / rw;
    const sy = height / rh;
    const kept = detections
      .map((d) => {
        const b = d.forSize(size, size).box;
        const inWork = {
          x: (b.x - left) * sx + padX,
          y: (b.y - top) * sy + padY,
          width: b.width * sx,
          height: b.height * sy,
        };
        const detection = new faceapi.FaceDetection(
          d.score,
          new faceapi.Rect(inWork.x / workW, inWork.y / workH, inWork.width / workW, inWork.height / workH),
          { width: workW, height: workH },
        );
        const rect = clipRect({ ...inWork, x: inWork.x - padX, y: inWork.y - padY }, width, height);
        return {
          detection,
          rect,
          box: { x: rect.x0, y: rect.y0, width: rect.x1 - rect.x0, height: rect.y1 - rect.y0 },
        };
      })
      .filter((d) => Math.min(d.box.width, d.box.height) >= options.minFaceSize)
      .sort((a, b) => b.box.width * b.box.height - a.box.width * a.box.height);
    return options.maxFaces > 0 ? kept.slice(0, options.maxFaces) : kept;
  }

  /**
   * Landmarks of the kept faces (in the frame's pixels) and the chips face-api's own tasks use: the
   * recognition net gets dlib's alignment (eyes and mouth at fixed places), age/gender and expressions
   * the box around the landmarks. Nothing when no option needs landmarks. From the work image, or
   * from the frame's full-resolution picture when there is one ({@link alignFull}).
   */
  private async align(
    view: FrameView,
    kept: KeptFace[],
    options: DetectOptions,
    owned: Array<{ dispose(): void }>,
    full?: Frame,
  ): Promise<FaceChips> {
    const needLandmarks =
      options.landmarks || options.descriptors || options.ageGender || options.expressions;
    if (!needLandmarks) return {};
    if (full) return this.alignFull(view, full, kept, options, owned);
    const { padX, padY } = view;
    return this.chipsFrom(
      view.work,
      kept.map((k) => k.detection),
      (p) => ({ x: p.x - padX, y: p.y - padY }),
      options,
      owned,
    );
  }

  /**
   * {@link align} from the full-resolution picture of the frame: each face's box, scaled to the
   * picture, is cut out with half its size around it, and landmarks and chips are computed from
   * that cut (face-api's own steps, on a small tensor rather than on the whole picture, so the
   * cost grows with the faces, not with the picture). Landmarks come back in the frame's pixels.
   */
  private async alignFull(
    view: FrameView,
    full: Frame,
    kept: KeptFace[],
    options: DetectOptions,
    owned: Array<{ dispose(): void }>,
  ): Promise<FaceChips> {
    const { faceapi, tf } = this;
    const k = full.width / view.width;
    const chips: Required<FaceChips> = { landmarks: [], descriptor: [], attributes: [] };
    for (const face of kept) {
      const b = face.detection.box;
      const box = {
        x: (b.x - view.padX) * k,
        y: (b.y - view.padY) * k,
        width: b.width * k,
        height: b.height * k,
      };
      const m = Math.max(box.width, box.height) / 2;
      const cut = clipRect(
        { x: box.x - m, y: box.y - m, width: box.width + 2 * m, height: box.height + 2 * m },
        full.width,
        full.height,
      );
      const pixels = extractRgb(full.data, full.width, full.channels, cut);
      const image = tf.tensor3d(pixels.data, [pixels.height, pixels.width, 3], 'int32');
      owned.push(image);
      const size = { width: pixels.width, height: pixels.height };
      const detection = new faceapi.FaceDetection(
        face.detection.score,
        new faceapi.Rect(
          (box.x - cut.x0) / size.width,
          (box.y - cut.y0) / size.height,
          box.width / size.width,
          box.height / size.height,
        ),
        size,
      );
      const one = await this.chipsFrom(
        image,
        [detection],
        (p) => ({ x: (p.x + cut.x0) / k, y: (p.y + cut.y0) / k }),
        options,
        owned,
      );
      chips.landmarks.push(...(one.landmarks ?? []));
      chips.descriptor.push(...(one.descriptor ?? []));
      chips.attributes.push(...(one.attributes ?? []));
    }
    return {
      landmarks: chips.landmarks,
      ...(options.descriptors ? { descriptor: chips.descriptor } : {}),
      ...(options.ageGender || options.expressions ? { attributes: chips.attributes } : {}),
    };
  }

  /**
   * face-api's own steps on `image` for the faces `detections` found in it: 68 landmarks (moved into
   * the frame's pixels by `toFrame`), then the chips the options ask for. Every tensor made goes to
   * `owned`.
   */
  private async chipsFrom(
    image: Tensor3D,
    detections: FaceDetection[],
    toFrame: (p: Point) => Point,
    options: DetectOptions,
    owned: Array<{ dispose(): void }>,
  ): Promise<FaceChips> {
    const { faceapi } = this;
    const landmarkNet = await this.net('landmarks');
    const faceTensors = await faceapi.extractFaceTensors(asFaceTensor(image), detections);
    owned.push(...faceTensors);
    const unshifted = await Promise.all(
      faceTensors.map((t) => landmarkNet.detectLandmarks(t) as Promise<FaceApiTypes.FaceLandmarks68>),
    );
    const withLandmarks = detections.map((detection, i) =>
      faceapi.extendWithFaceLandmarks({ detection }, unshifted[i]),
    );
    const chips: FaceChips = {
      landmarks: withLandmarks.map((w) => w.landmarks.positions.map((p) => toFrame({ x: p.x, y: p.y }))),
    };
    if (options.descriptors) {
      chips.descriptor = await faceapi.extractFaceTensors(
        asFaceTensor(image),
        withLandmarks.map((w) => w.landmarks.align(null, { useDlibAlignment: true })),
      );
      owned.push(...chips.descriptor);
    }
    if (options.ageGender || options.expressions) {
      chips.attributes = await faceapi.extractFaceTensors(
        asFaceTensor(image),
        withLandmarks.map((w) => w.alignedRect),
      );
      owned.push(...chips.attributes);
    }
    return chips;
  }

  /** One face's figures: score, quality, and what the options ask for (landmarks, descriptor, age, crop). */
  private async describe(
    frame: Frame,
    k: KeptFace,
    chips: FaceChips,
    i: number,
    options: DetectOptions,
  ): Promise<WorkerFace> {
    const { faceapi } = this;
    const { width, height } = frame;
    const landmarks = chips.landmarks?.[i];
    const face: WorkerFace = {
      box: k.box,
      score: k.detection.score,
      quality: {
        faceSize: Math.min(k.box.width, k.box.height),
        sharpness: laplacianVariance(frame.data, width, frame.channels, k.rect),
        yaw: yawFromLandmarks(landmarks),
      },
    };
    if (options.landmarks && landmarks) face.landmarks = landmarks;
    const descriptorChip = chips.descriptor?.[i];
    if (descriptorChip) {
      const net = await this.net('recognition');
      face.descriptor = Array.from((await net.computeFaceDescriptor(descriptorChip)) as Float32Array);
    }
    const chip = chips.attributes?.[i];
    if (chip && options.ageGender) {
      const net = await this.net('ageGender');
      const p = (await net.predictAgeAndGender(chip)) as FaceApiTypes.AgeAndGenderPrediction;
      face.age = p.age;
      face.gender = p.gender === faceapi.Gender.FEMALE ? 'female' : 'male';
      face.genderProbability = p.genderProbability;
    }
    if (chip && options.expressions) {
      const net = await this.net('expressions');
      const e = (await net.predictExpressions(chip)) as FaceApiTypes.FaceExpressions;
      face.expressions = Object.fromEntries(e.asSortedArray().map((x) => [x.expression, x.probability]));
    }
    if (options.crop) {
      const mx = k.box.width * options.cropMargin;
      const my = k.box.height * options.cropMargin;
      const r = clipRect(
        { x: k.box.x - mx, y: k.box.y - my, width: k.box.width + 2 * mx, height: k.box.height + 2 * my },
        width,
        height,
      );
      face.rawCrop = extractRgb(frame.data, width, frame.channels, r);
    }
    return face;
  }

  /** The frame as an int32 RGB tensor (grey repeated, alpha dropped). */
  private toTensor(frame: Frame): Tensor3D {
    const { tf } = this;
    const { data, width, height, channels } = frame;
    return tf.tidy(() => {
      const t = tf.tensor3d(data, [height, width, channels], 'int32');
      if (channels === 3) return t;
      if (channels === 4) return tf.slice(t, [0, 0, 0], [height, width, 3]);
      return tf.tile(t, [1, 1, 3]);
    });
  }
}
