/**
 * The settings each FaceWatch node stores in a flow file, as the editor writes them and the runtime
 * reads them. Shared by both sides, so a renamed or retyped setting fails the build on both.
 * Numbers typed in text inputs arrive as strings, an empty input as ''.
 */
import type {
  CameraSource,
  DescribeFrom,
  DuplicatePolicy,
  ExistingPolicy,
  FacesPolicy,
  KeepImagePolicy,
  MatchRule,
  MotionMode,
  SkippedFramePolicy,
  Transport,
} from './defaults';
import type { BackendChoice, DetectorName } from './index';

/** A number setting: a number, its text, or '' for "not set". */
export type NumberSetting = number | string;

/**
 * Every node's settings carry the settings version they were saved with (SETTINGS_VERSION in
 * migrate.ts; absent in flows saved before versions existed, which are version 0). The hidden
 * input stores it as text.
 */
export interface VersionedSettings {
  version?: NumberSetting;
}

export interface FaceEngineSettings extends VersionedSettings {
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
export type KeepImage = KeepImagePolicy;

export interface FaceDetectSettings extends VersionedSettings {
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
  /** Motion gating of camera frames; absent in flows saved before it existed (read as the default). */
  motion?: MotionMode;
  motionSensitivity?: NumberSetting;
  /** % of the frame. */
  motionMinArea?: NumberSetting;
  /** Seconds. */
  motionKeepAlive?: NumberSetting;
  /** Seconds. */
  motionRefresh?: NumberSetting;
  /** A frame the gate skipped: sent on with no faces, or dropped. */
  motionSkipped?: SkippedFramePolicy;
}

export interface FaceStoreSettings extends VersionedSettings {
  /** `nedb` (a datafile of this instance, the default) or `postgres` (a schema several instances share). */
  backend: 'nedb' | 'postgres';
  /** nedb: '' = facewatch/faces.db in the user directory. */
  file: string;
  /** nedb: rolling backups of the datafile. */
  backups: NumberSetting;
  /** postgres: `postgres://host:5432/database`, with `${VAR}`s (the password belongs in the credentials). */
  url: string;
  /** postgres: '' = facewatch. */
  schema: string;
  /** postgres: connections of the pool. */
  poolSize: NumberSetting;
}

export interface FaceMatchSettings extends VersionedSettings {
  store: string;
  threshold: NumberSetting;
  margin: NumberSetting;
  candidates: NumberSetting;
  /** How a person's samples are compared with a face (MATCH_RULES). */
  rule: MatchRule;
  /** Distance under which a face keeps the name it had in the camera's previous frame; 0: off. */
  hold: NumberSetting;
  /** 1, or 2 for separate known and unknown outputs. */
  outputs: number;
}

export interface FaceRegisterSettings extends VersionedSettings {
  store: string;
  engine: string;
  faces: FacesPolicy;
  existing: ExistingPolicy;
  duplicatePolicy: DuplicatePolicy;
  duplicateThreshold: NumberSetting;
  minFaceSize: NumberSetting;
  minSharpness: NumberSetting;
  maxYaw: NumberSetting;
  maxMegabytes: NumberSetting;
}

export interface FaceCameraSettings extends VersionedSettings {
  /** What kind of address `url` is: network (the default), file or device. */
  source: CameraSource;
  /**
   * rtsp://, rtsps://, http(s):// (MJPEG, snapshots) for a network source; a path or file:// URL for a
   * file; /dev/videoN for a device. ${ENV_VAR} is substituted.
   */
  url: string;
  /**
   * The ONVIF device service the camera was set up from (Discover, then its profiles), saved by the
   * editor: the stored credentials are used for Discover and profiles only toward this address.
   */
  onvifAddress?: string;
  transport: Transport;
  fps: NumberSetting;
  /** 0 keeps the camera's width. */
  width: NumberSetting;
  /** What faces are described from (DESCRIBE_FROM). */
  describeFrom: DescribeFrom;
  stallTimeout: NumberSetting;
  /** 0 (or '') never gives up. */
  maxAttempts: NumberSetting;
}

/** face-camera's credentials (Node-RED credentials: kept in flows_cred.json, never in the flow). */
/** face-store's credentials (postgres): apart from the URL, so the flow file never holds the password. */
export interface FaceStoreCredentials {
  username: string;
  password: string;
}

export interface FaceCameraCredentials {
  username: string;
  password: string;
}

export interface RtspSourceSettings extends VersionedSettings {
  /** Id of the face-camera config node. */
  camera: string;
  autoStart: boolean;
}

export interface DetectionLogSettings extends VersionedSettings {
  /** Id of the face-store config node; the events live beside its datafile. */
  store: string;
  /** Seconds. */
  cooldown: NumberSetting;
  snapshots: boolean;
  retainKnownDays: NumberSetting;
  retainUnknownDays: NumberSetting;
  /** 0 (or '') = no cap. */
  maxDiskMB: NumberSetting;
  /** IANA time zone name; '' = the system's. */
  timezone: string;
  /** Give unknown faces recurring visitor ids (default on; off keeps no descriptor of an unknown face). */
  visitors?: boolean;
  /** Also write facewatch/detections_YYYY-MM-DD.jsonl. */
  dailyFiles: boolean;
}

export interface FaceMqttBrokerSettings extends VersionedSettings {
  /** mqtt://, mqtts://, ws:// or wss://; ${ENV_VAR} is substituted. */
  url: string;
  /** Empty: one is generated. */
  clientId: string;
  /** Empty: `facewatch`. */
  baseTopic: string;
  discovery: boolean;
  /** Empty: `homeassistant`. */
  discoveryPrefix: string;
  qos: NumberSetting;
  queueLimit: NumberSetting;
  /** Path of a CA certificate file (PEM); empty: the system's CAs. */
  tlsCa: string;
  /** Paths of a client certificate and its key (PEM); both or neither. */
  tlsCert: string;
  tlsKey: string;
  /** Verify the broker's certificate (on unless turned off). */
  tlsVerify: boolean;
}

/** face-mqtt-broker's credentials (Node-RED credentials). */
export interface FaceMqttBrokerCredentials {
  username: string;
  password: string;
}

export interface FaceMqttSettings extends VersionedSettings {
  /** Id of the face-mqtt-broker config node. */
  broker: string;
  /** Id of a face-store config node (optional): per-person discovery and erasure need it. */
  store: string;
  snapshots: boolean;
  presenceTimeout: NumberSetting;
}
