import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { EditorRED } from 'node-red';
import type { Page } from 'playwright-core';
import { NODE_TYPES as TYPES } from '../../lib/types/node-types';
import { launchBrowser, noBrowser, type BrowserHandle } from '../helpers/browser';
import { ROOT } from '../helpers/env';
import { startNodeRed, waitForLog, type RunningNodeRed } from '../helpers/nodered';

declare const RED: EditorRED;

const NODE_TYPES: readonly string[] = TYPES;

/**
 * The nodes (config nodes included) whose id starts with `prefix` that the editor marks invalid, as
 * "type id: errors", each validated first as the editor validates a node it loads or edits.
 */
function invalidNodes(page: Page, prefix = ''): Promise<string[]> {
  return page.evaluate((p): string[] => {
    // Anonymous callbacks only: a named function gets tsx's __name helper, which the page lacks.
    const editor = (RED as unknown as { editor: { validateNode(n: unknown): boolean } }).editor;
    const all: Array<{ type: string; id: string; valid?: boolean; validationErrors?: string[] }> = [];
    RED.nodes.eachNode((n) => {
      all.push(n as (typeof all)[number]);
      return true;
    });
    RED.nodes.eachConfig((n) => {
      all.push(n as (typeof all)[number]);
      return true;
    });
    const mine = all.filter((n) => n.id.startsWith(p));
    for (const n of mine) editor.validateNode(n);
    return mine
      .filter((n) => n.valid === false)
      .map((n) => `${n.type} ${n.id}: ${(n.validationErrors ?? []).join(', ')}`);
  }, prefix);
}

describe('the Node-RED editor with FaceWatch (real browser)', () => {
  let nr: RunningNodeRed | undefined;
  let browser: BrowserHandle | undefined;

  before(async () => {
    nr = await startNodeRed({
      flows: JSON.parse(readFileSync(path.join(ROOT, 'examples', 'flows.json'), 'utf8')) as object[],
    });
    await waitForLog(nr, /Started flows/);
  });
  after(async () => {
    await browser?.close();
    await nr?.stop();
  });

  it('shows the FaceWatch palette, the example flow and a working edit dialog with help', async (t) => {
    if (noBrowser(t) || !nr) return;
    browser = await launchBrowser();
    const page = await browser.browser.newPage({ viewport: { width: 1400, height: 900 } });
    const pageErrors: string[] = [];
    page.on('pageerror', (err) => pageErrors.push(err.message));
    await page.goto(nr.url, { waitUntil: 'domcontentloaded' });
    await page.waitForSelector('#red-ui-palette-container-facewatch', { timeout: 60000 });

    // Every non-config node type is in the facewatch palette category.
    const paletteTypes = await page.$$eval(
      '#red-ui-palette-container-facewatch .red-ui-palette-node',
      (els) => els.map((e) => e.getAttribute('data-palette-type')),
    );
    const configTypes = await page.evaluate(
      (types) => types.filter((tp) => RED.nodes.getType(tp)?.category === 'config'),
      NODE_TYPES,
    );
    for (const type of NODE_TYPES.filter((tp) => !configTypes.includes(tp))) {
      assert.ok(paletteTypes.includes(type), `${type} missing from the palette (${paletteTypes.join(', ')})`);
    }

    // The example flow as shipped, before any dialog opens (which would fill in missing settings):
    // no node carries the red triangle of invalid settings.
    const invalid = await invalidNodes(page);
    assert.deepEqual(invalid, [], 'examples/flows.json nodes the editor marks invalid');

    // The example flow's face-detect node is drawn; double-clicking it opens its form.
    const detectId = await page.evaluate((): string => {
      let id = '';
      RED.nodes.eachNode((n) => {
        const node = n as { type: string; id: string };
        if (node.type === 'face-detect' && !id) id = node.id;
        return true;
      });
      return id;
    });
    assert.ok(detectId, 'the example flow has a face-detect node');
    await page.dblclick(`[id="${detectId}"] .red-ui-flow-node`);
    await page.waitForSelector('#node-input-detector', { state: 'visible' });
    const label = await page.textContent('label[for="node-input-detector"]');
    assert.match(label ?? '', /Detector/);
    const options = await page.$$eval('#node-input-keepImage option', (els) => els.map((e) => e.textContent));
    assert.ok(
      options.some((o) => /msg\.image/.test(o ?? '')),
      'translated options rendered',
    );

    // The help sidebar shows the node's help text.
    await page.evaluate(() => RED.sidebar.show('help'));
    await page.waitForFunction(() =>
      /raw pixels never travel past face-detect/.test(document.body.innerText),
    );
    await page.screenshot({ path: path.join(nr.userDir, 'editor.png') });
    await page.click('#node-dialog-cancel');

    // face-match's "two outputs" box sets the node's outputs when the dialog is closed with Done.
    await page.dblclick('[id="fw.match"] .red-ui-flow-node');
    await page.waitForSelector('#node-input-split', { state: 'visible' });
    assert.equal(await page.isChecked('#node-input-split'), false);
    await page.check('#node-input-split');
    await page.click('#node-dialog-ok');
    await page.waitForFunction(
      () => (RED.nodes.node('fw.match') as { outputs?: number } | null)?.outputs === 2,
    );

    // Every other FaceWatch dialog, config nodes included, opens with its translated form.
    for (const [id, field] of [
      ['fw.register', '#node-input-duplicatePolicy'],
      ['fw.engine', '#node-config-input-backend'],
      ['fw.store', '#node-config-input-file'],
    ]) {
      await page.evaluate((nodeId) => {
        const n = RED.nodes.node(nodeId) as { type: string; _def?: { category?: string } } | null;
        if (!n) throw new Error(`no node ${nodeId}`);
        if (n._def?.category === 'config') RED.editor.editConfig('', n.type, nodeId, 'node-input');
        else RED.editor.edit(n);
      }, id);
      await page.waitForSelector(field, { state: 'visible' });
      const labels = await page.$$eval('.red-ui-tray label', (els) =>
        els.map((e) => e.textContent?.trim() ?? ''),
      );
      assert.ok(
        labels.every((l) => !/^face-(register|engine|store)\./.test(l)),
        `untranslated label in ${id}: ${labels.join(' | ')}`,
      );
      await page.click(
        '.red-ui-tray:last-of-type #node-dialog-cancel, .red-ui-tray:last-of-type #node-config-dialog-cancel',
      );
      await page.waitForSelector(field, { state: 'detached' });
    }

    // The broker's discovery comes from ${FACEWATCH_HA_DISCOVERY}: opening and saving the dialog keeps
    // that text (a checkbox would turn it into true).
    await page.evaluate(() => RED.editor.editConfig('', 'face-mqtt-broker', 'fw.broker', 'node-input'));
    await page.waitForSelector('#node-config-input-discovery[type=text]', { state: 'visible' });
    assert.equal(await page.inputValue('#node-config-input-discovery'), '${FACEWATCH_HA_DISCOVERY}');
    assert.match((await page.textContent('#node-config-discovery-env')) ?? '', /environment variable/);
    await page.click('#node-config-dialog-ok');
    await page.waitForSelector('#node-config-input-discovery', { state: 'detached' });
    assert.equal(
      await page.evaluate(() => (RED.nodes.node('fw.broker') as { discovery?: unknown } | null)?.discovery),
      '${FACEWATCH_HA_DISCOVERY}',
    );
    assert.deepEqual(pageErrors, []);
  });

  it('accepts every node type as an older FaceWatch saved it, and deploys without the invalid-nodes warning', async (t) => {
    if (noBrowser(t) || !nr || !browser) return;
    // Each node type with only what its first settings version had to say (no `version`: version 0;
    // a camera as version 1 saved it, before `source`), so every setting added since is absent.
    const old = [
      { id: 'o.engine', type: 'face-engine', backend: 'wasm', poolSize: 1 },
      { id: 'o.store', type: 'face-store', file: '' },
      { id: 'o.camera', type: 'face-camera', version: 1, url: 'rtsp://127.0.0.1:9/old' },
      // A camera as version 0 saved it (no version at all), a video file before `source` existed.
      { id: 'o.camera0', type: 'face-camera', url: '/var/lib/cams/door.mp4' },
      { id: 'o.broker', type: 'face-mqtt-broker', url: 'mqtt://127.0.0.1:9' },
      { id: 'o.tab', type: 'tab', label: 'old' },
      {
        id: 'o.source',
        type: 'rtsp-source',
        z: 'o.tab',
        camera: 'o.camera',
        x: 100,
        y: 40,
        wires: [['o.detect'], []],
      },
      {
        id: 'o.detect',
        type: 'face-detect',
        z: 'o.tab',
        engine: 'o.engine',
        x: 300,
        y: 40,
        wires: [['o.match']],
      },
      {
        id: 'o.match',
        type: 'face-match',
        z: 'o.tab',
        store: 'o.store',
        threshold: 0.6,
        x: 500,
        y: 40,
        wires: [['o.log']],
      },
      {
        id: 'o.log',
        type: 'detection-log',
        z: 'o.tab',
        store: 'o.store',
        x: 700,
        y: 40,
        wires: [['o.mqtt']],
      },
      { id: 'o.mqtt', type: 'face-mqtt', z: 'o.tab', broker: 'o.broker', x: 900, y: 40, wires: [] },
      {
        id: 'o.register',
        type: 'face-register',
        z: 'o.tab',
        store: 'o.store',
        engine: 'o.engine',
        x: 300,
        y: 120,
        wires: [[]],
      },
    ];
    const page = await browser.browser.newPage({ viewport: { width: 1400, height: 900 } });
    const pageErrors: string[] = [];
    page.on('pageerror', (err) => pageErrors.push(err.message));
    await page.goto(nr.url, { waitUntil: 'domcontentloaded' });
    await page.waitForSelector('#red-ui-palette-container-facewatch', { timeout: 60000 });
    // Imported as data (ids kept), then each node validated as the editor validates a node it loads
    // or edits: config nodes included, whose red triangle shows in the config sidebar.
    await page.evaluate((nodes) => {
      const red = RED as unknown as {
        nodes: { import(n: unknown): unknown; dirty(d: boolean): void };
        view: { redraw(full: boolean): void };
      };
      red.nodes.import(nodes);
      red.nodes.dirty(true);
      red.view.redraw(true);
    }, old);
    const invalid = await invalidNodes(page, 'o.');
    assert.deepEqual(invalid, [], 'older saved nodes the editor marks invalid');
    const imported = await page.evaluate(() => {
      let n = 0;
      RED.nodes.eachNode((x) => {
        if ((x as { id: string }).id.startsWith('o.')) n++;
        return true;
      });
      RED.nodes.eachConfig((x) => {
        if ((x as { id: string }).id.startsWith('o.')) n++;
        return true;
      });
      return n;
    });
    assert.equal(imported, old.length - 1, 'every older node was imported (the tab aside)');
    // Deploy: no "not properly configured" question, just the deployment.
    await page.click('#red-ui-header-button-deploy');
    await page.waitForFunction(
      () => /Successfully deployed|not properly configured/i.test(document.body.innerText),
      undefined,
      { timeout: 60000 },
    );
    assert.doesNotMatch(await page.innerText('body'), /not properly configured/i);
    assert.deepEqual(pageErrors, []);
    await page.close();
  });
});
