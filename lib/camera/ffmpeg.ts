/**
 * The ffmpeg command of a camera, and what its output means. fluent-ffmpeg builds and probes the
 * command (its repository is archived, so it stays behind this one module: a plain argument list
 * could replace it); the process itself is run by the process supervisor.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ffmpeg from 'fluent-ffmpeg';
import { CAMERA, readNumber, type CameraSource } from '../types/defaults';

/** The ffmpeg to run: FFMPEG_PATH, or `ffmpeg` on the PATH. */
export function ffmpegPath(): string {
  return process.env.FFMPEG_PATH?.trim() || 'ffmpeg';
}

/** The ffprobe beside it: FFPROBE_PATH, or `ffprobe` next to FFMPEG_PATH, or on the PATH. */
export function ffprobePath(): string {
  if (process.env.FFPROBE_PATH?.trim()) return process.env.FFPROBE_PATH.trim();
  const f = process.env.FFMPEG_PATH?.trim();
  return f ? f.replace(/ffmpeg(\.exe)?$/i, (m) => m.replace(/ffmpeg/i, 'ffprobe')) : 'ffprobe';
}

/** ffmpeg executables already found to answer, by path: every rtsp-source checks on start. */
const found = new Map<string, Promise<string>>();

/**
 * Resolves with ffmpeg's version line, or rejects with an operator's message when it is missing. An
 * ffmpeg that answered once is not asked again (many cameras start together); a missing one is asked
 * again next time, so installing it needs no restart.
 */
export function checkFfmpeg(): Promise<string> {
  const file = ffmpegPath();
  const known = found.get(file);
  if (known) return known;
  const check = new Promise<string>((resolve, reject) => {
    execFile(file, ['-hide_banner', '-version'], { timeout: 10000 }, (err, stdout) => {
      if (err)
        reject(
          new Error(
            `ffmpeg not found: install it or set FFMPEG_PATH (tried ${file}; Debian/Ubuntu: apt-get install ffmpeg)`,
          ),
        );
      else resolve(stdout.split('\n')[0]);
    });
  });
  found.set(file, check);
  check.catch(() => {
    if (found.get(file) === check) found.delete(file);
  });
  return check;
}

/** Where a camera's frames come from, by its address. */
export type SourceKind = 'rtsp' | 'http' | 'snapshot' | 'file' | 'v4l2';

/**
 * HTTP addresses that answer one picture per request (a camera's snapshot URL) rather than an MJPEG
 * stream: an image file name, or the snapshot paths of the common brands (Hikvision `…/picture`,
 * Dahua and Amcrest `snapshot.cgi`, Axis `jpg/image.cgi`, Reolink `cmd=Snap`, ONVIF GetSnapshotUri
 * answers). They are polled at the camera's frame rate.
 */
export const SNAPSHOT_URL = /\.(jpe?g|png)([?#]|$)|snapshot|\/picture\b|image\.cgi|cmd=snap\b/i;

/** Whether an address is fetched with credentials in it (RTSP and HTTP). */
export function isNetworkSource(kind: SourceKind): boolean {
  return kind === 'rtsp' || kind === 'http' || kind === 'snapshot';
}

/** The schemes of a network camera. */
export const NETWORK_SCHEMES = ['rtsp', 'rtsps', 'http', 'https'] as const;

/**
 * The protocols ffmpeg may open for each kind of address (`-protocol_whitelist`), measured with
 * ffmpeg: RTSP is ffmpeg's demuxer, not a protocol, and opens tcp (interleaved) or rtp over udp;
 * RTSPS goes over tls on tcp only (ffmpeg sends RTSPS over TCP whatever the transport); HTTPS is
 * https on tls on tcp. Nothing else may be opened on the camera's behalf: not a playlist's or a
 * redirect's other protocol (file, data, concat, subfile, udp from an HTTP camera), nor a scheme the
 * URL itself does not name.
 */
export const PROTOCOL_WHITELIST: Readonly<Record<string, string>> = Object.freeze({
  rtsp: 'rtp,udp,tcp',
  rtsps: 'tls,tcp',
  http: 'http,tcp',
  https: 'https,tls,tcp',
  file: 'file',
  device: 'file',
});

/** What ffmpeg is given for a camera's address, once it has been checked against the camera's source. */
export interface CameraInput {
  kind: SourceKind;
  /**
   * What follows ffmpeg's `-i`: the network URL as written (credentials are added later), `file:`
   * and the absolute path of a file (so no other protocol can be named by it), or the device path.
   */
  input: string;
  /** ffmpeg's `-protocol_whitelist` for it. */
  protocols: string;
}

/** The address as it may appear in an error: any password in it masked, and not too long. */
function shown(url: string): string {
  const masked = url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^/@]*:)[^/@]*@/i, '$1***@');
  return masked.length > 120 ? `${masked.slice(0, 117)}...` : masked;
}

/**
 * Checks a camera's address against its source and says what ffmpeg is to open, or throws an error
 * an operator can act on. A network camera takes only rtsp://, rtsps://, http:// and https:// with a
 * host; a file only a local path or a file:// URL; a device only /dev/videoN.
 */
export function cameraInput(url: string, source: CameraSource = 'network'): CameraInput {
  const u = url.trim();
  if (!u) throw new Error('no camera address: set the URL');
  if ([...u].some((ch) => ch.charCodeAt(0) < 0x20 || ch.charCodeAt(0) === 0x7f))
    throw new Error('invalid camera address: it holds control characters');
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(u)?.[1]?.toLowerCase();
  if (source === 'device') {
    if (!/^\/dev\/video\d+$/.test(u))
      throw new Error(`not a video device: "${shown(u)}"; a device camera's address is /dev/videoN`);
    return { kind: 'v4l2', input: u, protocols: PROTOCOL_WHITELIST.device };
  }
  if (source === 'file') {
    let file: string;
    if (scheme === 'file') {
      try {
        file = fileURLToPath(u);
      } catch (err) {
        throw new Error(`not a local file URL: "${shown(u)}" (${(err as Error).message})`);
      }
    } else if (!scheme || scheme.length === 1) file = path.resolve(u);
    else
      throw new Error(
        `not a file: "${shown(u)}"; a file camera's address is a local path or a file:// URL${(NETWORK_SCHEMES as readonly string[]).includes(scheme) ? ` (set the source to network for ${scheme}://)` : ''}`,
      );
    return { kind: 'file', input: `file:${file}`, protocols: PROTOCOL_WHITELIST.file };
  }
  if (!scheme || scheme.length === 1 || scheme === 'file')
    throw new Error(
      `not a network camera address: "${shown(u)}"; use rtsp://, rtsps://, http:// or https:// (for a video file or a webcam, set the camera's source to file or device)`,
    );
  if (!(NETWORK_SCHEMES as readonly string[]).includes(scheme))
    throw new Error(
      `unsupported camera address scheme "${scheme}:": a network camera's address starts with rtsp://, rtsps://, http:// or https://`,
    );
  let parsed: URL;
  try {
    parsed = new URL(u);
  } catch {
    throw new Error(`invalid camera URL: ${shown(u)}`);
  }
  if (!parsed.hostname || !/^[a-z]+:\/\//i.test(u)) throw new Error('invalid camera URL: no host');
  const kind: SourceKind = scheme.startsWith('rtsp') ? 'rtsp' : SNAPSHOT_URL.test(u) ? 'snapshot' : 'http';
  return { kind, input: u, protocols: PROTOCOL_WHITELIST[scheme] };
}

/** What the camera's ffmpeg is told to produce. */
export interface StreamArgs {
  /** What ffmpeg opens (CameraInput's `input`), with credentials in it (never logged: see redactor). */
  url: string;
  kind: SourceKind;
  /** ffmpeg's `-protocol_whitelist` (CameraInput's `protocols`). */
  protocols: string;
  transport: 'tcp' | 'udp';
  /** Frames per second sent on (ffmpeg drops the others). */
  fps: number;
  /** Frames scaled to this width (the height keeps the aspect, even); 0 keeps the camera's. */
  width: number;
  /** Socket timeout inside ffmpeg (RTSP, HTTP), seconds. */
  socketTimeout: number;
  /** Decoding threads (0 = ffmpeg's choice); default FACEWATCH_FFMPEG_THREADS, else CAMERA.decodeThreads. */
  threads?: number;
  /**
   * Also the camera's full picture of every frame sent on, as JPEG on pipe 3 (file descriptor 3),
   * beside the scaled raw frame on stdout: faces are found in the scaled frame and described from
   * the full picture. Only with a `width` (without one the frame is already the full picture).
   */
  fullPicture?: boolean;
}

/** JPEG quality of the full pictures (ffmpeg's -q:v, 2 best .. 31): near the camera's own. */
const FULL_PICTURE_QUALITY = 3;

/** Decoding threads per camera: FACEWATCH_FFMPEG_THREADS when it is a valid count, else the default. */
export function decodeThreads(): number {
  const r = readNumber(CAMERA.decodeThreads, process.env.FACEWATCH_FFMPEG_THREADS ?? '');
  return r.value;
}

/**
 * The arguments of ffmpeg reading one camera: raw RGB frames on stdout at the configured rate and
 * width, stream information (and errors) on stderr, no statistics, no audio, no stdin.
 */
export function streamArguments(a: StreamArgs): string[] {
  const input: string[] = [
    '-threads',
    String(a.threads ?? decodeThreads()),
    '-protocol_whitelist',
    a.protocols,
  ];
  if (a.kind === 'rtsp')
    input.push('-rtsp_transport', a.transport, '-timeout', String(Math.round(a.socketTimeout * 1e6)));
  else if (a.kind === 'http')
    // An MJPEG stream carries no timestamps: ffmpeg would take it for 25 frames/s, and a camera
    // sending 2 would get one frame in every 12 s through the fps filter. The arrival time is the
    // frame's time.
    input.push('-rw_timeout', String(Math.round(a.socketTimeout * 1e6)), '-use_wallclock_as_timestamps', '1');
  else if (a.kind === 'snapshot')
    // One request per frame, at the frame rate (-re paces the reads). A server that stops answering
    // is caught by the stall watchdog (image2 takes no socket timeout).
    input.push('-re', '-f', 'image2', '-pattern_type', 'none', '-loop', '1', '-framerate', String(a.fps));
  else if (a.kind === 'file') input.push('-re', '-stream_loop', '-1');
  else input.push('-f', 'v4l2');
  // The rate first, so only the frames sent on are scaled and converted; `area` scaling is both the
  // cheapest (measured: 8 % less CPU than the default bicubic at 720p to 640) and the sharpest for
  // shrinking a camera frame.
  const filters = [`fps=${a.fps}`];
  if (a.width > 0) filters.push(`scale=${a.width}:-2:flags=area`);
  if (a.fullPicture && a.width > 0) return withFullPicture(a, input);
  // fluent-ffmpeg writes the address after -i, so no address can be read as an option.
  const cmd = ffmpeg(a.url)
    .inputOptions(input)
    .noAudio()
    .videoFilters(filters)
    .outputOptions(['-pix_fmt', 'rgb24'])
    .format('rawvideo')
    .output('pipe:1');
  const args = (cmd as unknown as { _getArguments(): string[] })._getArguments();
  return ['-hide_banner', '-nostdin', '-nostats', '-loglevel', 'info', ...args];
}

/**
 * The arguments of {@link streamArguments} with a second output: the rate filter's frames split in
 * two, one scaled to raw RGB on stdout (output 0, whose size the stream reads), the other encoded
 * as JPEG at the camera's size on pipe 3. One decode serves both; measured at 2 frames/s from a
 * 1080p camera, ffmpeg's CPU grows by about a sixth (bench/ingest.ts).
 */
function withFullPicture(a: StreamArgs, input: string[]): string[] {
  const graph = `[0:v]fps=${a.fps},split=2[a][b];[a]scale=${a.width}:-2:flags=area,format=rgb24[s];[b]format=yuvj420p[f]`;
  return [
    '-hide_banner',
    '-nostdin',
    '-nostats',
    '-loglevel',
    'info',
    ...input,
    // The address right after -i, as fluent-ffmpeg places it: it cannot be read as an option.
    '-i',
    a.url,
    '-filter_complex',
    graph,
    '-map',
    '[s]',
    '-an',
    '-pix_fmt',
    'rgb24',
    '-f',
    'rawvideo',
    'pipe:1',
    '-map',
    '[f]',
    '-an',
    '-c:v',
    'mjpeg',
    '-q:v',
    String(FULL_PICTURE_QUALITY),
    '-f',
    'image2pipe',
    'pipe:3',
  ];
}

/** What ffmpeg said about the stream before its first frame. */
export interface StreamInfo {
  /** Input codec, e.g. h264. */
  codec?: string;
  /** Input frame rate. */
  fps?: number;
  /** Input size. */
  inputWidth?: number;
  inputHeight?: number;
  /** Output frame size (the frames on stdout). */
  width?: number;
  height?: number;
}

/**
 * Reads ffmpeg's stderr, line by line, for the input and output stream lines. `done` is true once the
 * output size is known (then frames can be cut).
 */
export class StreamInfoParser {
  readonly info: StreamInfo = {};
  private section: 'input' | 'output' | 'none' = 'none';

  get done(): boolean {
    return this.info.width !== undefined && this.info.height !== undefined;
  }

  line(text: string): void {
    if (/^Input #0/.test(text)) this.section = 'input';
    else if (/^Output #0/.test(text)) this.section = 'output';
    const m = /Stream #\d+:\d+.*?: Video: (\w+)[^,]*,.*?(\d{2,5})x(\d{2,5})/.exec(text);
    if (!m) return;
    if (this.section === 'input' && this.info.codec === undefined) {
      this.info.codec = m[1];
      this.info.inputWidth = Number(m[2]);
      this.info.inputHeight = Number(m[3]);
      const fps = /([\d.]+) fps/.exec(text) ?? /([\d.]+) tbr/.exec(text);
      if (fps) this.info.fps = Number(fps[1]);
    } else if (this.section === 'output' && this.info.width === undefined) {
      this.info.width = Number(m[2]);
      this.info.height = Number(m[3]);
    }
  }
}

/** Reasons an operator understands, for what ffmpeg printed when a camera failed. */
export type FailureKind =
  | 'unauthorized'
  | 'not-found'
  | 'refused'
  | 'timeout'
  | 'unreachable'
  | 'not-video'
  | 'no-file'
  | 'ended'
  | 'error';

/** A camera failure: its kind and the words for it. */
export interface Failure {
  kind: FailureKind;
  reason: string;
}

const FAILURES: Array<[RegExp, FailureKind, string]> = [
  [
    /401 Unauthorized|authorization failed|\b401\b/i,
    'unauthorized',
    'wrong user or password (401 Unauthorized)',
  ],
  [/403 Forbidden/i, 'unauthorized', 'access denied by the camera (403 Forbidden)'],
  [/404 Not Found|\b404\b/i, 'not-found', 'no such stream on the camera (404 Not Found): check the path'],
  [
    /Connection refused/i,
    'refused',
    'connection refused: nothing listens on that port (check the address and port)',
  ],
  [
    /timed out/i,
    'timeout',
    'timeout: the camera did not answer (check the address, the network and the firewall)',
  ],
  [
    /No route to host|Network is unreachable|Name or service not known|Temporary failure in name resolution|Host is unreachable/i,
    'unreachable',
    'camera unreachable: no route to that address, or the name does not resolve',
  ],
  [/No such file or directory/i, 'no-file', 'no such file or device'],
  [
    /Invalid data found when processing input|does not contain any stream|Output file #0 does not contain|no video stream|matches no streams/i,
    'not-video',
    'not a video stream',
  ],
];

/** Classifies what ffmpeg printed (already redacted) before it exited. */
export function classifyFailure(stderr: string): Failure {
  for (const [re, kind, reason] of FAILURES) if (re.test(stderr)) return { kind, reason };
  const last = stderr
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .pop();
  return { kind: 'error', reason: last ? `ffmpeg: ${last}` : 'ffmpeg exited' };
}
