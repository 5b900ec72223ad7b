import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Request, Response } from 'express';
import type { NodeAPI } from '../shared/red';

/**
 * The page's policy: nothing inline (no script, no style attribute or element), everything from
 * the page's own origin; images also from blob: (the token-fetched pictures) and data:.
 */
export const LIBRARY_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' blob: data:",
  "connect-src 'self'",
  "form-action 'self'",
  "base-uri 'none'",
  "frame-ancestors 'self'",
].join('; ');

/** Where the build puts the page (dist/web), from dist/nodes/library. */
const WEB = path.resolve(__dirname, '..', '..', 'web');

/** The only files served under assets/: no path from the request ever reaches the file system. */
const ASSETS: Record<string, string> = {
  'app.js': 'application/javascript; charset=utf-8',
  'style.css': 'text/css; charset=utf-8',
};

function headers(res: Response, type: string): void {
  res.set({
    'Content-Type': type,
    'Content-Security-Policy': LIBRARY_CSP,
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
    'X-Frame-Options': 'SAMEORIGIN',
    // The shell and the bundle change with the package; a reload must not run an old bundle.
    'Cache-Control': 'no-cache',
  });
}

/**
 * The Face Library page: its HTML shell at `/facewatch/` and its static assets under
 * `/facewatch/assets/`. Neither holds data, so neither needs a token; every data route of the REST
 * API does. Files are read once and kept (they only change with a new build).
 */
export function registerLibraryPage(RED: NodeAPI): void {
  const cache = new Map<string, Buffer>();
  const read = (name: string): Buffer | null => {
    let body = cache.get(name);
    if (!body) {
      try {
        body = readFileSync(path.join(WEB, name));
      } catch {
        return null;
      }
      cache.set(name, body);
    }
    return body;
  };
  const shell = (_req: Request, res: Response): void => {
    const body = read('index.html');
    if (!body) {
      RED.log.error(`facewatch: the Face Library page is missing from ${WEB} (run npm run build)`);
      res.status(500).type('text/plain').send('The Face Library page is not built.');
      return;
    }
    headers(res, 'text/html; charset=utf-8');
    res.status(200).send(body);
  };
  // A relative redirect keeps whatever httpAdminRoot Node-RED runs under.
  RED.httpAdmin.get('/facewatch', (req: Request, res: Response, next: () => void) => {
    if (req.path !== '/facewatch') return next();
    res.redirect(301, 'facewatch/');
  });
  RED.httpAdmin.get('/facewatch/', shell);
  RED.httpAdmin.get('/facewatch/index.html', shell);
  RED.httpAdmin.get('/facewatch/assets/:file', (req: Request, res: Response) => {
    const name = String(req.params.file);
    const type = Object.hasOwn(ASSETS, name) ? ASSETS[name] : undefined;
    const body = type ? read(name) : null;
    if (!type || !body) {
      res.status(404).set('X-Content-Type-Options', 'nosniff').type('text/plain').send('Not found');
      return;
    }
    headers(res, type);
    res.status(200).send(body);
  });
}
