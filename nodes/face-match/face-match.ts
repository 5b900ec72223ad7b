import type { FaceMatchSettings } from '../../lib/types/node-settings';
import { onClose } from '../shared/close';
import { translator } from '../shared/i18n';
import { onInput } from '../shared/input';
import { libraryRegistry } from '../library/registry';
import { follow } from '../shared/provider';
import { upgradeSettings } from '../shared/settings';
import type { Node, NodeAPI, NodeDef } from '../shared/red';
import { Status } from '../shared/status';
import { showAvailability, storeProvider, type StoreLease } from '../shared/store';
import { matchSettings } from './config';
import { FaceMatchController, type MatchMessage } from './controller';

interface FaceMatchDef extends NodeDef, FaceMatchSettings {}

/** face-match: names each face in msg.faces against a face store. */
export = function register(RED: NodeAPI): void {
  function FaceMatchNode(this: Node, def: FaceMatchDef): void {
    RED.nodes.createNode(this, def);
    const status = new Status(this, translator(RED, 'face-match'));
    const lease: Promise<StoreLease> = Promise.resolve().then(() =>
      storeProvider(RED, def.store).acquire(this.id),
    );
    const warn = (m: string): void => this.warn(m);
    const { live } = libraryRegistry(RED);
    const controller = new FaceMatchController(
      status,
      lease,
      matchSettings(upgradeSettings('face-match', def, warn), warn),
      (msg) => live.fromMatch(msg),
    );
    const onStoreChange = (): void => {
      void lease.then(({ resource: store }) => controller.showStatus(store));
    };
    follow(
      this,
      () => storeProvider(RED, def.store),
      ({ state, resource, error }) => {
        if (state === 'error') status.error(error);
        else if (state === 'closed') status.set('off', 'status.closed');
        else if (state === 'open' && resource) controller.showStatus(resource);
      },
    );
    lease.then(
      ({ resource: store }) => {
        controller.showStatus(store);
        store.on('person-added', onStoreChange);
        store.on('person-deleted', onStoreChange);
      },
      (err: unknown) => status.error(err),
    );
    showAvailability(this, lease, status);
    onInput<MatchMessage>(this, status, ({ msg, send }) => controller.handle(msg, send));
    onClose(this, async () => {
      const held = await lease.catch(() => undefined);
      held?.resource.off('person-added', onStoreChange);
      held?.resource.off('person-deleted', onStoreChange);
      await held?.release();
    });
  }
  RED.nodes.registerType('face-match', FaceMatchNode);
};
