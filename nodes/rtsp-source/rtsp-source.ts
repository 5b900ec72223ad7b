import type { RtspSourceSettings } from '../../lib/types/node-settings';
import { cameraProvider } from '../shared/camera';
import { onClose } from '../shared/close';
import { translator } from '../shared/i18n';
import { onInput } from '../shared/input';
import { libraryRegistry } from '../library/registry';
import { follow } from '../shared/provider';
import type { Node, NodeAPI, NodeDef } from '../shared/red';
import { upgradeSettings } from '../shared/settings';
import { Status } from '../shared/status';
import { RtspSourceController } from './controller';

interface RtspSourceDef extends NodeDef, RtspSourceSettings {}

/**
 * rtsp-source: frames from a face-camera (RTSP, a file, MJPEG/HTTP, a webcam) on output 1, its
 * connection events on output 2; `start`, `stop` and `restart` on its input.
 */
export = function register(RED: NodeAPI): void {
  function RtspSourceNode(this: Node, def: RtspSourceDef): void {
    RED.nodes.createNode(this, def);
    const settings = upgradeSettings('rtsp-source', def, (m) => this.warn(m));
    const status = new Status(this, translator(RED, 'rtsp-source'));
    const library = libraryRegistry(RED);
    const controller = new RtspSourceController(
      this.id,
      () => cameraProvider(RED, settings.camera),
      status,
      (msg) => this.send(msg),
      (err) => this.error(err.message),
      (frame) => library.live.fromSource(frame),
    );
    library.addSource(this, {
      name: def.name || '',
      cameraName: () => (RED.nodes.getNode(settings.camera) as { cameraName?: string } | null)?.cameraName,
      info: () => controller.info(),
      start: () => controller.start(),
      stop: () => controller.stop(),
    });
    // The camera's own state (it failed to start, it closed under us) reaches this node too.
    follow(
      this,
      () => cameraProvider(RED, settings.camera),
      ({ state, error }) => {
        if (state === 'error' && error) status.error(error);
      },
    );
    if (settings.autoStart !== false) void controller.start();
    else status.set('off', 'status.stopped');
    onInput(this, status, ({ msg }) => controller.command(msg.payload));
    onClose(this, () => controller.close());
  }
  RED.nodes.registerType('rtsp-source', RtspSourceNode);
};
