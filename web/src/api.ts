/**
 * Calls to the Face Library's REST API. Every call carries Node-RED's admin token
 * (`Authorization: Bearer`, from the editor's localStorage entry "auth-tokens"). URLs are relative to
 * the page (`<adminRoot>facewatch/`), so the page works under any httpAdminRoot.
 */

const TOKENS = 'auth-tokens';

/** The editor's stored token, if any. */
export function token(): string | null {
  try {
    const raw = localStorage.getItem(TOKENS);
    if (!raw) return null;
    const parsed = JSON.parse(raw) as { access_token?: unknown };
    return typeof parsed.access_token === 'string' ? parsed.access_token : null;
  } catch {
    return null;
  }
}

/** Stores a token answer the way the editor does. */
export function saveTokens(answer: unknown): void {
  localStorage.setItem(TOKENS, JSON.stringify(answer));
}

export function clearTokens(): void {
  localStorage.removeItem(TOKENS);
}

/** The Authorization header, when there is a token. */
export function authHeaders(): Record<string, string> {
  const t = token();
  return t ? { authorization: `Bearer ${t}` } : {};
}

/** An answer other than 2xx: its status and the API's `{error}` text. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly code?: string,
  ) {
    super(message);
  }
}

/**
 * Called on a 401: decides between "sign in" and "no permission" and throws the error the view
 * shows. Installed by the auth module.
 */
let unauthorised: (action: string) => Promise<never> = (action) =>
  Promise.reject(new ApiError(401, `sign in to ${action}`));

export function onUnauthorised(handler: (action: string) => Promise<never>): void {
  unauthorised = handler;
}

/** Forbidden answers become "You do not have permission to …". */
export function permissionError(action: string): ApiError {
  return new ApiError(403, `You do not have permission to ${action}.`);
}

let store = '';
/** The face store the face routes act on ('' for the API's default one). */
export function setStore(id: string): void {
  store = id;
}

/** `api/<path>` with the query, `store` added when one is chosen. */
export function url(path: string, query: Record<string, string | number | boolean | undefined> = {}): string {
  const params = new URLSearchParams();
  if (store && !('store' in query)) params.set('store', store);
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== '') params.set(k, String(v));
  const qs = params.toString();
  return `api/${path}${qs ? `?${qs}` : ''}`;
}

export interface CallOptions {
  method?: string;
  /** A JSON body, or a Blob sent as it is (a photo). */
  body?: unknown;
  /** What the call does, for messages: "rename people". */
  action: string;
  signal?: AbortSignal;
}

/** Performs a call; resolves with the Response (2xx) or throws an ApiError. */
export async function call(target: string, opts: CallOptions): Promise<Response> {
  const headers: Record<string, string> = { ...authHeaders() };
  let body: BodyInit | undefined;
  if (opts.body instanceof Blob) {
    body = opts.body;
    headers['content-type'] = opts.body.type || 'application/octet-stream';
  } else if (opts.body !== undefined) {
    body = JSON.stringify(opts.body);
    headers['content-type'] = 'application/json';
  }
  let res: Response;
  try {
    res = await fetch(target, {
      method: opts.method ?? 'GET',
      headers,
      body,
      signal: opts.signal,
      credentials: 'same-origin',
      cache: 'no-store',
    });
  } catch (err) {
    if ((err as Error).name === 'AbortError') throw err;
    throw new ApiError(0, `Could not reach Node-RED to ${opts.action}.`);
  }
  if (res.ok) return res;
  if (res.status === 401) return unauthorised(opts.action);
  if (res.status === 403) throw permissionError(opts.action);
  let message = res.statusText || `HTTP ${res.status}`;
  let code: string | undefined;
  try {
    const answer = (await res.json()) as { error?: unknown; code?: unknown };
    if (typeof answer.error === 'string') message = answer.error;
    if (typeof answer.code === 'string') code = answer.code;
  } catch {
    // Not JSON: keep the status text.
  }
  if (res.status === 413) message = `The photo is too large (${message}).`;
  throw new ApiError(res.status, message, code);
}

/** A JSON call. */
export async function json<T>(target: string, opts: CallOptions): Promise<T> {
  const res = await call(target, opts);
  if (res.status === 204) return undefined as T;
  return (await res.json()) as T;
}

/** GET JSON. */
export function get<T>(
  path: string,
  action: string,
  query?: Record<string, string | number | boolean | undefined>,
): Promise<T> {
  return json<T>(url(path, query), { action });
}

/**
 * Images need the token too, so they are fetched as blobs and shown through object URLs. A scope
 * holds the URLs a view made and revokes them when the view goes.
 */
export class ImageScope {
  private urls = new Set<string>();
  private disposed = false;

  /** An img whose picture loads in the background; a failed load leaves a placeholder. */
  img(target: string, alt: string, className = ''): HTMLImageElement {
    const el = document.createElement('img');
    el.alt = alt;
    el.className = `${className} loading`.trim();
    el.decoding = 'async';
    this.load(target).then(
      (src) => {
        el.src = src;
        el.classList.remove('loading');
      },
      () => {
        el.classList.remove('loading');
        el.classList.add('missing');
      },
    );
    return el;
  }

  /** Fetches an image and answers an object URL for it. */
  async load(target: string, signal?: AbortSignal): Promise<string> {
    const res = await call(target, { action: 'see face images', signal });
    const blob = await res.blob();
    if (this.disposed) throw new Error('view closed');
    const src = URL.createObjectURL(blob);
    this.urls.add(src);
    return src;
  }

  /** Revokes one URL made by this scope. */
  release(src: string): void {
    if (this.urls.delete(src)) URL.revokeObjectURL(src);
  }

  dispose(): void {
    this.disposed = true;
    for (const u of this.urls) URL.revokeObjectURL(u);
    this.urls.clear();
  }
}
