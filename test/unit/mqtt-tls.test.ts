/**
 * The publisher over TLS against a real Mosquitto with a certificate from a throw-away CA: verified
 * against the CA it connects; without the CA it refuses the broker (verification is on by default);
 * with verification turned off it connects; a broker that requires client certificates takes the
 * configured one.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import mqtt from 'mqtt';
import { sampleEvent } from '../helpers/sample-event';
import { FaceMqtt } from '../../lib/mqtt/faces';
import { MqttPublisher, type TlsOptions } from '../../lib/mqtt/publisher';
import { toolSkip } from '../helpers/env';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto';
import { until as waitFor } from '../helpers/wait';

const until = (what: string, check: () => boolean, ms = 10000): Promise<boolean> => waitFor(what, check, ms);

describe('MQTT over TLS', { skip: toolSkip('openssl', ['version']) }, () => {
  let broker: Mosquitto;
  let strict: Mosquitto;
  const publishers: MqttPublisher[] = [];
  before(async () => {
    broker = await startMosquitto({ tls: true });
    strict = await startMosquitto({ tls: true, requireCertificate: true });
  });
  after(async () => {
    await Promise.all(publishers.map((p) => p.stop()));
    await broker?.dispose();
    await strict?.dispose();
  });

  const publisher = (url: string, tls: TlsOptions): MqttPublisher => {
    const p = new MqttPublisher({
      url,
      baseTopic: 'fwtls',
      discovery: false,
      qos: 1,
      tls,
      retryDelayMs: 200,
    });
    publishers.push(p);
    p.start();
    return p;
  };

  it('connects to a broker whose certificate the CA signed, and delivers events', async () => {
    const ca = broker.tls!.caFile;
    const sub = await mqtt.connectAsync(broker.url, { ca: readFileSync(ca) });
    const got: string[] = [];
    sub.on('message', (_t, payload) => got.push(payload.toString()));
    await sub.subscribeAsync('fwtls/events', { qos: 1 });
    const p = publisher(broker.url, { caFile: ca });
    await until('connected', () => p.state().connected);
    const faces = new FaceMqtt(p, { snapshots: false, presenceTimeout: 60 });
    const e = sampleEvent(1, 'gate');
    faces.publish(e);
    await until('the event', () => got.length > 0);
    assert.deepEqual(JSON.parse(got[0]), e);
    faces.close();
    await sub.endAsync();
  });

  it('refuses a broker it cannot verify, unless verification is turned off', async () => {
    const unverified = publisher(broker.url, {});
    await until('an error', () => !!unverified.state().error);
    assert.equal(unverified.state().connected, false);
    assert.match(unverified.state().error ?? '', /certificate/i);
    const insecure = publisher(broker.url, { verify: false });
    await until('connected without verification', () => insecure.state().connected);
  });

  it('shows its client certificate to a broker that requires one', async () => {
    const { caFile, certFile, keyFile } = strict.tls!;
    const without = publisher(strict.url, { caFile });
    const withCert = publisher(strict.url, { caFile, certFile, keyFile });
    await until('connected with a certificate', () => withCert.state().connected);
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(without.state().connected, false);
  });

  it('says which TLS file it cannot read', () => {
    const p = new MqttPublisher({ url: broker.url, tls: { caFile: '/nonexistent/ca.pem' } });
    assert.throws(() => p.start(), /CA certificate.*\/nonexistent\/ca\.pem/);
  });
});
