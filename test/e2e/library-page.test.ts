/**
 * The Face Library page in a real browser (Chromium through playwright-core) against a real Node-RED
 * running FaceWatch: the Hamilton clip over RTSP on loopback through rtsp-source → face-detect →
 * face-match → detection-log, photos through an http-in path into the same face-detect, and the page
 * driving its REST API. Enrolment by upload (validation message, a 10 MB photo), a name with markup
 * shown as text, a recognised event appearing live in the detections list and in the live view,
 * enrolling an unknown face from the list, statistics, the Visitors view (merge, split, enrol as,
 * forget with no file left), stopping the camera and deleting a person with no file of theirs left;
 * the CSP header and no violation or console error; and, with adminAuth on, signing in and the
 * read-only user's permission message.
 *
 * Screenshots of the views go to docs/screenshots (FACEWATCH_SCREENSHOTS overrides the folder).
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { EditorRED } from 'node-red';
import type { Page } from 'playwright-core';
import sharp from 'sharp';
import { launchBrowser, noBrowser, type BrowserHandle } from '../helpers/browser';
import { cameraSkip } from '../helpers/camera';
import { fixturePath, ROOT } from '../helpers/env';
import { filesContaining } from '../helpers/files';
import { adminAuthSettings } from '../helpers/auth';
import { startNodeRed, waitForLog, type RunningNodeRed } from '../helpers/nodered';
import { startRtspServer, type RtspServer } from '../helpers/rtsp';

declare const RED: EditorRED;

const SHOTS = path.resolve(ROOT, process.env.FACEWATCH_SCREENSHOTS ?? path.join('docs', 'screenshots'));
const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; connect-src 'self'; " +
  "form-action 'self'; base-uri 'none'; frame-ancestors 'self'";
const DESKTOP = { width: 1280, height: 860 };
const PHONE = { width: 390, height: 844 };
const XSS = '<img src=x onerror=alert(1)>';
const LIN = { name: 'Lin-Manuel Miranda', id: 'lin-manuel-miranda' };
const photo = {
  lin: fixturePath('face_recognition', 'examples', 'lin-manuel-miranda.png'),
  obama: fixturePath('face_recognition', 'examples', 'knn_examples', 'train', 'obama', 'obama.jpg'),
  rose: fixturePath('face_recognition', 'examples', 'knn_examples', 'train', 'rose_leslie', 'img1.jpg'),
  biden: fixturePath('face_recognition', 'examples', 'knn_examples', 'train', 'biden', 'biden2.jpg'),
  kit: fixturePath('face_recognition', 'examples', 'knn_examples', 'train', 'kit_harington', 'john1.jpeg'),
  alex: fixturePath('face_recognition', 'examples', 'knn_examples', 'train', 'alex_lacamoire', 'img1.jpg'),
  noFace: fixturePath('face-api.js', 'test', 'images', 'white.png'),
};
/** The page's own console may report the answers the test provokes on purpose, nothing else. */
const EXPECTED_CONSOLE = /Failed to load resource: the server responded with a status of (401|403|422)/;

interface Watched {
  page: Page;
  errors: string[];
  dialogs: string[];
  violations(): Promise<string[]>;
}

/** A page that records console errors, page errors, dialogs (alert…) and CSP violations. */
async function watchedPage(browser: BrowserHandle, viewport = DESKTOP): Promise<Watched> {
  const page = await browser.browser.newPage({ viewport });
  const errors: string[] = [];
  const dialogs: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error' && !EXPECTED_CONSOLE.test(m.text())) errors.push(m.text());
  });
  page.on('pageerror', (err) => errors.push(err.message));
  page.on('dialog', (d) => {
    dialogs.push(`${d.type()}: ${d.message()}`);
    void d.dismiss();
  });
  await page.addInitScript(() => {
    const w = window as unknown as { __csp: string[] };
    w.__csp = [];
    document.addEventListener('securitypolicyviolation', (e) =>
      w.__csp.push(`${e.violatedDirective} ${e.blockedURI}`),
    );
  });
  return {
    page,
    errors,
    dialogs,
    violations: () => page.evaluate(() => (window as unknown as { __csp: string[] }).__csp),
  };
}

/** Polls an async check (a page query) until it holds. */
async function eventually(
  what: () => string,
  check: () => Promise<boolean>,
  ms: number,
  stepMs: number,
): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what()}`);
    await new Promise((r) => setTimeout(r, stepMs));
  }
}

async function shot(page: Page, name: string): Promise<void> {
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: false });
}

/** Enrols through the Enrol view; returns the text shown for the photo. */
async function enrolByPage(
  page: Page,
  base: string,
  person: { name: string; id?: string; meta?: [string, string] },
  files: string[],
): Promise<void> {
  // A fresh form: the same hash again would not re-render the view.
  if (page.url() === `${base}#enrol`) await page.reload();
  else await page.goto(`${base}#enrol`);
  await page.waitForSelector('#enrol-form');
  await page.fill('#enrol-name', person.name);
  if (person.id) await page.fill('#enrol-id', person.id);
  if (person.meta) {
    await page.click('text=Add an entry');
    await page.fill('.meta-row .meta-key', person.meta[0]);
    await page.fill('.meta-row .meta-value', person.meta[1]);
  }
  await page.setInputFiles('#enrol-form input[type=file]', files);
  await page.waitForFunction((n) => document.querySelectorAll('#enrol-files li').length === n, files.length);
  await page.click('#enrol-submit');
  // Done when the form shows its outcome (not "Enrolling…").
  await page.waitForSelector('#enrol-result .msg:not(.msg-info)', { timeout: 180000 });
}

describe(
  'the Face Library page (real browser, real Node-RED, the clip over RTSP)',
  { skip: cameraSkip() },
  () => {
    let rtsp: RtspServer;
    let nr: RunningNodeRed;
    let browser: BrowserHandle | undefined;
    let w: Watched;
    let base: string;
    let tmp: string;

    before(async () => {
      tmp = mkdtempSync(path.join(os.tmpdir(), 'fw-library-page-'));
      rtsp = await startRtspServer();
      nr = await startNodeRed({
        flows: [
          { id: 't1', type: 'tab', label: 'library' },
          { id: 'eng', type: 'face-engine', version: 1, poolSize: 1, detector: 'ssd' },
          { id: 'st', type: 'face-store', version: 1, name: 'library test', file: '', backups: 1 },
          {
            id: 'cam',
            type: 'face-camera',
            version: 1,
            name: 'stage',
            url: rtsp.url,
            transport: 'tcp',
            fps: 4,
            width: 640,
            stallTimeout: 20,
            maxAttempts: 0,
          },
          {
            id: 'src',
            type: 'rtsp-source',
            version: 1,
            z: 't1',
            name: 'Stage camera',
            camera: 'cam',
            autoStart: true,
            wires: [['det'], []],
          },
          {
            id: 'det',
            type: 'face-detect',
            version: 1,
            z: 't1',
            engine: 'eng',
            descriptors: true,
            keepImage: 'faces',
            wires: [['match']],
          },
          { id: 'match', type: 'face-match', version: 1, z: 't1', store: 'st', wires: [['framed']] },
          // A photo posted with ?camera= becomes a camera's frame (an unknown face there gets a visitor).
          {
            id: 'framed',
            type: 'function',
            z: 't1',
            func:
              'const c = msg.req && msg.req.query && msg.req.query.camera; ' +
              'if (c) msg.frame = { camera: String(c), ts: Date.now() }; return msg;',
            wires: [['log']],
          },
          {
            id: 'log',
            type: 'detection-log',
            version: 1,
            z: 't1',
            store: 'st',
            cooldown: 3,
            snapshots: true,
            wires: [[]],
          },
          { id: 'reg', type: 'face-register', version: 1, z: 't1', store: 'st', engine: 'eng', wires: [[]] },
          // Photos posted here become events of the camera "photo" (an unknown face to enrol).
          { id: 'in', type: 'http in', z: 't1', url: '/fw-photo', method: 'post', wires: [['det', 'ok']] },
          { id: 'ok', type: 'http response', z: 't1', statusCode: '204', wires: [] },
        ],
      });
      await waitForLog(nr, /Started flows/);
      base = `${nr.url}/facewatch/`;
    });
    after(async () => {
      await browser?.close();
      await nr?.stop();
      await rtsp?.stop();
      rmSync(tmp, { recursive: true, force: true });
    });

    it('serves the HTML shell and its assets with a strict CSP and no data', async () => {
      const shell = await fetch(base);
      assert.equal(shell.status, 200);
      assert.equal(shell.headers.get('content-security-policy'), CSP);
      assert.equal(shell.headers.get('x-content-type-options'), 'nosniff');
      assert.equal(shell.headers.get('referrer-policy'), 'no-referrer');
      assert.match(shell.headers.get('content-type') ?? '', /^text\/html/);
      const html = await shell.text();
      assert.doesNotMatch(html, /<script>|<style|style=/i, 'nothing inline');
      assert.match(html, /<script src="assets\/app\.js" defer><\/script>/);
      for (const [file, type] of [
        ['app.js', /javascript/],
        ['style.css', /text\/css/],
      ] as const) {
        const res = await fetch(`${base}assets/${file}`);
        assert.equal(res.status, 200, file);
        assert.match(res.headers.get('content-type') ?? '', type);
        assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
        assert.ok((await res.text()).length > 1000);
      }
      assert.equal((await fetch(`${base}assets/..%2f..%2fpackage.json`)).status, 404);
      assert.equal((await fetch(`${base}assets/index.html`)).status, 404);
      // Without the trailing slash: redirected to the page (relative, so any admin root works).
      const bare = await fetch(`${nr.url}/facewatch`, { redirect: 'manual' });
      assert.equal(bare.status, 301);
      assert.equal(bare.headers.get('location'), 'facewatch/');
    });

    it('opens from the sidebar tab of the editor', async (t) => {
      if (noBrowser(t)) return;
      browser = await launchBrowser();
      const editor = await browser.browser.newPage({ viewport: DESKTOP });
      await editor.goto(nr.url, { waitUntil: 'domcontentloaded' });
      await editor.waitForSelector('#red-ui-palette-container-facewatch', { timeout: 60000 });
      await editor.evaluate(() => RED.sidebar.show('facewatch-library'));
      await editor.waitForSelector('#facewatch-library-open', { state: 'visible' });
      assert.match((await editor.textContent('#facewatch-library-tab')) ?? '', /Face Library/);
      const [popup] = await Promise.all([
        editor.waitForEvent('popup'),
        editor.click('#facewatch-library-open'),
      ]);
      await popup.waitForLoadState('domcontentloaded');
      assert.equal(popup.url(), base);
      await popup.close();
      await editor.close();
    });

    it('enrols a person by uploading a photo and shows them in the grid', async (t) => {
      if (noBrowser(t)) return;
      browser ??= await launchBrowser();
      w = await watchedPage(browser);
      const { page } = w;
      await page.goto(base);
      await page.waitForSelector('#people-grid', { state: 'attached' });
      await page.waitForFunction(() => /0 people enrolled/.test(document.body.innerText));
      await enrolByPage(page, base, { ...LIN, meta: ['role', 'Hamilton'] }, [photo.lin]);
      assert.match(
        (await page.textContent('#enrol-result')) ?? '',
        /Lin-Manuel Miranda is enrolled with 1 sample/,
      );
      await page.click('#enrol-result a');
      await page.waitForSelector('#person-title');
      assert.equal(await page.textContent('#person-title'), LIN.name);
      await page.goto(`${base}#people`);
      const card = page.locator(`#people-grid li[data-id="${LIN.id}"]`);
      await card.waitFor();
      assert.equal(await card.locator('.name').textContent(), LIN.name);
      assert.match((await card.textContent()) ?? '', /role: Hamilton/);
      // The thumbnail arrived through the token-carrying fetch as a blob.
      await page.waitForFunction((id) => {
        const img = document.querySelector<HTMLImageElement>(`#people-grid li[data-id="${id}"] img`);
        return !!img && img.src.startsWith('blob:') && img.complete && img.naturalWidth > 0;
      }, LIN.id);
      // Search narrows the grid.
      await page.fill('#people-search', 'hamilton');
      await page.waitForFunction(() =>
        /1 person matches/.test(document.querySelector('#people-count')?.textContent ?? ''),
      );
    });

    it('shows face-register’s validation message for a photo with no face', async (t) => {
      if (noBrowser(t) || !w) return;
      const { page } = w;
      await enrolByPage(page, base, { name: 'Nobody' }, [photo.noFace]);
      const error = await page.textContent('#enrol-files .msg-error');
      assert.match(error ?? '', /face/i);
      assert.match((await page.textContent('#enrol-result')) ?? '', /Nobody was enrolled/);
      await shot(page, 'enrol-validation');
      // The client refuses a photo over 16 MB before sending it.
      const big = path.join(tmp, 'too-big.jpg');
      writeFileSync(big, Buffer.alloc(17 * 1024 * 1024, 0xff));
      await page.setInputFiles('#enrol-form input[type=file]', big);
      await page.waitForFunction(() =>
        /limited to 16 MB/.test(document.querySelector('#enrol-files')?.textContent ?? ''),
      );
    });

    it('enrols a 10 MB photo', async (t) => {
      if (noBrowser(t) || !w) return;
      const file = path.join(tmp, 'obama-10mb.png');
      // An uncompressed PNG of the fixture, enlarged: over 10 MB, the face still there.
      await sharp(photo.obama).resize(1820).png({ compressionLevel: 0 }).toFile(file);
      assert.ok(statSync(file).size >= 10 * 1024 * 1024, `${statSync(file).size} bytes`);
      assert.ok(statSync(file).size < 16 * 1024 * 1024);
      await enrolByPage(w.page, base, { name: 'Barack Obama' }, [file]);
      assert.match((await w.page.textContent('#enrol-result')) ?? '', /Barack Obama is enrolled/);
    });

    it('renames a person, edits their metadata, adds a sample and deletes one', async (t) => {
      if (noBrowser(t) || !w) return;
      const { page } = w;
      await page.goto(`${base}#people`);
      await page.click('#people-grid a:has-text("Barack Obama")');
      await page.waitForSelector('#person-title');
      assert.match((await page.textContent('#samples-title')) ?? '', /Samples \(1\)/);
      await page.fill('#person-name', 'Barack H. Obama');
      await page.click('text=Add an entry');
      await page.fill('.meta-row .meta-key', 'office');
      await page.fill('.meta-row .meta-value', 'president');
      await page.click('form[aria-labelledby="edit-title"] button[type=submit]');
      await page.waitForSelector('form[aria-labelledby="edit-title"] .msg-ok');
      assert.equal(await page.textContent('#person-title'), 'Barack H. Obama');
      await page.setInputFiles(
        'section[aria-labelledby="samples-title"] input[type=file]',
        fixturePath('face_recognition', 'tests', 'test_images', 'obama3.jpg'),
      );
      await page.waitForFunction(
        () => /Samples \(2\)/.test(document.querySelector('#samples-title')?.textContent ?? ''),
        undefined,
        {
          timeout: 120000,
        },
      );
      await page.click('button[aria-label="Delete sample 1"]');
      await page.waitForFunction(() =>
        /Samples \(1\)/.test(document.querySelector('#samples-title')?.textContent ?? ''),
      );
      // What the page shows is what the API stored.
      const id = await page.evaluate(() => decodeURIComponent(location.hash.split('/')[1] ?? ''));
      const person = (await (await fetch(`${base}api/faces/${encodeURIComponent(id)}`)).json()) as {
        name: string;
        metadata: Record<string, unknown>;
        samples: unknown[];
      };
      assert.equal(person.name, 'Barack H. Obama');
      assert.deepEqual(person.metadata, { office: 'president' });
      assert.equal(person.samples.length, 1);
    });

    it('shows a name with markup as text and runs nothing', async (t) => {
      if (noBrowser(t) || !w) return;
      const { page } = w;
      await enrolByPage(page, base, { name: XSS, meta: ['note', '<b>bold</b>'] }, [photo.rose]);
      assert.match((await page.textContent('#enrol-result')) ?? '', /is enrolled/);
      await page.goto(`${base}#people`);
      await page.waitForFunction(() => /3 people enrolled/.test(document.body.innerText));
      const names = await page.$$eval('#people-grid .name', (els) => els.map((e) => e.textContent));
      assert.ok(names.includes(XSS), names.join(' | '));
      assert.match((await page.textContent('#people-grid')) ?? '', /note: <b>bold<\/b>/);
      // No element came from the markup: no img with src "x", no b element.
      assert.equal(await page.locator('img[src="x"]').count(), 0);
      assert.equal(await page.locator('#people-grid b').count(), 0);
      await page.click(`#people-grid a:has-text("${XSS}")`);
      await page.waitForSelector('#person-title');
      assert.equal(await page.textContent('#person-title'), XSS);
      assert.equal(await page.locator('img[src="x"]').count(), 0);
      assert.deepEqual(w.dialogs, []);
      await page.goto(`${base}#people`);
      await page.waitForFunction(
        () => document.querySelectorAll('#people-grid img[src^="blob:"]').length === 3,
      );
      await shot(page, 'people');
      const phone = await browser!.browser.newPage({ viewport: PHONE });
      await phone.goto(`${base}#people`);
      await phone.waitForFunction(
        () => document.querySelectorAll('#people-grid img[src^="blob:"]').length === 3,
      );
      // Nothing is wider than the phone's screen.
      assert.ok(await phone.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth + 1));
      await shot(phone, 'people-phone');
      await phone.close();
    });

    it('shows a recognised event live in the detections list and in the live view', async (t) => {
      if (noBrowser(t) || !w) return;
      const { page } = w;
      await page.goto(`${base}#detections`);
      await page.waitForSelector('#events-live:not(:empty)', { timeout: 30000 });
      const before = await page.$$eval('#events li.event', (els) =>
        els.map((e) => e.getAttribute('data-id')),
      );
      // A new item naming him, added by the page's polling (no reload).
      const item = page.locator('#events li.event.known', { hasText: LIN.name });
      await eventually(
        () => `an event naming ${LIN.name} in the list\n${nr.log()}`,
        async () => {
          const ids = await item.evaluateAll((els) => els.map((e) => e.getAttribute('data-id')));
          return ids.some((id) => !before.includes(id));
        },
        180000,
        500,
      ).catch(async (err: Error) => {
        await shot(page, 'failed-detections');
        throw err;
      });
      await page.waitForFunction(
        () => !!document.querySelector<HTMLImageElement>('#events li.event.known img.snapshot')?.naturalWidth,
      );
      // A named face: face-match's confidence and the distance to the person.
      assert.match(
        (await item.first().locator('.figures').textContent()) ?? '',
        /^confidence \d{1,3}% · distance \d\.\d\d$/,
      );
      await shot(page, 'detections');

      await page.goto(`${base}#live`);
      await page.waitForSelector('#live-canvas');
      assert.match((await page.textContent('#cameras')) ?? '', /Stage camera/);
      await page.waitForFunction(
        (name) => (document.querySelector('#live-faces')?.textContent ?? '').includes(name),
        LIN.name,
        { timeout: 120000 },
      );
      // The frame and his box (the page's green for a known face) were drawn on the canvas.
      const drawn = await page.evaluate(() => {
        const c = document.querySelector<HTMLCanvasElement>('#live-canvas');
        const g = c?.getContext('2d');
        if (!c || !g) return { green: 0, lit: 0 };
        const { data } = g.getImageData(0, 0, c.width, c.height);
        let green = 0;
        let lit = 0;
        for (let i = 0; i < data.length; i += 4) {
          if (data[i] === 0x2e && data[i + 1] === 0xcc && data[i + 2] === 0x71) green++;
          if (data[i] + data[i + 1] + data[i + 2] > 60) lit++;
        }
        return { green, lit };
      });
      assert.ok(drawn.lit > 10000, `the frame is drawn (${drawn.lit} lit pixels)`);
      assert.ok(drawn.green > 100, `a known face's box is drawn (${drawn.green} box pixels)`);
      assert.match((await page.textContent('#live-info')) ?? '', /Frame \d+/);
      await shot(page, 'live');
    });

    it('enrols an unknown face from the detections list', async (t) => {
      if (noBrowser(t) || !w) return;
      const { page } = w;
      await page.goto(`${base}#detections`);
      await page.waitForSelector('#filter-known');
      await page.selectOption('#filter-known', 'false');
      const res = await fetch(`${nr.url}/fw-photo`, {
        method: 'POST',
        headers: { 'content-type': 'image/jpeg' },
        body: readFileSync(photo.biden),
      });
      assert.equal(res.status, 204);
      const item = page.locator('#events li.event.unknown', { hasText: 'photo' }).first();
      await item.waitFor({ timeout: 120000 });
      assert.equal(
        await page.locator('#events li.event.known').count(),
        0,
        'the filter shows unknown faces only',
      );
      // An unknown face says how sure the detector was that it is a face and how far the nearest
      // person was, not "confidence 0%".
      const figures = (await item.locator('.figures').textContent()) ?? '';
      assert.match(figures, /^face \d{1,3}% · nearest \d\.\d\d$/);
      assert.doesNotMatch(figures, /confidence/);
      await item.locator('button', { hasText: 'Enrol as…' }).click();
      await item.locator('.enrol-as-name').fill('Joe Biden');
      await item.locator('button[type=submit]').click();
      // A photo's event has its crop only (no passage): one picture.
      await item.getByText(/Enrolled \(1 picture\) as/).waitFor({ timeout: 120000 });
      await item.locator('a', { hasText: 'Joe Biden' }).click();
      await page.waitForSelector('#person-title');
      assert.equal(await page.textContent('#person-title'), 'Joe Biden');
      assert.match((await page.textContent('#samples-title')) ?? '', /Samples \(1\)/);
    });

    it('shows statistics', async (t) => {
      if (noBrowser(t) || !w) return;
      const { page } = w;
      await page.goto(`${base}#stats`);
      await page.waitForSelector('#stat-people');
      assert.equal(await page.textContent('#stat-people'), '4');
      assert.ok(Number(await page.textContent('#stat-today')) >= 2);
      assert.equal(await page.locator('#hours-chart rect.bar').count(), 24);
      assert.match((await page.textContent('#stats')) ?? '', /Lin-Manuel Miranda/);
      assert.match((await page.textContent('#stats')) ?? '', /stage/);
      await shot(page, 'statistics');
    });

    it('lists visitors, merges, splits, enrols one as a person and forgets one with no trace (Visitors view)', async (t) => {
      if (noBrowser(t) || !w) return;
      const { page } = w;
      // Two strangers as photos of the camera "door": each an unknown event with its visitor.
      const visitorOf = async (
        file: string,
        seen: Set<string>,
      ): Promise<{ visitor: string; event: string }> => {
        const end = Date.now() + 120000;
        for (let attempt = 0; ; attempt++) {
          if (attempt % 40 === 0) {
            const res = await fetch(`${nr.url}/fw-photo?camera=door`, {
              method: 'POST',
              headers: { 'content-type': 'image/jpeg' },
              body: readFileSync(file),
            });
            assert.equal(res.status, 204);
          }
          await new Promise((r) => setTimeout(r, 250));
          const a = (await (await fetch(`${base}api/events?camera=door&known=false&limit=50`)).json()) as {
            events: Array<{ id: string; visitor?: { id: string } }>;
          };
          const fresh = a.events.find((e) => e.visitor && !seen.has(e.id));
          if (fresh?.visitor) return { visitor: fresh.visitor.id, event: fresh.id };
          if (Date.now() > end) throw new Error(`no visitor for ${file}\n${nr.log()}`);
        }
      };
      const before = (await (await fetch(`${base}api/events?camera=door&limit=200`)).json()) as {
        events: Array<{ id: string }>;
      };
      const seen = new Set(before.events.map((e) => e.id));
      const alex = await visitorOf(photo.alex, seen);
      seen.add(alex.event);
      const kit = await visitorOf(photo.kit, seen);
      assert.notEqual(kit.visitor, alex.visitor);

      await page.goto(`${base}#visitors`);
      await page.waitForSelector(`#visitors-grid li[data-id="${alex.visitor}"]`);
      assert.match((await page.textContent('#visitors-count')) ?? '', /\d+ visitors?, \d+ recurring/);
      await page.waitForSelector(`#visitors-grid li[data-id="${kit.visitor}"] img.thumb:not(.loading)`);
      await page.waitForFunction(() => !document.querySelector('#visitors-grid img.loading'));
      await shot(page, 'visitors');

      // Merge the second stranger into the first, then split that sighting off again.
      await page.click(`#visitors-grid li[data-id="${alex.visitor}"] a`);
      await page.waitForSelector('#visitor-title');
      assert.equal(await page.textContent('#visitor-title'), alex.visitor);
      await page.waitForSelector(`#merge-from option[value="${kit.visitor}"]`, { state: 'attached' });
      await page.selectOption('#merge-from', kit.visitor);
      await page.click('#merge-visitor');
      await page.waitForFunction(
        () => document.querySelectorAll('#visitor-timeline li.sighting').length === 2,
        undefined,
        { timeout: 30000 },
      );
      assert.match(
        (await page.textContent('#notice')) ?? '',
        new RegExp(`${kit.visitor} was merged into ${alex.visitor}`),
      );
      await page.check(`#visitor-timeline li[data-id="${kit.event}"] input.split-pick`);
      await page.click('#split-visitor');
      await page.waitForFunction(
        () => document.querySelectorAll('#visitor-timeline li.sighting').length === 1,
        undefined,
        { timeout: 30000 },
      );
      const splitNotice = (await page.textContent('#notice')) ?? '';
      const kitNow = /became (VISITOR_\d+)/.exec(splitNotice)?.[1];
      assert.ok(kitNow, splitNotice);
      assert.equal(await page.locator(`#visitor-timeline li[data-id="${alex.event}"]`).count(), 1);
      await shot(page, 'visitor');

      // Enrol as a new person: his past detection becomes his.
      await page.fill('#visitor-enrol-name', 'Alex Lacamoire');
      await page.click('#visitor-enrol');
      await page.waitForSelector('#person-title', { timeout: 120000 });
      assert.equal(await page.textContent('#person-title'), 'Alex Lacamoire');
      assert.match(
        (await page.textContent('#notice')) ?? '',
        new RegExp(`${alex.visitor} was enrolled as Alex Lacamoire`),
      );
      assert.match((await page.textContent('#samples-title')) ?? '', /Samples \(1\)/);
      await page.waitForSelector('#main li.event.known');
      const his = (await (await fetch(`${base}api/events?camera=door&limit=200`)).json()) as {
        events: Array<{ id: string; person: { name: string } | null; visitor?: unknown }>;
      };
      const relabelled = his.events.find((e) => e.id === alex.event);
      assert.equal(relabelled?.person?.name, 'Alex Lacamoire');
      assert.equal(relabelled?.visitor, undefined);
      assert.equal((await fetch(`${base}api/visitors/${alex.visitor}`)).status, 404);

      // Forget the other: nothing of it is left.
      await page.goto(`${base}#visitor/${kitNow}`);
      await page.waitForSelector('#forget-visitor');
      await page.click('#forget-visitor');
      const dialog = page.locator('dialog.confirm');
      await dialog.waitFor();
      assert.match((await dialog.textContent()) ?? '', /erased for good/);
      await page.click('#confirm-forget');
      await page.waitForFunction(() => location.hash === '#visitors');
      assert.match((await page.textContent('#notice')) ?? '', /forgotten/);
      await page.waitForFunction(() =>
        /visitor/.test(document.querySelector('#visitors-count')?.textContent ?? ''),
      );
      assert.equal(await page.locator(`#visitors-grid li[data-id="${kitNow}"]`).count(), 0);
      const left = [...filesContaining(nr.userDir, kitNow), ...filesContaining(nr.userDir, kit.event)].filter(
        (f) => !f.endsWith('.audit.jsonl'),
      );
      assert.deepEqual(left, [], 'no file of the forgotten visitor');
    });

    it('stops the camera, then deletes a person and leaves no file of theirs', async (t) => {
      if (noBrowser(t) || !w) return;
      const { page } = w;
      await page.goto(`${base}#live`);
      await page.click('button[aria-label="Stop Stage camera"]');
      await page.waitForFunction(
        () => /stopped/.test(document.querySelector('#cameras .state')?.textContent ?? ''),
        undefined,
        {
          timeout: 30000,
        },
      );
      await page.goto(`${base}#person/${LIN.id}`);
      await page.waitForSelector('#delete-person');
      await page.click('#delete-person');
      const dialog = page.locator('dialog.confirm');
      await dialog.waitFor();
      assert.match((await dialog.textContent()) ?? '', /erased for good/);
      await page.click('#confirm-delete');
      await page.waitForFunction(() => location.hash === '#people');
      await page.waitForFunction(() => /4 people enrolled/.test(document.body.innerText));
      assert.equal(await page.locator(`#people-grid li[data-id="${LIN.id}"]`).count(), 0);
      assert.match((await page.textContent('#notice')) ?? '', /deleted/);
      // The store's audit log keeps the fact of the deletion by design; nothing else may name them.
      const left = [...filesContaining(nr.userDir, LIN.name), ...filesContaining(nr.userDir, LIN.id)].filter(
        (f) => !f.endsWith('.audit.jsonl'),
      );
      assert.deepEqual(left, [], 'no file of the deleted person');
    });

    it('sent no CSP violation and logged no error', async (t) => {
      if (noBrowser(t) || !w) return;
      assert.deepEqual(await w.violations(), []);
      assert.deepEqual(w.errors, []);
      assert.deepEqual(w.dialogs, []);
      await w.page.close();
    });
  },
);

// Under an admin root other than "/": the page's URLs (its API and Node-RED's auth routes) are relative.
describe('the Face Library page with adminAuth on, under /admin (real browser)', () => {
  let nr: RunningNodeRed;
  let libraryUrl: string;
  let browser: BrowserHandle | undefined;

  before(async () => {
    nr = await startNodeRed({
      settings: {
        httpAdminRoot: '/admin',
        adminAuth: adminAuthSettings('s3cret-pass', { admin: '*', viewer: 'read' }),
      },
      flows: [
        { id: 'eng', type: 'face-engine', version: 1, poolSize: 1, detector: 'ssd' },
        { id: 'st', type: 'face-store', version: 1, file: '', backups: 1 },
      ],
    });
    await waitForLog(nr, /Started flows/);
    libraryUrl = `${nr.url}/admin/facewatch/`;
  });
  after(async () => {
    await browser?.close();
    await nr?.stop();
  });

  async function signIn(page: Page, user: string): Promise<void> {
    await page.waitForSelector('dialog#signin[open]');
    await page.fill('#signin input[name=username]', user);
    await page.fill('#signin input[name=password]', 's3cret-pass');
    await page.click('#signin button[type=submit]');
    await page.waitForFunction(() => !document.querySelector('dialog#signin[open]'));
  }

  it('asks to sign in, then works; a read-only user sees nothing that changes anything, and the server refuses them', async (t) => {
    if (noBrowser(t)) return;
    // The shell loads for anyone; the data does not.
    assert.equal((await fetch(libraryUrl)).status, 200);
    assert.equal((await fetch(`${libraryUrl}api/faces`)).status, 401);
    browser = await launchBrowser();
    const w = await watchedPage(browser);
    const { page } = w;
    await page.goto(`${libraryUrl}#people`);
    // A wrong password is refused in the form.
    await page.waitForSelector('dialog#signin[open]');
    await page.fill('#signin input[name=username]', 'admin');
    await page.fill('#signin input[name=password]', 'wrong');
    await page.click('#signin button[type=submit]');
    await page.waitForFunction(() =>
      /Wrong user name or password/.test(document.querySelector('#signin')?.textContent ?? ''),
    );
    await page.fill('#signin input[name=password]', 's3cret-pass');
    await page.click('#signin button[type=submit]');
    await page.waitForFunction(() => /0 people enrolled/.test(document.body.innerText));
    assert.match((await page.textContent('#who')) ?? '', /Signed in as admin/);
    await enrolByPage(page, libraryUrl, { name: 'Rose Leslie' }, [photo.rose]);
    assert.match((await page.textContent('#enrol-result')) ?? '', /Rose Leslie is enrolled/);

    // Sign out, sign in as the viewer: the grid shows, and nothing that would change anything.
    await page.click('#who button');
    await page.goto(`${libraryUrl}#people`);
    await page.reload();
    await signIn(page, 'viewer');
    await page.waitForFunction(() => /1 person enrolled/.test(document.body.innerText));
    assert.match((await page.textContent('#who')) ?? '', /Signed in as viewer \(read only\)/);
    /** The controls that change something and are visible now. */
    const writeControlsShown = (): Promise<string[]> =>
      page.evaluate(() =>
        Array.from(document.querySelectorAll<HTMLElement>('[data-write]'))
          .filter((el) => el.offsetParent !== null || el.getClientRects().length > 0)
          .map((el) => el.textContent?.trim() || el.tagName),
      );
    assert.equal(
      (await page.locator('[data-write]').count()) > 0,
      true,
      'the grid has write controls, hidden',
    );
    assert.deepEqual(await writeControlsShown(), [], 'no Enrol tab, no "Enrol someone"');
    // Rose's page: her name and metadata as read-only text fields, no Save, Delete or Add a sample.
    await page.click('text=Rose Leslie');
    await page.waitForSelector('#person-name');
    const roseId = decodeURIComponent(new URL(page.url()).hash.replace(/^#person\//, ''));
    assert.equal(await page.locator('#person-name').getAttribute('readonly'), '');
    assert.equal(await page.locator('#delete-person').count(), 1);
    assert.deepEqual(await writeControlsShown(), []);
    // The enrol view, reached by its address, says why there is no form.
    await page.goto(`${libraryUrl}#enrol`);
    await page.waitForSelector('#enrol-readonly', { state: 'visible' });
    assert.match(
      (await page.textContent('#enrol-readonly')) ?? '',
      /read only: enrolling needs the facewatch\.write permission/,
    );
    assert.equal(await page.locator('#enrol-form').isVisible(), false);
    assert.deepEqual(await writeControlsShown(), []);
    // The server refuses the viewer's change whatever the page shows (test/e2e/library-auth.test.ts
    // tries every changing route): the page's own token is refused here.
    const refused = await page.evaluate(async (id) => {
      const tokens = JSON.parse(localStorage.getItem('auth-tokens') ?? '{}') as { access_token?: string };
      const res = await fetch(`api/faces/${encodeURIComponent(id)}`, {
        method: 'PATCH',
        headers: { authorization: `Bearer ${tokens.access_token ?? ''}`, 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'Someone Else' }),
      });
      return res.status;
    }, roseId);
    assert.equal(refused, 403);
    assert.equal(await page.locator('dialog#signin[open]').count(), 0, 'no sign-in form for a permission');
    assert.deepEqual(await w.violations(), []);
    assert.deepEqual(w.errors, []);
  });
});
