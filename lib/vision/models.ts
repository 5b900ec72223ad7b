/**
 * Where the weights are and how the recognition model is identified. Nothing is ever downloaded:
 * the default weights are the ones shipped inside @vladmandic/face-api.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { EngineError } from './errors';

/**
 * The folder weights are loaded from when none is configured: FACEWATCH_MODEL_PATH when set (for the
 * CLI, the default engine and face-engines without a model folder), else the weights shipped inside
 * @vladmandic/face-api. Nothing is ever downloaded.
 */
export function defaultModelPath(): string {
  const fromEnv = process.env.FACEWATCH_MODEL_PATH?.trim();
  if (fromEnv) return path.resolve(fromEnv);
  return path.join(path.dirname(require.resolve('@vladmandic/face-api/package.json')), 'model');
}

/** Manifest file names (face-api's naming) of each network, relative to the model folder. */
export const MODEL_MANIFESTS = {
  ssd: 'ssd_mobilenetv1_model-weights_manifest.json',
  tiny: 'tiny_face_detector_model-weights_manifest.json',
  landmarks: 'face_landmark_68_model-weights_manifest.json',
  recognition: 'face_recognition_model-weights_manifest.json',
  ageGender: 'age_gender_model-weights_manifest.json',
  expressions: 'face_expression_model-weights_manifest.json',
} as const;

/** A network of the pipeline. */
export type ModelName = keyof typeof MODEL_MANIFESTS;

interface ManifestGroup {
  paths: string[];
}

/**
 * Id of the recognition weights in `modelPath`: `frnet-` and the first 12 hex digits of the SHA-256
 * of its weight files, in manifest order. Descriptors carry it, so descriptors made by different
 * weights are never compared; the same bytes anywhere give the same id.
 */
export async function recognitionModelId(modelPath: string = defaultModelPath()): Promise<string> {
  const manifestFile = path.join(modelPath, MODEL_MANIFESTS.recognition);
  let groups: ManifestGroup[];
  try {
    groups = JSON.parse(await readFile(manifestFile, 'utf8')) as ManifestGroup[];
  } catch (err) {
    throw new EngineError(
      'INVALID_CONFIG',
      `cannot read the recognition model manifest ${manifestFile}: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  const hash = createHash('sha256');
  for (const group of groups) {
    for (const file of group.paths) hash.update(await readFile(path.join(modelPath, file)));
  }
  return `frnet-${hash.digest('hex').slice(0, 12)}`;
}
