/**
 * The settings each FaceWatch node stores in a flow file, as the editor writes them and the runtime
 * reads them. Shared by both sides, so a renamed or retyped setting fails the build on both.
 * Numbers typed in text inputs arrive as strings, an empty input as ''.
 */
import type { BackendChoice, DetectorName } from './index';

/** A number setting: a number, its text, or '' for "not set". */
export type NumberSetting = number | string;

export interface FaceEngineSettings {
  backend: BackendChoice;
  poolSize: NumberSetting;
  modelPath: string;
  detector: DetectorName;
  inputSize: NumberSetting;
  minConfidence: NumberSetting;
  minFaceSize: NumberSetting;
  maxDimension: NumberSetting;
}

/** When face-detect keeps the frame (as msg.image) after detection. */
export type KeepImage = 'faces' | 'always' | 'never';

export interface FaceDetectSettings {
  /** Id of a face-engine config node; '' = the shared default engine. */
  engine: string;
  /** '' = the engine's default. */
  detector: '' | DetectorName;
  minConfidence: NumberSetting;
  minFaceSize: NumberSetting;
  maxFaces: NumberSetting;
  landmarks: boolean;
  descriptors: boolean;
  ageGender: boolean;
  expressions: boolean;
  crops: boolean;
  keepImage: KeepImage;
}

export interface FaceStoreSettings {
  /** '' = facewatch/faces.db in the user directory. */
  file: string;
  backups: NumberSetting;
}

export interface FaceMatchSettings {
  store: string;
  threshold: NumberSetting;
  margin: NumberSetting;
  candidates: NumberSetting;
  /** 1, or 2 for separate known and unknown outputs. */
  outputs: number;
}

export interface FaceRegisterSettings {
  store: string;
  engine: string;
  faces: 'single' | 'largest';
  existing: 'add-sample' | 'update' | 'refuse';
  duplicatePolicy: 'refuse' | 'add-sample' | 'allow';
  duplicateThreshold: NumberSetting;
  minFaceSize: NumberSetting;
  minSharpness: NumberSetting;
  maxYaw: NumberSetting;
  maxMegabytes: NumberSetting;
}
