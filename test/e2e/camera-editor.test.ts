/**
 * The face-camera edit dialog in a real browser against a real Node-RED: the source, the URL helper, Test
 * connection (with the stored password of a deployed camera, and with a wrong one) on GStreamer's RTSP
 * server, and Discover on loopback finding a simulated ONVIF camera, filling in its stream and keeping
 * the ONVIF address it came from.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { EditorRED } from 'node-red';
import { launchBrowser, noBrowser, type BrowserHandle } from '../helpers/browser';
import { PASSWORD, USER, cameraSkip } from '../helpers/camera';
import { startNodeRed, waitForLog, type RunningNodeRed } from '../helpers/nodered';
import { startOnvifDevice, type OnvifDevice } from '../helpers/onvif-device';
import { startRtspServer, type RtspServer } from '../helpers/rtsp';

declare const RED: EditorRED;

describe('the face-camera dialog (real browser)', { skip: cameraSkip('ffprobe') }, () => {
  let rtsp: RtspServer;
  let onvif: OnvifDevice;
  let nr: RunningNodeRed;
  let browser: BrowserHandle | undefined;

  before(async () => {
    rtsp = await startRtspServer({ user: USER, password: PASSWORD });
    // A camera name with markup: the dialog must show it as text.
    onvif = await startOnvifDevice({
      username: USER,
      password: PASSWORD,
      discoveryPort: 0,
      name: 'Lobby <b>cam</b>',
      model: 'FW-Sim 1',
    });
    nr = await startNodeRed({
      flows: [
        { id: 't1', type: 'tab', label: 'cameras' },
        {
          id: 'cam1',
          type: 'face-camera',
          name: 'hall',
          url: rtsp.url,
          transport: 'tcp',
          fps: 2,
          width: 640,
          stallTimeout: 20,
          maxAttempts: 0,
          version: 1,
        },
        {
          id: 'src1',
          type: 'rtsp-source',
          z: 't1',
          camera: 'cam1',
          autoStart: false,
          version: 1,
          x: 200,
          y: 100,
          wires: [[], []],
        },
      ],
      credentials: { cam1: { username: USER, password: PASSWORD } },
      env: { FACEWATCH_WSD_PORT: String(onvif.discoveryPort) },
    });
    await waitForLog(nr, /Started flows/);
  });
  after(async () => {
    await browser?.close();
    await nr?.stop();
    await onvif?.close();
    await rtsp?.stop();
  });

  it('builds a URL, tests the connection and discovers an ONVIF camera', async (t) => {
    if (noBrowser(t)) return;
    browser = await launchBrowser();
    const page = await browser.browser.newPage({ viewport: { width: 1400, height: 1000 } });
    const pageErrors: string[] = [];
    const dialogs: string[] = [];
    page.on('pageerror', (err) => pageErrors.push(err.message));
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    await page.goto(nr.url, { waitUntil: 'domcontentloaded' });
    await page.waitForSelector('#red-ui-palette-container-facewatch', { timeout: 60000 });
    await page.evaluate(() => RED.editor.editConfig('', 'face-camera', 'cam1', 'node-input'));
    await page.waitForSelector('#node-config-input-url', { state: 'visible' });
    assert.equal(await page.inputValue('#node-config-input-url'), rtsp.url);
    // Saved before the source setting: it shows the source its URL implies.
    assert.equal(await page.inputValue('#node-config-input-source'), 'network');
    assert.equal(await page.inputValue('#node-config-input-onvifAddress'), '');

    // Test connection with the stored password: the form holds only Node-RED's placeholder.
    assert.equal(await page.inputValue('#node-config-input-password'), '__PWRD__');
    await page.click('#fw-camera-test');
    await page.waitForFunction(
      () =>
        /connected: 640x360, h264/.test(document.querySelector('#fw-camera-test-result')?.textContent ?? ''),
      undefined,
      { timeout: 30000 },
    );

    // A wrong password says so.
    await page.fill('#node-config-input-password', 'not-the-password');
    await page.click('#fw-camera-test');
    await page.waitForFunction(
      () =>
        /wrong user or password/.test(document.querySelector('#fw-camera-test-result')?.textContent ?? ''),
      undefined,
      { timeout: 30000 },
    );

    // The URL helper.
    await page.fill('#node-config-input-host', '192.0.2.10');
    await page.selectOption('#node-config-input-preset', 'hikvision');
    await page.selectOption('#node-config-input-stream', 'sub');
    await page.click('#fw-camera-build');
    assert.equal(
      await page.inputValue('#node-config-input-url'),
      'rtsp://192.0.2.10:554/Streaming/Channels/102',
    );

    // Discover on loopback, then read the camera's profiles with the form's credentials.
    await page.fill('#node-config-input-password', PASSWORD);
    await page.click('#fw-camera-discover-toggle');
    await page.waitForSelector('#node-config-input-interface option[value="lo"]', { state: 'attached' });
    await page.selectOption('#node-config-input-interface', 'lo');
    await page.click('#fw-camera-discover-run');
    await page.waitForSelector('#fw-camera-devices .fw-device', { timeout: 30000 });
    const row = await page.textContent('#fw-camera-devices .fw-device');
    assert.match(row ?? '', /Lobby <b>cam<\/b> · FW-Sim 1 · 127\.0\.0\.1/);
    assert.equal(
      await page.$$eval('#fw-camera-devices b', (els) => els.length),
      0,
      'the name is text, not markup',
    );
    await page.click('#fw-camera-devices .fw-device button');
    await page.waitForSelector('#fw-camera-devices select.fw-profiles', { timeout: 30000 });
    const url = await page.inputValue('#node-config-input-url');
    assert.match(url, /^rtsp:\/\/127\.0\.0\.1:8554\/Streaming\/Channels\/\d+/);
    assert.ok(!url.includes(PASSWORD) && !url.includes('@'), 'the stream URL carries no credentials');
    const profiles = await page.$$eval('#fw-camera-devices select.fw-profiles option', (els) =>
      els.map((e) => e.textContent ?? ''),
    );
    assert.equal(profiles.length, 2);
    assert.match(profiles[0], /1920x1080/);
    // The ONVIF address it was set up from is kept: the only one its stored password will go to.
    assert.equal(await page.inputValue('#node-config-input-onvifAddress'), onvif.xaddr);
    assert.equal(await page.inputValue('#node-config-input-source'), 'network');
    // A URL built for another host is another device: the ONVIF address is let go.
    await page.fill('#node-config-input-host', '192.0.2.11');
    await page.click('#fw-camera-build');
    assert.equal(await page.inputValue('#node-config-input-onvifAddress'), '');
    await page.screenshot({ path: path.join(process.env.FW_SCREENSHOTS ?? nr.userDir, 'camera-dialog.png') });
    await page.click('#node-config-dialog-cancel');
    assert.deepEqual(pageErrors, []);
    assert.deepEqual(dialogs, []);
    assert.ok(!nr.log().includes(PASSWORD), 'the password is not in the log');
  });
});
