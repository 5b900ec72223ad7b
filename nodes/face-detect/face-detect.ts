import type { FaceDetectSettings } from '../../lib/types/node-settings';
import { onClose } from '../shared/close';
import { engineProvider, leaseEngine } from '../shared/engine';
import { translator } from '../shared/i18n';
import { onInput } from '../shared/input';
import { follow } from '../shared/provider';
import { upgradeSettings } from '../shared/settings';
import type { Node, NodeAPI, NodeDef } from '../shared/red';
import { Status } from '../shared/status';
import { detectSettings } from './config';
import { FaceDetectController, type DetectMessage } from './controller';

interface FaceDetectDef extends NodeDef, FaceDetectSettings {}

/** face-detect: finds faces and their descriptors in an image or frame, in the engine's worker pool. */
export = function register(RED: NodeAPI): void {
  function FaceDetectNode(this: Node, def: FaceDetectDef): void {
    RED.nodes.createNode(this, def);
    const status = new Status(this, translator(RED, 'face-detect'));
    status.set('idle', 'status.starting');
    const lease = leaseEngine(RED, def.engine || undefined, this);
    follow(
      this,
      () => engineProvider(RED, def.engine || undefined),
      ({ state, resource, error }) => {
        if (state === 'error') status.error(error);
        else if (state === 'closed') status.set('off', 'status.closed');
        else if (state === 'open' && resource)
          status.set('idle', 'status.ready', { backend: resource.backend });
      },
    );
    lease.then(
      ({ resource: engine }) => status.set('idle', 'status.ready', { backend: engine.backend }),
      (err: unknown) => status.error(err),
    );
    const warn = (m: string): void => this.warn(m);
    const controller = new FaceDetectController(
      this,
      status,
      lease,
      detectSettings(upgradeSettings('face-detect', def, warn), warn),
    );
    onInput<DetectMessage>(this, status, ({ msg, send }) => controller.handle(msg, send));
    onClose(this, async () => {
      controller.stop();
      const held = await lease.catch(() => undefined);
      await held?.release();
    });
  }
  RED.nodes.registerType('face-detect', FaceDetectNode);
};
