// The broker `npm start` gives the example flow: one that already answers (a real MQTT CONNECT
// answered by a CONNACK, not just an open port), else an embedded aedes broker on a free loopback port.
import { createServer } from 'node:net';
import { Aedes } from 'aedes';
import mqtt from 'mqtt';

/** Whether an MQTT broker accepts a connection at `url` within `timeoutMs`. */
export async function brokerAnswers(url, timeoutMs = 1500) {
  const client = mqtt.connect(url, {
    connectTimeout: timeoutMs,
    reconnectPeriod: 0,
    clientId: `facewatch_probe_${process.pid}`,
  });
  const answered = await new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), timeoutMs);
    client.once('connect', () => resolve(true));
    client.once('error', () => resolve(false));
    client.once('close', () => resolve(false));
    client.once('end', () => clearTimeout(timer));
  });
  await client.endAsync(true).catch(() => undefined);
  return answered;
}

/** Starts aedes on `host`, a free port; resolves with its URL and a close function. */
export async function startEmbeddedBroker(host = '127.0.0.1') {
  const aedes = await Aedes.createBroker();
  const server = createServer(aedes.handle);
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, resolve);
  });
  const { port } = server.address();
  return {
    url: `mqtt://${host}:${port}`,
    close: () =>
      new Promise((resolve) => {
        server.close(() => aedes.close(() => resolve()));
        // Clients still connected (Node-RED's) would keep server.close waiting.
        for (const client of Object.values(aedes.clients ?? {})) client.close?.();
      }),
  };
}
