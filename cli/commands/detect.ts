/**
 * `facewatch detect FILE...`: finds faces in image files and prints one JSON line per file,
 * `{"file", "width", "height", "faces": [...]}`, in the order given. A file that cannot be read or
 * decoded gets a message on stderr and makes the exit code 1; the other files are still processed.
 */
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import type { DetectOptions, DetectedFace } from '../../lib/types';
import { DETECT, ENGINE } from '../../lib/types/defaults';
import {
  choiceOption,
  choicesText,
  defaultText,
  EXIT,
  optionalNumberOption,
  parse,
  printJson,
  runCommand,
  UsageError,
  withEngine,
} from '../support';

export const usage = 'detect [options] FILE...   find faces in images; prints one JSON line per file';

const HELP = `usage: facewatch detect [options] FILE...

Finds the faces in JPEG, PNG or WebP files and prints one JSON line per file:
  {"file", "width", "height", "faces": [{box, score, quality, modelId, ...}]}
A file that cannot be read or decoded gets a message on stderr; the others go on.
Exit code 0 when every file was read, 1 when one could not be (message on stderr), 2 on bad usage
or an engine that cannot start (e.g. model files missing).

options:
  --detector D            detector network: ${choicesText(DETECT.detector)}
  --input-size N          input size of the tiny detector, multiple of ${DETECT.inputSize.multipleOf} ${defaultText(DETECT.inputSize)}
  --min-confidence X      minimum detector score, ${DETECT.minConfidence.min}..${DETECT.minConfidence.max} ${defaultText(DETECT.minConfidence)}
  --min-face-size N       drop faces smaller than N pixels ${defaultText(DETECT.minFaceSize)}
  --max-faces N           at most N faces per image, largest first ${defaultText(DETECT.maxFaces, 'all')}
  --max-dimension N       down-scale larger images to N pixels before detection ${defaultText(DETECT.maxDimension, 'never')}
  --landmarks             add the 68 landmark points
  --descriptors           add the 128-number descriptors
  --age-gender            add age and gender estimates
  --expressions           add expression probabilities
  --backend NAME          ${choicesText(ENGINE.backend)}
  --pool N                inference workers (default: one per core, at most one per file)
  --model-path DIR        folder of face-api weights (default: those inside @vladmandic/face-api)
  -h, --help              this text`;

/** A face as printed: everything but binary crops. */
function printable(face: DetectedFace): Omit<DetectedFace, 'crop'> {
  const { crop, ...rest } = face;
  return rest;
}

export function run(args: string[]): Promise<number> {
  return runCommand('detect', HELP, async () => {
    const { values: v, positionals: files } = parse(args, {
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
    });
    if (files.length === 0) throw new UsageError('no image file given');
    const defaults: Partial<DetectOptions> = {
      detector: v.detector === undefined ? undefined : choiceOption(v.detector, 'detector', DETECT.detector),
      inputSize: optionalNumberOption(v['input-size'], 'input-size', DETECT.inputSize),
      minConfidence: optionalNumberOption(v['min-confidence'], 'min-confidence', DETECT.minConfidence),
      minFaceSize: optionalNumberOption(v['min-face-size'], 'min-face-size', DETECT.minFaceSize),
      maxFaces: optionalNumberOption(v['max-faces'], 'max-faces', DETECT.maxFaces),
      maxDimension: optionalNumberOption(v['max-dimension'], 'max-dimension', DETECT.maxDimension),
      landmarks: v.landmarks ?? false,
      descriptors: v.descriptors ?? false,
      ageGender: v['age-gender'] ?? false,
      expressions: v.expressions ?? false,
    };
    const pool = optionalNumberOption(v.pool, 'pool', { ...ENGINE.poolSize, min: 1 });
    const poolSize =
      pool ?? Math.max(1, Math.min(files.length, os.availableParallelism?.() ?? os.cpus().length));
    return withEngine(
      { backend: v.backend, poolSize, modelPath: v['model-path'], defaults },
      async (engine) => {
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
        // stdout holds one line per image read, so it can be piped as is; failures go to stderr.
        let failed = 0;
        for (const [i, outcome] of outcomes.entries()) {
          const o = await outcome;
          if (o.line) printJson(o.line);
          else {
            failed++;
            process.stderr.write(`facewatch detect: ${files[i]}: ${o.error}\n`);
          }
        }
        return failed ? EXIT.failed : EXIT.ok;
      },
    );
  });
}
