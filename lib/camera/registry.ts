/**
 * Camera streams shared by key and counted by their users: every rtsp-source naming one face-camera
 * uses its one ffmpeg, started with the first user that wants frames and stopped with the last. A
 * redeploy waits for the previous ffmpeg to exit before a new one starts, so at most one ffmpeg runs
 * per camera at any moment.
 */
import { configVersion, ResourceOwner, type Lease } from '../shared/owner';
import { CameraStream, type CameraConfig } from './stream';

/** The process-wide owner of camera streams. */
export const cameras = new ResourceOwner<CameraStream>({ close: (stream) => stream.stop() });

/**
 * Leases the stream of camera `key` for `user`, starting its ffmpeg if nobody holds it. The stream
 * is created from `config` (which throws at once for a bad address); later users share it.
 */
export function acquireCamera(key: string, user: string, config: CameraConfig): Promise<Lease<CameraStream>> {
  return cameras.acquire(
    key,
    user,
    () => {
      const stream = new CameraStream(config);
      stream.start();
      return Promise.resolve(stream);
    },
    configVersion(config),
  );
}
