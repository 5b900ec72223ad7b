/**
 * A real RTSP server on loopback for the camera tests: GStreamer's RTSP server (test/helpers/rtsp-server.py,
 * Debian's python3-gi and gir1.2-gst-rtsp-server-1.0) serving the Hamilton clip over TCP and UDP,
 * with or without a user and password.
 *
 * GStreamer plays a file once per client, so the server gets a looped copy of the clip (made once per
 * test process with `ffmpeg -stream_loop`, video only, no re-encoding): the end of the clip is not
 * mistaken for a dead camera.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT } from './env';

/** The Python that has GStreamer's bindings (Debian's, not a pyenv or venv one). */
export const SYSTEM_PYTHON = process.env.FACEWATCH_PYTHON ?? '/usr/bin/python3';

/** The Hamilton clip shipped with the tests (10 s, 640x360, H.264). */
export const CLIP = path.join(
  ROOT,
  'test',
  'fixtures',
  'faces',
  'face_recognition',
  'examples',
  'short_hamilton_clip.mp4',
);

const SCRIPT = path.join(__dirname, 'rtsp-server.py');

/** Whether GStreamer's RTSP server can run here. */
export function hasRtspServer(): boolean {
  try {
    execFileSync(SYSTEM_PYTHON, ['-c', 'import gi; gi.require_version("GstRtspServer", "1.0")'], {
      stdio: 'ignore',
      timeout: 10000,
    });
    return true;
  } catch {
    return false;
  }
}

let looped: { dir: string; file: string } | undefined;

/** The clip looped `times` times (about 10 s each), made once per process and removed at exit. */
export function loopedClip(times = 30, source = CLIP): string {
  if (looped) return looped.file;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'fw-rtsp-'));
  const file = path.join(dir, 'looped.mp4');
  execFileSync(
    process.env.FFMPEG_PATH ?? 'ffmpeg',
    ['-v', 'error', '-y', '-stream_loop', String(times - 1), '-i', source, '-an', '-c', 'copy', file],
    { stdio: ['ignore', 'ignore', 'pipe'], timeout: 60000 },
  );
  looped = { dir, file };
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  return file;
}

export interface RtspServerOptions {
  /** The H.264 MP4 to serve (default: the looped clip). */
  file?: string;
  /** 0 (default) picks a free port; give the old port to bring a killed server back. */
  port?: number;
  mount?: string;
  user?: string;
  password?: string;
}

export interface RtspServer {
  port: number;
  pid: number;
  /** rtsp://127.0.0.1:port/mount, without credentials. */
  url: string;
  /** SIGTERM, then SIGKILL after 3 s; resolves once it exited. */
  stop(): Promise<void>;
  /** SIGKILL at once, as a crashed camera. */
  kill(): Promise<void>;
  /** SIGSTOP: the server stops answering, connections stay open (a frozen camera). */
  freeze(): void;
  /** SIGCONT. */
  thaw(): void;
}

/** Starts a server and resolves once it listens. */
export function startRtspServer(opts: RtspServerOptions = {}): Promise<RtspServer> {
  const mount = opts.mount ?? '/clip';
  const args = [
    SCRIPT,
    '--file',
    opts.file ?? loopedClip(),
    '--port',
    String(opts.port ?? 0),
    '--mount',
    mount,
  ];
  if (opts.user) args.push('--user', opts.user, '--password', opts.password ?? '');
  const child: ChildProcess = spawn(SYSTEM_PYTHON, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise<RtspServer>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`RTSP server did not start within 15 s: ${stderr}`));
    }, 15000);
    let out = '';
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /READY (\d+)/.exec(out);
      if (!m) return;
      clearTimeout(timer);
      const port = Number(m[1]);
      const signal = (sig: NodeJS.Signals): void => {
        if (child.exitCode === null && child.signalCode === null) child.kill(sig);
      };
      resolve({
        port,
        pid: child.pid ?? -1,
        url: `rtsp://127.0.0.1:${port}${mount}`,
        async stop() {
          signal('SIGCONT');
          signal('SIGTERM');
          const t = setTimeout(() => signal('SIGKILL'), 3000);
          await exited;
          clearTimeout(t);
        },
        async kill() {
          signal('SIGKILL');
          await exited;
        },
        freeze: () => signal('SIGSTOP'),
        thaw: () => signal('SIGCONT'),
      });
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`RTSP server exited (${String(code)}) before listening: ${stderr}`));
    });
  });
}

/** A check for leftovers: whether a process still exists. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
