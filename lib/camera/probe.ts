/**
 * Test connection: open a camera's stream, read one frame, and answer with its resolution, codec and
 * frame rate, or the reason in words an operator understands.
 *
 * It runs ffprobe directly rather than through fluent-ffmpeg's ffprobe(), which gives no handle on
 * the process: a camera that accepts the connection and then hangs would leave a probe behind, and
 * this one is killed at its deadline.
 */
import { execFile } from 'node:child_process';
import { classifyFailure, ffprobePath, isNetworkSource, type FailureKind } from './ffmpeg';
import { resolveCameraConfig, type CameraConfig } from './stream';
import { redactor, withCredentials } from './url';

/** Why a connection test failed. */
export type ProbeFailureKind = FailureKind | 'ffprobe-missing';

/** What a connection test found. */
export type ProbeResult =
  | { ok: true; width: number; height: number; codec: string; fps?: number; elapsedMs: number }
  | { ok: false; kind: ProbeFailureKind; reason: string; elapsedMs: number };

function rate(r: unknown): number | undefined {
  const m = typeof r === 'string' ? /^(\d+)\/(\d+)$/.exec(r) : null;
  if (!m || Number(m[2]) === 0) return undefined;
  return Math.round((Number(m[1]) / Number(m[2])) * 100) / 100;
}

/**
 * Opens the stream, reads one video frame, and resolves (never rejects) with what it found. The
 * answer holds no form of the password.
 */
export function probeCamera(camera: CameraConfig, timeoutMs = 15000): Promise<ProbeResult> {
  const started = Date.now();
  const elapsed = (): number => Date.now() - started;
  let c: ReturnType<typeof resolveCameraConfig>;
  try {
    c = resolveCameraConfig(camera);
  } catch (err) {
    return Promise.resolve({
      ok: false,
      kind: 'error',
      reason: (err as Error).message,
      elapsedMs: elapsed(),
    });
  }
  const redact = redactor(c);
  const input: string[] = [];
  const socketUs = String(Math.round(Math.min(c.socketTimeout * 1000, timeoutMs) * 1000));
  if (c.kind === 'rtsp') input.push('-rtsp_transport', c.transport, '-timeout', socketUs);
  else if (c.kind === 'http' || c.kind === 'snapshot') input.push('-rw_timeout', socketUs);
  else if (c.kind === 'v4l2') input.push('-f', 'v4l2');
  const url = isNetworkSource(c.kind) ? withCredentials(c.input, c.username, c.password) : c.input;
  const args = [
    '-v',
    'error',
    '-protocol_whitelist',
    c.protocols,
    ...input,
    '-select_streams',
    'v:0',
    '-read_intervals',
    '%+#1',
    '-show_entries',
    'stream=codec_name,width,height,avg_frame_rate,r_frame_rate:frame=width,height',
    '-of',
    'json',
    // After -i, so no address can be read as an option (`-report` would write a log file).
    '-i',
    url,
  ];
  return new Promise((resolve) => {
    execFile(
      ffprobePath(),
      args,
      { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 1 << 20 },
      (err, stdout, stderr) => {
        const fail = (kind: ProbeFailureKind, reason: string): void =>
          resolve({ ok: false, kind, reason: redact(reason), elapsedMs: elapsed() });
        const e = err as (NodeJS.ErrnoException & { killed?: boolean }) | null;
        if (e?.code === 'ENOENT')
          return fail(
            'ffprobe-missing',
            `ffprobe not found (${ffprobePath()}): install ffmpeg or set FFPROBE_PATH`,
          );
        if (e?.killed) return fail('timeout', `timeout: no frame within ${Math.round(timeoutMs / 1000)} s`);
        let parsed: { streams?: Array<Record<string, unknown>>; frames?: Array<Record<string, unknown>> } =
          {};
        try {
          parsed = JSON.parse(stdout || '{}') as typeof parsed;
        } catch {
          // Unparseable output is judged by stderr below.
        }
        const stream = parsed.streams?.[0];
        const frame = parsed.frames?.[0];
        if (!e && stream && frame) {
          return resolve({
            ok: true,
            width: Number(frame.width ?? stream.width),
            height: Number(frame.height ?? stream.height),
            codec: String(stream.codec_name),
            fps: rate(stream.avg_frame_rate) ?? rate(stream.r_frame_rate),
            elapsedMs: elapsed(),
          });
        }
        const text = redact(String(stderr));
        if (!e && !stream) return fail('not-video', 'not a video stream: it has no video track');
        if (!e && !frame) return fail('not-video', 'not a video stream: no frame could be read');
        const failure = classifyFailure(text);
        fail(failure.kind, failure.reason);
      },
    );
  });
}
