import type { MqttPublisher } from '../../lib/mqtt/publisher';
import type { Lease } from '../../lib/shared/owner';
import type { ResourceNode } from '../shared/provider';
import type { NodeAPI } from '../shared/red';

/** The runtime face of a face-mqtt-broker config node, as face-mqtt sees it. */
export interface BrokerProvider extends ResourceNode<MqttPublisher> {
  brokerName: string;
  /** Set when the settings cannot work (a bad URL): said at deploy, never with the password. */
  problem?: string;
  /** Set when the address is an environment variable without a value: nothing to connect to yet. */
  unset?: string;
  /** Leases the broker's one client for `user`. */
  acquire(user: string): Promise<Lease<MqttPublisher>>;
}

/** The broker a node is configured with, or an error naming what is missing. */
export function brokerProvider(RED: NodeAPI, id: string | undefined): BrokerProvider {
  const provider = id ? (RED.nodes.getNode(id) as BrokerProvider | null) : null;
  if (!provider) throw new Error('no face-mqtt-broker configured: select one in the node');
  return provider;
}
