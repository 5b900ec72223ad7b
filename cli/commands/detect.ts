/**
 * `facewatch detect FILE...`: finds faces in image files and prints one JSON line per file,
 * `{"file", "width", "height", "faces": [...]}`, in the order given. A file that cannot be read or
 * decoded gets a message on stderr and makes the exit code 1; the other files are still processed.
 */
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import { parseArgs } from 'node:util';
import type { BackendChoice, DetectOptions, DetectedFace } from '../../lib/types';
import { FaceEngine } from '../../lib/vision/engine';

export const usage = 'detect [options] FILE...   find faces in images; prints one JSON line per file';

const HELP = `usage: facewatch detect [options] FILE...

Finds the faces in JPEG, PNG or WebP files and prints one JSON line per file:
  {"file", "width", "height", "faces": [{box, score, quality, modelId, ...}]}
Exit code 0 when every file was read, 1 when one could not be (message on stderr), 2 on bad usage.

options:
  --detector ssd|tiny     detector network (default ssd)
  --input-size N          input size of the tiny detector, multiple of 32 (default 416)
  --min-confidence X      minimum detector score, 0..1 (default 0.5)
  --min-face-size N       drop faces smaller than N pixels (default 50)
  --max-faces N           at most N faces per image, largest first (default 0: all)
  --max-dimension N       down-scale larger images to N pixels before detection (default 0: never)
  --landmarks             add the 68 landmark points
  --descriptors           add the 128-number descriptors
  --age-gender            add age and gender estimates
  --expressions           add expression probabilities
  --backend NAME          auto, tfjs-node, wasm or cpu (default: FACEWATCH_BACKEND, else auto)
  --pool N                inference workers (default: one per core, at most one per file)
  --model-path DIR        folder of face-api weights (default: those inside @vladmandic/face-api)
  -h, --help              this text
`;

function fail(message: string): number {
  process.stderr.write(`facewatch detect: ${message}\n`);
  return 2;
}

function toNumber(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n)) throw new Error(`--${name} needs a number, not "${value}"`);
  return n;
}

/** A face as printed: everything but binary crops. */
function printable(face: DetectedFace): Omit<DetectedFace, 'crop'> {
  const { crop, ...rest } = face;
  return rest;
}

export async function run(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      options: {
        detector: { type: 'string' },
        'input-size': { type: 'string' },
        'min-confidence': { type: 'string' },
        'min-face-size': { type: 'string' },
        'max-faces': { type: 'string' },
        'max-dimension': { type: 'string' },
        landmarks: { type: 'boolean' },
        descriptors: { type: 'boolean' },
        'age-gender': { type: 'boolean' },
        expressions: { type: 'boolean' },
        backend: { type: 'string' },
        pool: { type: 'string' },
        'model-path': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    return fail(`${err instanceof Error ? err.message : String(err)}\n\n${HELP}`);
  }
  const { values: v, positionals: files } = parsed;
  if (v.help) {
    process.stdout.write(HELP);
    return 0;
  }
  if (files.length === 0) return fail(`no image file given\n\n${HELP}`);

  let options: Partial<DetectOptions>;
  let poolSize: number | undefined;
  try {
    options = {
      detector: v.detector as DetectOptions['detector'] | undefined,
      inputSize: toNumber('input-size', v['input-size']),
      minConfidence: toNumber('min-confidence', v['min-confidence']),
      minFaceSize: toNumber('min-face-size', v['min-face-size']),
      maxFaces: toNumber('max-faces', v['max-faces']),
      maxDimension: toNumber('max-dimension', v['max-dimension']),
      landmarks: v.landmarks ?? false,
      descriptors: v.descriptors ?? false,
      ageGender: v['age-gender'] ?? false,
      expressions: v.expressions ?? false,
    };
    poolSize = toNumber('pool', v.pool);
  } catch (err) {
    return fail(err instanceof Error ? err.message : String(err));
  }

  let engine: FaceEngine;
  try {
    engine = await FaceEngine.create({
      backend: v.backend as BackendChoice | undefined,
      poolSize:
        poolSize ?? Math.max(1, Math.min(files.length, os.availableParallelism?.() ?? os.cpus().length)),
      modelPath: v['model-path'],
      defaults: options,
    });
  } catch (err) {
    return fail(err instanceof Error ? err.message : String(err));
  }

  let exitCode = 0;
  try {
    // All files go to the pool at once (it queues them); results print in the order given.
    // Each outcome is settled at once, so no rejection waits unhandled behind an earlier file.
    const outcomes = files.map(async (file) => {
      try {
        const bytes = await readFile(file).catch((err: NodeJS.ErrnoException) => {
          throw new Error(`cannot read: ${err.code === 'ENOENT' ? 'no such file' : err.message}`);
        });
        const r = await engine.detect(bytes);
        return { line: { file, width: r.width, height: r.height, faces: r.faces.map(printable) } };
      } catch (err) {
        return { error: err instanceof Error ? err.message : String(err) };
      }
    });
    for (let i = 0; i < files.length; i++) {
      const outcome = await outcomes[i];
      if (outcome.line) {
        process.stdout.write(JSON.stringify(outcome.line) + '\n');
      } else {
        exitCode = 1;
        process.stderr.write(`facewatch detect: ${files[i]}: ${outcome.error}\n`);
      }
    }
  } finally {
    await engine.close();
  }
  return exitCode;
}
