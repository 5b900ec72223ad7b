import type { PublisherOptions, Qos } from '../../lib/mqtt/publisher';
import { MQTT } from '../../lib/types/defaults';
import type { FaceMqttBrokerCredentials, FaceMqttBrokerSettings } from '../../lib/types/node-settings';
import { SettingsReader, type Warn } from '../shared/settings';

/**
 * A checkbox setting that may also be written as text: `${VAR}` in a flow file (Node-RED puts in the
 * variable's value, as text) or `true`/`false`. Anything else, an unset variable included, is the default.
 */
function flag(v: unknown, byDefault: boolean): boolean {
  if (typeof v === 'boolean') return v;
  const text = typeof v === 'string' ? v.trim().toLowerCase() : '';
  if (['false', '0', 'no', 'off'].includes(text)) return false;
  if (['true', '1', 'yes', 'on'].includes(text)) return true;
  return byDefault;
}

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
    discovery: flag(def.discovery, true),
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
