/**
 * Camera addresses: building a stream URL from a host and a vendor preset, putting credentials into
 * it correctly encoded, and keeping every form of the password out of what FaceWatch prints.
 *
 * ffmpeg echoes the URL it was given in its own errors (a camera's 401 comes back with the password
 * in it), so whatever ffmpeg prints passes through {@link redactor} before it reaches a log, a status,
 * an error or a message.
 */

/** Stream schemes FaceWatch reads. */
export const CAMERA_SCHEMES = ['rtsp:', 'rtsps:', 'http:', 'https:'] as const;

/** Stream paths of the common camera brands, main and sub stream of the first channel. */
export const VENDOR_PRESETS = {
  hikvision: {
    label: 'Hikvision',
    port: 554,
    main: '/Streaming/Channels/101',
    sub: '/Streaming/Channels/102',
  },
  dahua: {
    label: 'Dahua',
    port: 554,
    main: '/cam/realmonitor?channel=1&subtype=0',
    sub: '/cam/realmonitor?channel=1&subtype=1',
  },
  amcrest: {
    label: 'Amcrest',
    port: 554,
    main: '/cam/realmonitor?channel=1&subtype=0',
    sub: '/cam/realmonitor?channel=1&subtype=1',
  },
  reolink: { label: 'Reolink', port: 554, main: '/h264Preview_01_main', sub: '/h264Preview_01_sub' },
  axis: {
    label: 'Axis',
    port: 554,
    main: '/axis-media/media.amp',
    sub: '/axis-media/media.amp?resolution=640x360',
  },
  uniview: { label: 'Uniview', port: 554, main: '/unicast/c1/s0/live', sub: '/unicast/c1/s1/live' },
  /** ONVIF cameras name their stream URIs themselves: discovery reads them (GetStreamUri). */
  onvif: { label: 'Generic ONVIF (use Discover)', port: 554, main: '/', sub: '/' },
} as const;

export type VendorPreset = keyof typeof VENDOR_PRESETS;

/** Builds `rtsp://host:port/path` for a vendor preset; credentials are added separately. */
export function presetUrl(
  host: string,
  preset: VendorPreset,
  stream: 'main' | 'sub' = 'main',
  port?: number,
): string {
  const p = VENDOR_PRESETS[preset];
  if (!p) throw new Error(`unknown camera preset "${String(preset)}"`);
  const h = host.trim();
  if (!h || /[\s/@?#]/.test(h)) throw new Error(`invalid camera host "${host}"`);
  const bracketed = h.includes(':') && !h.startsWith('[') ? `[${h}]` : h;
  return `rtsp://${bracketed}:${port ?? p.port}${p[stream]}`;
}

/**
 * Percent-encodes a user name or password for the userinfo part of a URL (RFC 3986): everything
 * but unreserved characters, so `:`, `@`, `/`, `%`, `!` and friends cannot break the URL.
 */
export function encodeUserinfo(value: string): string {
  return encodeURIComponent(value).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

/**
 * The URL with the credentials in it (replacing any already there). Without a user name the URL is
 * returned as it is.
 */
export function withCredentials(url: string, username?: string, password?: string): string {
  if (!username) return url;
  const u = new URL(url);
  // URL's own setters encode too little for some cameras' parsers; set the encoded forms directly.
  const auth = `${encodeUserinfo(username)}${password ? `:${encodeUserinfo(password)}` : ''}@`;
  const rest = url.slice(url.indexOf('//') + 2).replace(/^[^/?#]*@/, '');
  return `${u.protocol}//${auth}${rest}`;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function hexByte(b: number): string {
  // %3a and %3A are the same byte: match either case of each hex digit.
  return (
    '%' +
    b
      .toString(16)
      .padStart(2, '0')
      .split('')
      .map((d) => (/[a-f]/.test(d) ? `[${d}${d.toUpperCase()}]` : d))
      .join('')
  );
}

/** A pattern for a secret written plainly, percent-encoded in full or in part, in either hex case. */
function encodedForms(secret: string): string {
  return [...secret]
    .map((ch) => {
      const bytes = [...Buffer.from(ch, 'utf8')].map(hexByte).join('');
      const plus = ch === ' ' ? '|\\+' : '';
      return `(?:${escapeRegExp(ch)}|${bytes}${plus})`;
    })
    .join('');
}

/** The text a redacted secret is replaced by. */
export const REDACTED = '***';

/**
 * Returns a function that removes every form of the password from a text: the plain text, any
 * percent-encoding of it (full or partial, upper or lower case hex), the Basic authorization value
 * (base64 of `user:password`, also unpadded), and the password part of any `user:password@` in a URL.
 */
export function redactor(secrets: { username?: string; password?: string }): (text: string) => string {
  const { username = '', password = '' } = secrets;
  const patterns: RegExp[] = [];
  if (password) {
    const basic = Buffer.from(`${username}:${password}`, 'utf8').toString('base64');
    patterns.push(new RegExp(escapeRegExp(basic.replace(/=+$/, '')) + '=*', 'g'));
    patterns.push(new RegExp(encodedForms(password), 'g'));
  }
  return (text: string): string => {
    let out = String(text);
    for (const re of patterns) out = out.replace(re, REDACTED);
    // Whatever a URL carries as its password, even one we were not told about.
    return out.replace(/(\b[a-z][a-z0-9+.-]*:\/\/[^\s/:@]*:)[^\s/@]*@/gi, `$1${REDACTED}@`);
  };
}

/** The URL as it may be shown: credentials removed (the user name kept). */
export function displayUrl(url: string): string {
  return url.replace(/(\b[a-z][a-z0-9+.-]*:\/\/[^\s/:@]*):[^\s/@]*@/gi, `$1:${REDACTED}@`);
}
