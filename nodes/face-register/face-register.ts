import type { FaceRegisterSettings } from '../../lib/types/node-settings';
import type { EngineLease } from '../../lib/vision/registry';
import { onClose } from '../shared/close';
import { engineProvider, leaseEngine } from '../shared/engine';
import { translator } from '../shared/i18n';
import { onInput } from '../shared/input';
import { follow, type StateListener } from '../shared/provider';
import { upgradeSettings } from '../shared/settings';
import type { Node, NodeAPI, NodeDef } from '../shared/red';
import { Status } from '../shared/status';
import { showAvailability, storeProvider, type StoreLease } from '../shared/store';
import { enrolSettings } from '../../lib/store/enrol-settings';
import { FaceRegisterController, type RegisterMessage } from './controller';

interface FaceRegisterDef extends NodeDef, FaceRegisterSettings {}

/** face-register: enrols, updates, lists, deletes and imports people, by msg.topic. */
export = function register(RED: NodeAPI): void {
  function FaceRegisterNode(this: Node, def: FaceRegisterDef): void {
    RED.nodes.createNode(this, def);
    const status = new Status(this, translator(RED, 'face-register'));
    const store: Promise<StoreLease> = Promise.resolve().then(() =>
      storeProvider(RED, def.store).acquire(this.id),
    );
    // The engine starts on the first photo: list, get, update and delete need none.
    let engine: Promise<EngineLease> | undefined;
    const getEngine = (): Promise<EngineLease> =>
      (engine ??= leaseEngine(RED, def.engine || undefined, this));
    // Failures of the store or the engine, and their closing, reach this node's status.
    const onState: StateListener = ({ state, error }) => {
      if (state === 'error') status.error(error);
      else if (state === 'closed') status.set('off', 'status.closed');
    };
    follow(this, () => storeProvider(RED, def.store), onState);
    follow(this, () => engineProvider(RED, def.engine || undefined), onState);
    showAvailability(this, store, status);
    store.then(
      ({ resource: s }) => status.set('idle', 'status.size', { size: s.size() }),
      (err: unknown) => status.error(err),
    );
    const warn = (m: string): void => this.warn(m);
    const options = enrolSettings(upgradeSettings('face-register', def, warn), warn);
    const controller = new FaceRegisterController(this.id, status, store, getEngine, options);
    onInput<RegisterMessage>(this, status, ({ msg, send }) => controller.handle(msg, send));
    onClose(this, async () => {
      const heldStore = await store.catch(() => undefined);
      const heldEngine = engine ? await engine.catch(() => undefined) : undefined;
      await Promise.all([heldStore?.release(), heldEngine?.release()]);
    });
  }
  RED.nodes.registerType('face-register', FaceRegisterNode);
};
