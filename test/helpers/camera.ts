/**
 * Shared pieces of the camera tests: the test credentials, every form their password could leak in,
 * the skip rule for a machine without ffmpeg or GStreamer's RTSP server, and process look-ups.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { encodeUserinfo } from '../../lib/camera/url';
import { IN_CI, toolSkip } from './env';
import { hasRtspServer } from './rtsp';
import { selfSignedFiles } from './tls';

/** A camera user and a password that needs percent-encoding in a URL. */
export const USER = 'operator';
export const PASSWORD = 'S3cr%t:pw!';

/**
 * Every form in which a password could leak: plain, percent-encoded (in full and in part, upper and
 * lower case hex), and the Basic authorization value with and without its padding.
 */
export function passwordForms(user: string, password: string): string[] {
  const bytes = [...Buffer.from(password, 'utf8')];
  const full = (upper: boolean): string =>
    bytes.map((b) => '%' + b.toString(16).padStart(2, '0')[upper ? 'toUpperCase' : 'toLowerCase']()).join('');
  const partial = [...password].map((c, i) => (i % 2 ? encodeURIComponent(c) : c)).join('');
  const basic = Buffer.from(`${user}:${password}`).toString('base64');
  return [
    password,
    encodeURIComponent(password),
    encodeUserinfo(password),
    encodeUserinfo(password).replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase()),
    full(true),
    full(false),
    partial,
    basic,
    basic.replace(/=+$/, ''),
  ];
}

/**
 * Why the camera tests cannot run here (a skip reason), or undefined when they can. Under CI a
 * missing part fails instead: a green CI never hides a skipped camera suite.
 */
export function cameraSkip(tool: 'ffmpeg' | 'ffprobe' = 'ffmpeg'): string | undefined {
  const missingTool = toolSkip(tool);
  if (missingTool) return missingTool;
  if (hasRtspServer()) return undefined;
  const why = "GStreamer's RTSP server (python3-gi, gir1.2-gst-rtsp-server-1.0) not found";
  if (IN_CI) throw new Error(`required under CI: ${why}`);
  return why;
}

/** Pids of the processes whose command line contains `marker` (pgrep -f). */
export function pids(marker: string): number[] {
  try {
    return execFileSync('pgrep', ['-f', marker], { encoding: 'utf8' })
      .split('\n')
      .filter(Boolean)
      .map(Number)
      .filter((pid) => pid !== process.pid);
  } catch {
    return [];
  }
}

/** A self-signed certificate for 127.0.0.1, made with openssl in a throw-away folder. */
export function selfSigned(): { key: Buffer; cert: Buffer } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'fw-tls-'));
  try {
    const { key, cert } = selfSignedFiles(dir, 'server', '/CN=127.0.0.1');
    return { key: readFileSync(key), cert: readFileSync(cert) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
