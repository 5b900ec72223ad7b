import { acquireCamera, cameras } from '../../lib/camera/registry';
import { resolveCameraConfig, type CameraConfig } from '../../lib/camera/stream';
import { reservedKeyProblem } from '../../lib/types/keys';
import type { FaceCameraCredentials, FaceCameraSettings } from '../../lib/types/node-settings';
import type { CameraProvider } from '../shared/camera';
import { missingAddress, offerResource } from '../shared/provider';
import type { Node, NodeAPI, NodeDef } from '../shared/red';
import { substituteEnv, unsetEnv, upgradeSettings } from '../shared/settings';
import { cameraSettings } from './config';
import { registerCameraRoutes, type DeployedCamera } from './routes';

interface FaceCameraDef extends NodeDef, FaceCameraSettings {}

/**
 * face-camera: a config node holding one camera's address, credentials and rate. It owns the
 * camera's one ffmpeg (through the shared owner), started by the first rtsp-source that wants frames
 * and stopped by the last, and pushes the stream's state to every rtsp-source using it.
 */
export = function register(RED: NodeAPI): void {
  function FaceCameraNode(this: CameraProvider & DeployedCamera, def: FaceCameraDef): void {
    RED.nodes.createNode(this, def);
    const warn = (m: string): void => this.warn(m);
    this.cameraName = def.name?.trim() || this.id;
    const credentials = (this as unknown as { credentials?: Partial<FaceCameraCredentials> }).credentials;
    const settings = upgradeSettings('face-camera', def, warn);
    const rawUrl = String(settings.url ?? '');
    const unset = unsetEnv(RED, this, rawUrl);
    settings.url = substituteEnv(RED, this, rawUrl);
    const config: CameraConfig = cameraSettings(this.cameraName, settings, credentials, warn);
    // Where this camera's stored credentials may go (the admin routes ask): its own address only.
    this.addresses = {
      source: config.source ?? 'network',
      rawUrl: rawUrl.trim(),
      url: config.url,
      onvifAddress: typeof def.onvifAddress === 'string' ? def.onvifAddress.trim() : '',
    };
    const reserved = reservedKeyProblem('camera name', def.name);
    if (reserved) {
      // The name would become a key of the events' and the live view's tables: refused outright, and
      // the camera goes by its id meanwhile.
      this.cameraName = this.id;
      this.problem = reserved;
      this.error(`camera "${this.id}": ${reserved}`);
    } else {
      // No address yet (the example flow before its variable is set) is not a failure: this node and
      // every rtsp-source using it say so, and nothing is started.
      this.unset = missingAddress('camera', unset, config.url);
      if (this.unset) {
        this.problem = this.unset;
        this.warn(`camera "${this.cameraName}": ${this.unset}`);
      } else
        try {
          resolveCameraConfig(config);
        } catch (err) {
          // Said at deploy, by this node and by every rtsp-source using it; never with the password.
          this.problem = (err as Error).message;
          this.error(`camera "${this.cameraName}": ${this.problem}`);
        }
    }
    offerResource(this, cameras, this.id, (user) => acquireCamera(this.id, user ?? 'anonymous', config));
  }
  RED.nodes.registerType(
    'face-camera',
    FaceCameraNode as unknown as (this: Node, def: FaceCameraDef) => void,
    {
      credentials: { username: { type: 'text' }, password: { type: 'password' } },
    },
  );
  registerCameraRoutes(RED);
};
