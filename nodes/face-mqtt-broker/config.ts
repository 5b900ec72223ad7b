import type { PublisherOptions, Qos } from '../../lib/mqtt/publisher';
import { MQTT } from '../../lib/types/defaults';
import type { FaceMqttBrokerCredentials, FaceMqttBrokerSettings } from '../../lib/types/node-settings';
import { SettingsReader, type Warn } from '../shared/settings';

/** face-mqtt-broker's saved settings and credentials, read against lib/types/defaults.ts. */
export function brokerSettings(
  def: Partial<FaceMqttBrokerSettings>,
  credentials: Partial<FaceMqttBrokerCredentials> | undefined,
  warn?: Warn,
): PublisherOptions {
  const r = new SettingsReader(warn);
  return {
    url: String(def.url ?? '').trim(),
    clientId: String(def.clientId ?? '').trim() || undefined,
    username: credentials?.username?.trim() || undefined,
    password: credentials?.password || undefined,
    baseTopic: String(def.baseTopic ?? '').trim() || undefined,
    discovery: def.discovery !== false,
    discoveryPrefix: String(def.discoveryPrefix ?? '').trim() || undefined,
    qos: r.number('qos', MQTT.qos, def.qos) as Qos,
    queueLimit: r.number('queueLimit', MQTT.queueLimit, def.queueLimit),
    retryDelayMs: MQTT.retryDelay.default * 1000,
    maxRetryDelayMs: MQTT.maxRetryDelay.default * 1000,
    keepalive: MQTT.keepalive.default,
    tls: {
      caFile: def.tlsCa?.trim() || undefined,
      certFile: def.tlsCert?.trim() || undefined,
      keyFile: def.tlsKey?.trim() || undefined,
      // Secure by default: only an explicit false turns verification off.
      verify: def.tlsVerify !== false,
    },
  };
}
