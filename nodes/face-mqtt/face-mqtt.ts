import { MQTT } from '../../lib/types/defaults';
import type { FaceMqttSettings } from '../../lib/types/node-settings';
import { brokerProvider } from '../face-mqtt-broker/provider';
import { onClose } from '../shared/close';
import { translator } from '../shared/i18n';
import { onInput } from '../shared/input';
import { follow } from '../shared/provider';
import type { Node, NodeAPI, NodeDef } from '../shared/red';
import { SettingsReader, upgradeSettings } from '../shared/settings';
import { Status } from '../shared/status';
import { storeProvider } from '../shared/store';
import { eventOf, FaceMqttController } from './controller';

interface FaceMqttDef extends NodeDef, FaceMqttSettings {}

/**
 * face-mqtt: detection events (from detection-log) to MQTT: event topics, retained person and camera
 * state, presence, snapshots, and Home Assistant discovery for the people of a face store.
 */
export = function register(RED: NodeAPI): void {
  function FaceMqttNode(this: Node, def: FaceMqttDef): void {
    RED.nodes.createNode(this, def);
    const warn = (m: string): void => this.warn(m);
    const settings = upgradeSettings('face-mqtt', def, warn);
    const r = new SettingsReader(warn);
    const status = new Status(this, translator(RED, 'face-mqtt'));
    const storeId = String(settings.store ?? '').trim();
    const unset = unsetBroker(RED, settings.broker);
    if (unset) {
      // Nothing to connect to yet: say so once, and let events pass without an error each.
      status.raw('warn', unset);
      onInput(this, status, () => undefined);
      return;
    }
    const controller = new FaceMqttController({
      user: this.id,
      acquireBroker: () => brokerProvider(RED, settings.broker).acquire(this.id),
      acquireStore: storeId ? () => storeProvider(RED, storeId).acquire(this.id) : undefined,
      status,
      snapshots: settings.snapshots === true,
      presenceTimeout: r.number('presenceTimeout', MQTT.presenceTimeout, settings.presenceTimeout),
      error: (err) => this.error(err.message),
    });
    follow(
      this,
      () => brokerProvider(RED, settings.broker),
      ({ state, resource, error }) => {
        if (state === 'open' && resource) controller.show(resource.state());
        else if (state === 'error' && error) status.error(error);
      },
    );
    onInput<{ _msgid: string; event?: unknown; payload?: unknown; snapshot?: unknown }>(
      this,
      status,
      ({ msg }) => controller.publish(eventOf(msg), msg.snapshot),
    );
    onClose(this, () => controller.close());
  }
  RED.nodes.registerType('face-mqtt', FaceMqttNode);
};

/** What the broker says when its address is a variable without a value, else undefined. */
function unsetBroker(RED: NodeAPI, id: string | undefined): string | undefined {
  try {
    return brokerProvider(RED, id).unset;
  } catch {
    // No broker configured: the controller reports that.
    return undefined;
  }
}
