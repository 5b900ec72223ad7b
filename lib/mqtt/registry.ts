/**
 * MQTT clients shared by key (a face-mqtt-broker's id) and counted by their users: every face-mqtt
 * naming one broker uses its one client, connected with the first user and closed (`offline`
 * published) with the last. A redeploy waits for the previous client to stop before a new one starts.
 */
import { configVersion, ResourceOwner, type Lease } from '../shared/owner';
import { MqttPublisher, type PublisherOptions } from './publisher';

/** The process-wide owner of broker clients. */
export const brokers = new ResourceOwner<MqttPublisher>({ close: (publisher) => publisher.stop() });

/** Leases the client of broker `key` for `user`, connecting it if nobody holds it. */
export function acquireBroker(
  key: string,
  user: string,
  options: PublisherOptions,
): Promise<Lease<MqttPublisher>> {
  return brokers.acquire(
    key,
    user,
    () => {
      const publisher = new MqttPublisher(options);
      publisher.start();
      return Promise.resolve(publisher);
    },
    configVersion(options),
  );
}
