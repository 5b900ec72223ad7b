import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import { describe, it } from 'node:test';
import { Cam } from 'onvif';
import { OnvifError, readCamera, type CameraInfo } from '../../lib/camera/onvif-device';
import { discover, discoveryInterfaces } from '../../lib/camera/onvif-discovery';
import { encodeUserinfo } from '../../lib/camera/url';
import { IN_CI } from '../helpers/env';
import {
  LOOPBACK,
  freeTcpPort,
  freeUdpPort,
  startOnvifDevice,
  type OnvifDevice,
} from '../helpers/onvif-device';

const USER = 'operator';
const PASSWORD = 'S3cr%t:pw!';
const FIVE_HOURS = 5 * 3600_000;

/** Every form in which the password could leak into a text. */
function leaks(text: string): boolean {
  return [PASSWORD, encodeURIComponent(PASSWORD), encodeUserinfo(PASSWORD)].some((form) =>
    text.includes(form),
  );
}

async function withDevice<T>(
  options: Parameters<typeof startOnvifDevice>[0],
  run: (device: OnvifDevice) => Promise<T>,
): Promise<T> {
  const device = await startOnvifDevice({ username: USER, password: PASSWORD, ...options });
  try {
    return await run(device);
  } finally {
    await device.close();
  }
}

/** The error a promise rejects with (failing the test when it resolves). */
async function rejection(promise: Promise<unknown>): Promise<OnvifError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof OnvifError, `expected an OnvifError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected a rejection');
}

/** An HTTP server on loopback that answers every request with `handler`. */
async function httpServer(handler: http.RequestListener): Promise<{ port: number; close(): Promise<void> }> {
  const server = http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, LOOPBACK, () => resolve()));
  return {
    port: (server.address() as AddressInfo).port,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const hasLo = 'lo' in os.networkInterfaces();

describe('ONVIF discovery (loopback only)', () => {
  it(
    'finds the simulated camera with a multicast probe on lo, once although it answered twice',
    { skip: !hasLo && !IN_CI && 'no interface named lo here' },
    async () => {
      await withDevice({ discoveryPort: 0 }, async (device) => {
        const found = await discover({
          timeoutMs: 1000,
          interface: 'lo',
          discoveryPort: device.discoveryPort,
        });
        // Another test process's responder on the same port may answer too: only ours is checked.
        const mine = found.filter((d) => d.urn === device.urn);
        assert.equal(mine.length, 1);
        const { scopes: _scopes, ...rest } = mine[0];
        assert.deepEqual(rest, {
          name: 'FaceWatch Test Cam',
          model: 'FW-SIM-1',
          address: LOOPBACK,
          port: device.port,
          xaddr: device.xaddr,
          urn: device.urn,
        });
        assert.ok(mine[0].scopes?.includes('onvif://www.onvif.org/Profile/Streaming'));
        // The probe is sent twice (WS-Discovery's UDP repeat); both answers merge into one device.
        assert.equal(device.probes.length, 2);
        assert.ok(device.probes.every((p) => p.from === LOOPBACK));
        assert.equal(new Set(device.probes.map((p) => p.messageId)).size, 1);
      });
    },
  );

  it('finds it on the standard WS-Discovery port 3702, choosing the interface by its address', async (t) => {
    let device: OnvifDevice;
    try {
      device = await startOnvifDevice({ username: USER, password: PASSWORD });
    } catch (err) {
      const reason = `UDP port 3702 is taken without reuseAddr: ${(err as Error).message}`;
      if (IN_CI) throw new Error(reason);
      t.skip(reason);
      return;
    }
    try {
      assert.equal(device.discoveryPort, 3702);
      const found = await discover({ timeoutMs: 1000, interface: LOOPBACK });
      const mine = found.filter((d) => d.urn === device.urn);
      assert.equal(mine.length, 1);
      assert.equal(mine[0].xaddr, device.xaddr);
    } finally {
      await device.close();
    }
  });

  it('returns an empty list after the timeout when nothing answers', async () => {
    const port = await freeUdpPort();
    const started = Date.now();
    const found = await discover({ timeoutMs: 1000, interface: LOOPBACK, discoveryPort: port });
    assert.deepEqual(found, []);
    assert.ok(Date.now() - started >= 950, 'waited for the timeout');
  });

  it('ignores malformed replies and replies to other probes', async () => {
    await withDevice({ discoveryPort: 0 }, async (device) => {
      // A second responder on the same port (reuseAddr) that answers with rubbish.
      const rogue = dgram.createSocket({ type: 'udp4', reuseAddr: true });
      await new Promise<void>((resolve) => rogue.bind(device.discoveryPort, '0.0.0.0', () => resolve()));
      rogue.addMembership('239.255.255.250', LOOPBACK);
      rogue.on('message', (_msg, rinfo) => {
        if (rinfo.address !== LOOPBACK) return;
        for (const reply of [
          'not xml at all',
          '<Envelope><Body><ProbeMatches><ProbeMatch></ProbeMatch></ProbeMatches></Body></Envelope>',
          '<Envelope><Header><RelatesTo>urn:uuid:someone-else</RelatesTo></Header><Body><ProbeMatches>' +
            '<ProbeMatch><XAddrs>http://127.0.0.1:9/onvif/device_service</XAddrs></ProbeMatch>' +
            '</ProbeMatches></Body></Envelope>',
        ])
          rogue.send(reply, rinfo.port, rinfo.address);
      });
      try {
        const found = await discover({
          timeoutMs: 800,
          interface: LOOPBACK,
          discoveryPort: device.discoveryPort,
        });
        assert.ok(found.some((d) => d.urn === device.urn));
        assert.ok(!found.some((d) => d.port === 9));
      } finally {
        await new Promise<void>((resolve) => rogue.close(() => resolve()));
      }
    });
  });

  it('probes one address directly (unicast), for cameras where multicast does not pass', async () => {
    await withDevice({ discoveryPort: 0 }, async (device) => {
      const found = await discover({
        timeoutMs: 1500,
        address: `${LOOPBACK}:${device.port}`,
        discoveryPort: device.discoveryPort,
      });
      assert.deepEqual(
        found.map(({ scopes: _scopes, ...d }) => d),
        [
          {
            name: 'FaceWatch Test Cam',
            model: 'FW-SIM-1',
            address: LOOPBACK,
            port: device.port,
            xaddr: device.xaddr,
            urn: device.urn,
          },
        ],
      );
      assert.equal(device.probes.length, 1, 'one unicast probe, answered at once');
      assert.equal(device.requests[0].action, 'GetSystemDateAndTime');
    });
  });

  it('finds a camera by its device service alone when WS-Discovery is blocked', async () => {
    await withDevice({ discoveryPort: null }, async (device) => {
      const found = await discover({
        timeoutMs: 1000,
        address: `http://${LOOPBACK}:${device.port}/onvif/device_service`,
        discoveryPort: await freeUdpPort(),
        username: USER,
        password: PASSWORD,
      });
      assert.deepEqual(found, [
        {
          name: 'FW-SIM-1',
          model: 'FW-SIM-1',
          manufacturer: 'FaceWatch',
          address: LOOPBACK,
          port: device.port,
          xaddr: device.xaddr,
        },
      ]);
    });
  });

  it('says so when nothing answers at an address', async () => {
    const port = await freeTcpPort();
    const err = await rejection(
      discover({ timeoutMs: 800, address: `${LOOPBACK}:${port}`, discoveryPort: await freeUdpPort() }),
    );
    assert.match(
      err.message,
      new RegExp(`^no ONVIF device answered at 127\\.0\\.0\\.1:${port} within 0\\.8 s`),
    );
    assert.match(err.message, /no reply to a WS-Discovery probe/);
    assert.match(err.message, /connection refused/);
  });

  it('refuses an interface it does not know instead of probing elsewhere', async () => {
    const err = await rejection(discover({ timeoutMs: 500, interface: 'nope0' }));
    assert.equal(err.code, 'bad-interface');
    assert.match(err.message, /no network interface "nope0"/);
    assert.ok(discoveryInterfaces().some((i) => i.address === LOOPBACK));
  });

  it('refuses a malformed address without repeating what precedes an @', async () => {
    const err = await rejection(discover({ timeoutMs: 500, address: `admin:${PASSWORD}@camera:99999` }));
    assert.equal(err.code, 'bad-address');
    assert.ok(!leaks(err.message), err.message);
  });
});

describe('readCamera', () => {
  const expectedProfiles = (device: OnvifDevice) => [
    {
      token: 'main',
      name: 'Main stream',
      width: 1920,
      height: 1080,
      encoding: 'H264',
      fps: 25,
      streamUri: 'rtsp://127.0.0.1:8554/Streaming/Channels/101?transportmode=unicast&profile=main',
      snapshotUri: `http://127.0.0.1:${device.port}/onvif/snapshot/main.jpg`,
    },
    {
      token: 'sub',
      name: 'Sub stream',
      width: 640,
      height: 360,
      encoding: 'H264',
      fps: 15,
      streamUri: 'rtsp://127.0.0.1:8554/Streaming/Channels/102?transportmode=unicast&profile=sub',
      snapshotUri: `http://127.0.0.1:${device.port}/onvif/snapshot/sub.jpg`,
    },
  ];

  it('reads the device and both profiles with stream and snapshot URIs, main stream first', async () => {
    await withDevice({ discoveryPort: null }, async (device) => {
      const info = await readCamera({
        xaddr: device.xaddr,
        username: USER,
        password: PASSWORD,
        timeoutMs: 2000,
      });
      assert.deepEqual({ ...info, clockOffsetMs: undefined }, {
        manufacturer: 'FaceWatch',
        model: 'FW-SIM-1',
        firmware: '5.10',
        serial: '0042-SIM',
        profiles: expectedProfiles(device),
        clockOffsetMs: undefined,
      } satisfies Record<keyof CameraInfo, unknown>);
      assert.ok(Math.abs(info.clockOffsetMs) < 2000);
      // The device's time first and without a login; everything after it with a valid token.
      assert.deepEqual(device.requests[0], { action: 'GetSystemDateAndTime', media2: false, auth: 'none' });
      assert.ok(device.requests.slice(1).every((r) => r.auth === 'ok'));
      assert.deepEqual(
        device.requests.map((r) => r.action),
        [
          'GetSystemDateAndTime',
          'GetServices',
          'GetDeviceInformation',
          'GetProfiles',
          'GetStreamUri',
          'GetSnapshotUri',
          'GetStreamUri',
          'GetSnapshotUri',
        ],
      );
    });
  });

  it('takes a hostname and port, and falls back to GetCapabilities on older devices', async () => {
    await withDevice({ noGetServices: true, discoveryPort: null }, async (device) => {
      const info = await readCamera({
        hostname: LOOPBACK,
        port: device.port,
        username: USER,
        password: PASSWORD,
        timeoutMs: 2000,
      });
      assert.deepEqual(info.profiles, expectedProfiles(device));
      assert.ok(device.requests.some((r) => r.action === 'GetCapabilities'));
    });
  });

  it('reads a camera with Media2 (Profile T) the same way', async () => {
    await withDevice({ discoveryPort: null, media2: true }, async (device) => {
      const info = await readCamera({
        xaddr: device.xaddr,
        username: USER,
        password: PASSWORD,
        timeoutMs: 2000,
      });
      assert.deepEqual(info.profiles, expectedProfiles(device));
      const media = device.requests.filter((r) => /Profiles|Uri/.test(r.action));
      assert.ok(media.length === 5 && media.every((r) => r.media2 && r.auth === 'ok'));
    });
  });

  it('says "wrong user or password" when the camera refuses the login', async () => {
    await withDevice({ discoveryPort: null }, async (device) => {
      const err = await rejection(
        readCamera({ xaddr: device.xaddr, username: USER, password: 'not-the-password', timeoutMs: 2000 }),
      );
      assert.equal(err.code, 'unauthorized');
      assert.match(
        err.message,
        new RegExp(`^wrong user or password for the camera at 127\\.0\\.0\\.1:${device.port}`),
      );
      assert.ok(!err.message.includes('not-the-password'));

      const anonymous = await rejection(readCamera({ xaddr: device.xaddr, timeoutMs: 2000 }));
      assert.match(anonymous.message, /needs a user and password/);
    });
  });

  it('works with a camera whose clock is 5 hours off, because it reads the camera time first', async () => {
    await withDevice({ discoveryPort: null, clockOffsetMs: FIVE_HOURS }, async (device) => {
      // Control: the same client stamping its token with our own clock is refused by this device.
      const own = new Cam({
        hostname: LOOPBACK,
        port: device.port,
        username: USER,
        password: PASSWORD,
        autoconnect: false,
      });
      own.timeShift = Date.now() - process.uptime() * 1000;
      const refused = await new Promise<Error | null>((resolve) =>
        own.getDeviceInformation((err) => resolve(err)),
      );
      assert.match(String(refused), /not authorized/i);

      const info = await readCamera({
        xaddr: device.xaddr,
        username: USER,
        password: PASSWORD,
        timeoutMs: 2000,
      });
      assert.deepEqual(info.profiles, expectedProfiles(device));
      assert.ok(Math.abs(info.clockOffsetMs - FIVE_HOURS) < 3000, `clock offset ${info.clockOffsetMs}`);

      device.clockOffsetMs = -FIVE_HOURS;
      const behind = await readCamera({
        xaddr: device.xaddr,
        username: USER,
        password: PASSWORD,
        timeoutMs: 2000,
      });
      assert.ok(Math.abs(behind.clockOffsetMs + FIVE_HOURS) < 3000);
    });
  });

  it('returns stream and snapshot URIs without credentials even when the camera puts them in', async () => {
    await withDevice({ discoveryPort: null, credentialsInUris: true }, async (device) => {
      const info = await readCamera({
        xaddr: device.xaddr,
        username: USER,
        password: PASSWORD,
        timeoutMs: 2000,
      });
      assert.deepEqual(info.profiles, expectedProfiles(device));
      assert.ok(!leaks(JSON.stringify(info)));
    });
  });

  it('explains timeouts, refusals and non-ONVIF servers, never with the password', async () => {
    const messages: string[] = [];
    const refusedPort = await freeTcpPort();
    const refused = await rejection(
      readCamera({
        hostname: LOOPBACK,
        port: refusedPort,
        username: USER,
        password: PASSWORD,
        timeoutMs: 1000,
      }),
    );
    assert.equal(refused.code, 'refused');
    assert.match(refused.message, new RegExp(`^connection refused by 127\\.0\\.0\\.1:${refusedPort}`));
    messages.push(refused.message);

    const silent = await httpServer(() => {
      // Never answers.
    });
    try {
      const started = Date.now();
      const timeout = await rejection(
        readCamera({
          hostname: LOOPBACK,
          port: silent.port,
          username: USER,
          password: PASSWORD,
          timeoutMs: 500,
        }),
      );
      assert.equal(timeout.code, 'timeout');
      assert.equal(timeout.message, `no answer from 127.0.0.1:${silent.port} within 0.5 s`);
      assert.ok(Date.now() - started < 1500);
      messages.push(timeout.message);
    } finally {
      await silent.close();
    }

    const web = await httpServer((_req, res) => res.end(`<html>hello ${PASSWORD}</html>`));
    try {
      const notOnvif = await rejection(
        readCamera({
          hostname: LOOPBACK,
          port: web.port,
          username: USER,
          password: PASSWORD,
          timeoutMs: 1000,
        }),
      );
      assert.equal(notOnvif.code, 'not-onvif');
      assert.match(notOnvif.message, /not as an ONVIF device/);
      messages.push(notOnvif.message);
    } finally {
      await web.close();
    }

    await withDevice({ discoveryPort: null }, async (device) => {
      const wrong = await rejection(
        readCamera({ xaddr: device.xaddr, username: USER, password: `${PASSWORD}x`, timeoutMs: 1000 }),
      );
      messages.push(wrong.message);
    });
    for (const message of messages) assert.ok(!leaks(message), message);
  });
});
