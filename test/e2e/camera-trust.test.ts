/**
 * The face-camera's admin routes in a real Node-RED process behind adminAuth, as a hostile user with
 * `facewatch.write` would call them:
 *
 * - stored credentials go only where they belong: with a deployed face-camera and a deployed
 *   face-mqtt-broker holding passwords, Test connection, Discover and profiles aimed at a loopback
 *   server answering 401 (which records every request) never deliver a stored user or password;
 *   another node type's id, or one not deployed, is a 400; the deployed camera's own stream and ONVIF
 *   address still get its stored password;
 * - camera URLs are camera URLs: `-report`, `subfile,…:`, `concat:`, `data:` and local paths on a
 *   network camera are a 400 and never reach ffprobe (no log file in Node-RED's cwd or user dir), a
 *   camera that redirects elsewhere is refused, and testing a file or a device needs `flows.write`.
 */
import { adminToken, adminAuthSettings } from '../helpers/auth';
import assert from 'node:assert/strict';
import { readdirSync, rmSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { PASSWORD, USER, cameraSkip, passwordForms } from '../helpers/camera';
import { ROOT } from '../helpers/env';
import { startHostileCamera, type HostileCamera } from '../helpers/hostile-camera';
import { freePort, startNodeRed, waitForLog, type RunningNodeRed } from '../helpers/nodered';
import { freeUdpPort, startOnvifDevice, type OnvifDevice } from '../helpers/onvif-device';
import { CLIP, startRtspServer, type RtspServer } from '../helpers/rtsp';

const LOGIN = 'trust-login-pw';
/** The broker's stored credentials: nothing but its own broker may ever see them. */
const BROKER_USER = 'broker-user-7f3a';
const BROKER_PASSWORD = 'Br0ker:pw/9e1c';

/** Log files ffmpeg's `-report` writes (ffprobe-YYYYMMDD-HHMMSS.log). */
function reports(dir: string): string[] {
  return readdirSync(dir).filter((f) => /^ff(probe|mpeg)-\d{8}-\d{6}\.log$/.test(f));
}

describe(
  'the face-camera admin routes against a hostile user (real Node-RED)',
  { skip: cameraSkip('ffprobe') },
  () => {
    let rtsp: RtspServer;
    let onvif: OnvifDevice;
    let trap: HostileCamera;
    let nr: RunningNodeRed;
    const tokens: Record<string, string> = {};
    let cwdReports: string[] = [];

    before(async () => {
      rtsp = await startRtspServer({ user: USER, password: PASSWORD });
      onvif = await startOnvifDevice({ username: USER, password: PASSWORD, discoveryPort: null });
      trap = await startHostileCamera(CLIP);
      cwdReports = reports(ROOT);
      nr = await startNodeRed({
        settings: {
          // operator may test cameras, not change flows: the user the file rule is about.
          adminAuth: adminAuthSettings(LOGIN, {
            admin: '*',
            operator: ['facewatch.read', 'facewatch.write'],
          }),
        },
        flows: [
          { id: 't1', type: 'tab', label: 'trust' },
          {
            id: 'cam',
            type: 'face-camera',
            name: 'hall',
            source: 'network',
            url: rtsp.url,
            onvifAddress: onvif.xaddr,
            transport: 'tcp',
            fps: 2,
            width: 640,
            stallTimeout: 20,
            maxAttempts: 0,
            version: 2,
          },
          {
            id: 'brk',
            type: 'face-mqtt-broker',
            name: 'broker',
            url: `mqtt://127.0.0.1:${await freePort()}`,
            version: 1,
          },
          { id: 'src', type: 'rtsp-source', z: 't1', camera: 'cam', autoStart: false, wires: [[], []] },
        ],
        credentials: {
          cam: { username: USER, password: PASSWORD },
          brk: { username: BROKER_USER, password: BROKER_PASSWORD },
        },
        env: { FACEWATCH_WSD_PORT: String(await freeUdpPort()) },
      });
      await waitForLog(nr, /Started flows/);
      for (const user of ['admin', 'operator']) {
        tokens[user] = await adminToken(nr.url, user, LOGIN, '');
      }
    });
    after(async () => {
      await nr?.stop();
      await trap?.close();
      await onvif?.close();
      await rtsp?.stop();
      // A run against code that passes the address as an option leaves ffprobe's log in the project.
      for (const f of reports(ROOT)) if (!cwdReports.includes(f)) rmSync(f, { force: true });
    });

    async function post(
      route: string,
      body: object,
      user = 'operator',
    ): Promise<{ status: number; body: Record<string, unknown>; text: string }> {
      const res = await fetch(`${nr.url}/facewatch/camera/${route}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${tokens[user]}` },
        body: JSON.stringify(body),
      });
      const text = await res.text();
      let parsed: Record<string, unknown> = {};
      try {
        parsed = JSON.parse(text) as Record<string, unknown>;
      } catch {
        // Not JSON: judged by its status.
      }
      return { status: res.status, body: parsed, text };
    }

    /** Nothing stored (a user name or any form of a password) in anything the trap received. */
    function assertNothingStoredReachedTheTrap(): void {
      const seen = JSON.stringify(trap.trapped);
      for (const form of [
        ...passwordForms(USER, PASSWORD),
        ...passwordForms(BROKER_USER, BROKER_PASSWORD),
        ...passwordForms('', PASSWORD),
        ...passwordForms('', BROKER_PASSWORD),
        USER,
        BROKER_USER,
      ])
        assert.ok(!seen.includes(form), `the trap received "${form}": ${seen.slice(0, 2000)}`);
    }

    it("Test connection sends a deployed camera's stored password to its own address only", async () => {
      // Its own stream: the stored password works (the form holds Node-RED's placeholder).
      const own = await post('test', { id: 'cam', url: rtsp.url, source: 'network', password: '__PWRD__' });
      assert.equal(own.status, 200, own.text);
      assert.deepEqual([own.body.ok, own.body.width, own.body.codec], [true, 640, 'h264'], own.text);
      // Same scheme, host and port, another path: still its camera (a 404, not a 401).
      const path = await post('test', {
        id: 'cam',
        url: rtsp.url.replace(/clip$/, 'nope'),
        password: '__PWRD__',
      });
      assert.match(String(path.body.reason), /404/, path.text);

      // Anywhere else: only what the form typed.
      const before = trap.trapped.length;
      for (const body of [
        { id: 'cam', url: `${trap.url}/stream`, source: 'network', password: '__PWRD__' },
        { id: 'cam', url: `${trap.url}/stream`, username: 'someone', password: '__PWRD__' },
        { id: 'cam', url: `${trap.url}/stream` },
      ]) {
        const r = await post('test', body);
        assert.equal(r.status, 200, r.text);
        assert.equal(r.body.ok, false, r.text);
        assert.equal(r.body.kind, 'unauthorized', r.text);
      }
      const withheld = await post('test', { id: 'cam', url: `${trap.url}/stream`, password: '__PWRD__' });
      assert.match(String(withheld.body.reason), /stored password is used only for its own deployed address/);
      assert.ok(trap.trapped.length > before, 'ffprobe reached the trap');
      assertNothingStoredReachedTheTrap();
    });

    it('Test connection, Discover and profiles refuse an id that is not a deployed face-camera', async () => {
      const calls: Array<[string, object]> = [
        ['test', { url: `${trap.url}/stream`, password: '__PWRD__' }],
        ['discover', { address: `127.0.0.1:${trap.port}`, password: '__PWRD__', timeout: 2 }],
        ['profiles', { xaddr: `${trap.url}/onvif/device_service`, password: '__PWRD__', timeout: 3 }],
      ];
      for (const [route, body] of calls) {
        const broker = await post(route, { ...body, id: 'brk' });
        assert.equal(broker.status, 400, `${route}: ${broker.text}`);
        assert.match(String(broker.body.error), /node "brk" is not a face-camera/);
        const rtspSource = await post(route, { ...body, id: 'src' });
        assert.equal(rtspSource.status, 400, `${route}: ${rtspSource.text}`);
        const none = await post(route, { ...body, id: 'no-such-node' });
        assert.equal(none.status, 400, `${route}: ${none.text}`);
        assert.match(String(none.body.error), /no deployed face-camera "no-such-node"/);
      }
      assertNothingStoredReachedTheTrap();
    });

    it('Discover and profiles send the stored password only to the ONVIF address the camera was set up from', async () => {
      // Its own ONVIF address: the stored credentials log in.
      const profiles = await post('profiles', { id: 'cam', xaddr: onvif.xaddr, password: '__PWRD__' });
      assert.equal(profiles.status, 200, profiles.text);
      assert.equal((profiles.body.profiles as unknown[]).length, 2, profiles.text);
      const found = await post('discover', {
        id: 'cam',
        address: `${onvif.host}:${onvif.port}`,
        password: '__PWRD__',
        timeout: 3,
      });
      assert.equal(found.status, 200, found.text);
      assert.equal((found.body.devices as Array<{ model?: string }>)[0]?.model, onvif.model, found.text);
      assert.ok(onvif.requests.some((r) => r.auth === 'ok'));
      assert.ok(!onvif.requests.some((r) => r.auth === 'refused'), JSON.stringify(onvif.requests));

      // Anywhere else: nothing stored.
      const before = trap.trapped.length;
      const elsewhere = await post('profiles', {
        id: 'cam',
        xaddr: `${trap.url}/onvif/device_service`,
        password: '__PWRD__',
        timeout: 5,
      });
      assert.equal(elsewhere.status, 502, elsewhere.text);
      const discovered = await post('discover', {
        id: 'cam',
        address: `127.0.0.1:${trap.port}`,
        password: '__PWRD__',
        timeout: 3,
      });
      assert.ok([200, 502].includes(discovered.status), discovered.text);
      assert.ok(trap.trapped.length > before, 'the ONVIF client reached the trap');
      assertNothingStoredReachedTheTrap();
    });

    it('refuses an address that is not a camera address of its source, and never hands it to ffprobe', async () => {
      const hostile = [
        '-report',
        'subfile,,start,0,end,0,,:/etc/passwd',
        `subfile,,start,0,end,0,,:${CLIP}`,
        '/etc/passwd',
        CLIP,
        `concat:${CLIP}|${CLIP}`,
        'data:text/plain;base64,aGVsbG8=',
        'ftp://127.0.0.1/stream',
      ];
      for (const url of hostile) {
        for (const body of [{ url }, { url, source: 'network' }]) {
          const r = await post('test', body);
          assert.equal(r.status, 400, `${url}: ${r.text}`);
          assert.match(
            String(r.body.error),
            /not a network camera address|unsupported camera address scheme/,
            `${url}: ${r.text}`,
          );
        }
      }
      const unknown = await post('test', { url: rtsp.url, source: 'pipe' });
      assert.equal(unknown.status, 400, unknown.text);
      // A variable is resolved only for the deployed camera's own URL.
      const variable = await post('test', { url: 'rtsp://${HOME}/x' });
      assert.equal(variable.status, 400, variable.text);
      // A camera that points ffmpeg elsewhere: a local file, HTTPS, a playlist's segment on HTTPS.
      for (const p of ['/redirect-file', '/redirect-https', '/playlist.m3u8']) {
        const r = await post('test', { url: `${trap.url}${p}`, source: 'network' });
        assert.equal(r.status, 200, r.text);
        assert.equal(r.body.ok, false, `${p}: ${r.text}`);
      }
      assert.deepEqual(reports(ROOT), cwdReports, "no -report log in Node-RED's cwd");
      assert.deepEqual(reports(nr.userDir), [], 'no -report log in the user dir');
    });

    it('tests a file or a device only for a user who may change flows', async () => {
      for (const [url, source] of [
        [CLIP, 'file'],
        ['/dev/video0', 'device'],
      ]) {
        const refused = await post('test', { url, source }, 'operator');
        assert.equal(refused.status, 403, refused.text);
        assert.match(String(refused.body.error), /needs the flows\.write permission/);
      }
      const file = await post('test', { url: CLIP, source: 'file' }, 'admin');
      assert.equal(file.status, 200, file.text);
      assert.deepEqual([file.body.ok, file.body.width], [true, 640], file.text);
      const report = await post('test', { url: '-report', source: 'file' }, 'admin');
      assert.deepEqual([report.status, report.body.kind], [200, 'no-file'], report.text);
      const notFile = await post('test', { url: `concat:${CLIP}|${CLIP}`, source: 'file' }, 'admin');
      assert.equal(notFile.status, 400, notFile.text);
      const notDevice = await post('test', { url: '/etc/passwd', source: 'device' }, 'admin');
      assert.equal(notDevice.status, 400, notDevice.text);
      assert.match(String(notDevice.body.error), /not a video device: /);
      assert.deepEqual(reports(ROOT), cwdReports, "no -report log in Node-RED's cwd");
      assert.deepEqual(reports(nr.userDir), [], 'no -report log in the user dir');
    });

    it('logs no stored password', () => {
      const log = nr.log();
      for (const form of [...passwordForms(USER, PASSWORD), ...passwordForms(BROKER_USER, BROKER_PASSWORD)])
        assert.ok(!log.includes(form), `the log holds "${form}"`);
    });
  },
);
