import { displayUrl } from '../../lib/camera/url';
import { checkBrokerUrl } from '../../lib/mqtt/publisher';
import { acquireBroker, brokers } from '../../lib/mqtt/registry';
import type { FaceMqttBrokerCredentials, FaceMqttBrokerSettings } from '../../lib/types/node-settings';
import { onClose } from '../shared/close';
import { missingAddress, offerResource } from '../shared/provider';
import type { Node, NodeAPI, NodeDef } from '../shared/red';
import { substituteEnv, unsetEnv, upgradeSettings } from '../shared/settings';
import { brokerSettings } from './config';
import type { BrokerProvider } from './provider';
import { instanceName } from '../shared/instance';

interface FaceMqttBrokerDef extends NodeDef, FaceMqttBrokerSettings {}

/**
 * face-mqtt-broker: a config node holding one broker's address, credentials, topics and TLS. It owns
 * the broker's one MQTT client (through the shared owner), connected by the first face-mqtt and
 * closed by the last, and pushes the client's state (connected, queue, dropped) to every face-mqtt.
 */
export = function register(RED: NodeAPI): void {
  function FaceMqttBrokerNode(this: BrokerProvider, def: FaceMqttBrokerDef): void {
    RED.nodes.createNode(this, def);
    const warn = (m: string): void => this.warn(m);
    const credentials = (this as unknown as { credentials?: Partial<FaceMqttBrokerCredentials> }).credentials;
    const settings = upgradeSettings('face-mqtt-broker', def, warn);
    const unset = unsetEnv(RED, this, String(settings.url ?? ''));
    settings.url = substituteEnv(RED, this, String(settings.url ?? ''));
    const options = brokerSettings(settings, credentials, warn);
    // One of several instances on a shared store: its availability topic is its own.
    if (sharedInstallation(RED)) options.instance = instanceName(RED);
    this.brokerName = def.name?.trim() || displayUrl(options.url) || this.id;
    // No address yet (the example flow before its variable is set) is not a failure: face-mqtt says
    // so and drops its events quietly instead of failing each one.
    this.unset = missingAddress('broker', unset, options.url);
    if (this.unset) {
      this.problem = this.unset;
      this.warn(`broker "${this.brokerName}": ${this.unset}; events are not sent`);
    } else
      try {
        checkBrokerUrl(options.url);
      } catch (err) {
        this.problem = (err as Error).message;
        this.error(`broker "${this.brokerName}": ${this.problem}`);
      }
    const users = offerResource(this, brokers, this.id, (user) =>
      acquireBroker(this.id, user ?? 'anonymous', options),
    );
    // The client's own state changes (connected, queue) reach the users as an 'open' resource.
    let unhook: (() => void) | undefined;
    const stop = brokers.watch(this.id, ({ state, resource }) => {
      if (state !== 'open' || !resource) {
        if (state === 'closing' || state === 'closed') unhook?.();
        return;
      }
      unhook?.();
      const onState = (): void => users.broadcast({ state: 'open', resource });
      resource.on('state', onState);
      unhook = () => {
        resource.off('state', onState);
        unhook = undefined;
      };
    });
    onClose(this, () => {
      stop();
      unhook?.();
    });
  }
  RED.nodes.registerType(
    'face-mqtt-broker',
    FaceMqttBrokerNode as unknown as (this: Node, def: FaceMqttBrokerDef) => void,
    {
      credentials: { username: { type: 'text' }, password: { type: 'password' } },
    },
  );
};

/**
 * Whether this Node-RED is one of several instances of an installation: a face-store of its flows
 * keeps its people on PostgreSQL.
 */
function sharedInstallation(RED: NodeAPI): boolean {
  let shared = false;
  RED.nodes.eachNode((n) => {
    if (n.type === 'face-store' && (n as { backend?: unknown }).backend === 'postgres') shared = true;
  });
  return shared;
}
