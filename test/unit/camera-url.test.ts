import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  REDACTED,
  displayUrl,
  originOf,
  presetUrl,
  redactor,
  sameOrigin,
  withCredentials,
} from '../../lib/camera/url';
import { passwordForms } from '../helpers/camera';

const USER = 'admin';
const PASSWORD = 'S3cr%t:pw!';

describe('camera URLs', () => {
  it('builds vendor stream URLs', () => {
    assert.equal(presetUrl('192.0.2.10', 'hikvision'), 'rtsp://192.0.2.10:554/Streaming/Channels/101');
    assert.equal(
      presetUrl('cam.local', 'hikvision', 'sub', 8554),
      'rtsp://cam.local:8554/Streaming/Channels/102',
    );
    assert.equal(
      presetUrl('192.0.2.10', 'dahua', 'sub'),
      'rtsp://192.0.2.10:554/cam/realmonitor?channel=1&subtype=1',
    );
    assert.equal(presetUrl('fe80::1', 'reolink'), 'rtsp://[fe80::1]:554/h264Preview_01_main');
    assert.throws(() => presetUrl('a b', 'axis'), /invalid camera host/);
    assert.throws(() => presetUrl('x', 'nope' as 'axis'), /unknown camera preset/);
  });

  it('puts credentials into the URL percent-encoded, so the URL still parses to them', () => {
    const url = withCredentials('rtsp://127.0.0.1:8554/clip', 'us@r', PASSWORD);
    assert.equal(url, 'rtsp://us%40r:S3cr%25t%3Apw%21@127.0.0.1:8554/clip');
    const parsed = new URL(url);
    assert.equal(decodeURIComponent(parsed.username), 'us@r');
    assert.equal(decodeURIComponent(parsed.password), PASSWORD);
    assert.equal(parsed.host, '127.0.0.1:8554');
    // Credentials already in the URL are replaced, not doubled.
    assert.equal(withCredentials('rtsp://old:pw@h/p', 'a', 'b'), 'rtsp://a:b@h/p');
    assert.equal(withCredentials('rtsp://h/p'), 'rtsp://h/p');
  });

  it('removes every form of the password from a text', () => {
    const redact = redactor({ username: USER, password: PASSWORD });
    for (const form of passwordForms(USER, PASSWORD)) {
      const line = `[rtsp @ 0x55] method DESCRIBE failed: 401 Unauthorized (${form}) Authorization: Basic ${form}`;
      const out = redact(line);
      assert.ok(!out.includes(form), `${form} survived: ${out}`);
      assert.ok(out.includes(REDACTED));
    }
    const url = withCredentials('rtsp://127.0.0.1:8554/clip', USER, PASSWORD);
    assert.equal(
      redact(`Could not open ${url}`),
      `Could not open rtsp://admin:${REDACTED}@127.0.0.1:8554/clip`,
    );
    // A password FaceWatch was not told about is still cut out of any URL.
    assert.equal(redactor({})('rtsp://u:other@h/p'), `rtsp://u:${REDACTED}@h/p`);
    assert.equal(displayUrl('rtsps://u:p%40ss@cam:322/s'), `rtsps://u:${REDACTED}@cam:322/s`);
    assert.equal(redact('nothing secret here'), 'nothing secret here');
  });

  it('handles passwords with spaces and non-ASCII characters', () => {
    const password = 'pässwörd mit leer';
    const redact = redactor({ username: 'u', password });
    for (const form of [...passwordForms('u', password), password.replace(/ /g, '+')])
      assert.ok(!redact(`x ${form} y`).includes(form), form);
  });

  it("compares scheme, host and port (a scheme's default port filled in): where a stored password may go", () => {
    assert.equal(originOf('rtsp://Cam.Local/Streaming/101'), 'rtsp://cam.local:554');
    assert.equal(originOf('rtsps://cam/x'), 'rtsps://cam:322');
    assert.equal(originOf('http://cam/x'), 'http://cam:80');
    assert.equal(originOf('https://u:p@cam:8443/x?y'), 'https://cam:8443');
    assert.equal(originOf('http://[::1]:8080/x'), 'http://[::1]:8080');
    for (const bad of [
      undefined,
      '',
      'not a url',
      '/etc/passwd',
      'file:///etc/passwd',
      'ftp://cam/x',
      'rtsp://',
    ])
      assert.equal(originOf(bad), undefined, String(bad));
    const same: Array<[string, string]> = [
      ['rtsp://cam:554/a', 'rtsp://CAM/b?c'],
      ['http://10.0.0.5/onvif/device_service', 'http://10.0.0.5:80/other'],
      ['rtsp://cam:8554/clip', 'rtsp://user:pw@cam:8554/nope'],
    ];
    for (const [a, b] of same) assert.ok(sameOrigin(a, b), `${a} ~ ${b}`);
    const different: Array<[string, string]> = [
      ['rtsp://cam/a', 'rtsps://cam/a'],
      ['rtsp://cam/a', 'http://cam:554/a'],
      ['rtsp://cam:554/a', 'rtsp://cam:8554/a'],
      ['rtsp://cam/a', 'rtsp://cam.evil.example/a'],
      ['http://127.0.0.1/x', 'http://localhost/x'],
      ['http://cam/x', 'https://cam/x'],
      ['/etc/passwd', '/etc/passwd'],
      ['', ''],
    ];
    for (const [a, b] of different) assert.ok(!sameOrigin(a, b), `${a} !~ ${b}`);
  });
});
