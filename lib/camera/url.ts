/**
 * Camera addresses: building a stream URL from a host and a vendor preset, putting credentials into
 * it correctly encoded, and keeping every form of the password out of what FaceWatch prints.
 *
 * ffmpeg echoes the URL it was given in its own errors (a camera's 401 comes back with the password
 * in it), so whatever ffmpeg prints passes through {@link redactor} before it reaches a log, a status,
 * an error or a message.
 */

export { VENDOR_PRESETS, presetUrl, type VendorPreset } from '../types/camera';

/**
 * Percent-encodes a user name or password for the userinfo part of a URL (RFC 3986): everything
 * but unreserved characters, so `:`, `@`, `/`, `%`, `!` and friends cannot break the URL.
 */
export function encodeUserinfo(value: string): string {
  // A lone UTF-16 surrogate is no character: it has no UTF-8 form, and encodeURIComponent throws.
  if (/\p{Cs}/u.test(value))
    throw new Error('the user name or password is not valid text (it holds half of a UTF-16 character)');
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

/** The port each camera scheme uses when a URL names none. */
const DEFAULT_PORTS: Readonly<Record<string, number>> = Object.freeze({
  rtsp: 554,
  rtsps: 322,
  http: 80,
  https: 443,
});

/**
 * A URL's scheme, host and port as one comparable text (`rtsp://cam.local:554`, the port filled in
 * from the scheme's default, the host in lower case), or undefined for a URL without a host or port.
 */
export function originOf(url: string | undefined): string | undefined {
  if (!url) return undefined;
  let u: URL;
  try {
    u = new URL(url.trim());
  } catch {
    return undefined;
  }
  const scheme = u.protocol.replace(/:$/, '').toLowerCase();
  const port = u.port ? Number(u.port) : DEFAULT_PORTS[scheme];
  if (!u.hostname || !port) return undefined;
  return `${scheme}://${u.hostname.toLowerCase()}:${port}`;
}

/**
 * Whether two URLs name the same scheme, host and port: where a camera's stored password may be
 * sent. A URL without a host never matches, not even itself.
 */
export function sameOrigin(a: string | undefined, b: string | undefined): boolean {
  const x = originOf(a);
  return x !== undefined && x === originOf(b);
}
