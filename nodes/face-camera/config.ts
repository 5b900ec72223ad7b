import type { CameraConfig } from '../../lib/camera/stream';
import { CAMERA } from '../../lib/types/defaults';
import type { FaceCameraCredentials, FaceCameraSettings } from '../../lib/types/node-settings';
import { SettingsReader, type Warn } from '../shared/settings';

/** face-camera's saved settings and credentials, read against lib/types/defaults.ts. */
export function cameraSettings(
  name: string,
  def: Partial<FaceCameraSettings>,
  credentials: Partial<FaceCameraCredentials> | undefined,
  warn?: Warn,
): CameraConfig {
  const r = new SettingsReader(warn);
  return {
    name,
    source: r.choice('source', CAMERA.source, def.source),
    url: String(def.url ?? '').trim(),
    username: credentials?.username?.trim() || undefined,
    password: credentials?.password || undefined,
    transport: r.choice('transport', CAMERA.transport, def.transport),
    fps: r.number('fps', CAMERA.fps, def.fps),
    width: r.number('width', CAMERA.width, def.width),
    describeFrom: r.choice('describeFrom', CAMERA.describeFrom, def.describeFrom),
    stallTimeout: r.number('stallTimeout', CAMERA.stallTimeout, def.stallTimeout),
    maxAttempts: r.number('maxAttempts', CAMERA.maxAttempts, def.maxAttempts),
    retryDelayMs: CAMERA.retryDelay.default * 1000,
    maxRetryDelayMs: CAMERA.maxRetryDelay.default * 1000,
    socketTimeout: CAMERA.socketTimeout.default,
  };
}
