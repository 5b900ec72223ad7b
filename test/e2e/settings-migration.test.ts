/**
 * Settings migration in the real editor and runtime: a face-match saved before settings versions
 * (version 0) with the old default threshold 0.6 runs with the new default and says so in the log;
 * its edit dialog shows the migrated value and saves it with the current version.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { EditorRED } from 'node-red';
import { MATCH } from '../../lib/types/defaults';
import { SETTINGS_VERSION } from '../../lib/types/migrate';
import { launchBrowser, noBrowser, type BrowserHandle } from '../helpers/browser';
import { ROOT } from '../helpers/env';
import { startNodeRed, waitForLog, type RunningNodeRed } from '../helpers/nodered';

declare const RED: EditorRED;

describe('settings migration (real editor and runtime)', () => {
  let nr: RunningNodeRed | undefined;
  let browser: BrowserHandle | undefined;

  before(async () => {
    // The example flow as a version-0 flow file: face-match without a version, at the old default.
    const flows = (
      JSON.parse(readFileSync(path.join(ROOT, 'examples', 'flows.json'), 'utf8')) as Array<
        Record<string, unknown>
      >
    ).map((n) => {
      if (n.type !== 'face-match') return n;
      const { version: _version, ...old } = n;
      return { ...old, threshold: 0.6 };
    });
    nr = await startNodeRed({ flows });
    await waitForLog(nr, /Started flows/);
  });
  after(async () => {
    await browser?.close();
    await nr?.stop();
  });

  it('upgrades an old face-match at load and in its edit dialog', async (t) => {
    assert.ok(nr);
    assert.match(
      nr.log(),
      /face-match settings upgraded from version 0 to 3: threshold 0\.6, the old default/,
    );
    if (noBrowser(t)) return;
    browser = await launchBrowser();
    const page = await browser.browser.newPage({ viewport: { width: 1400, height: 900 } });
    const pageErrors: string[] = [];
    page.on('pageerror', (err) => pageErrors.push(err.message));
    await page.goto(nr.url, { waitUntil: 'domcontentloaded' });
    await page.waitForSelector('#red-ui-palette-container-facewatch', { timeout: 60000 });
    await page.dblclick('[id="fw.match"] .red-ui-flow-node');
    await page.waitForSelector('#node-input-threshold', { state: 'visible' });
    assert.equal(Number(await page.inputValue('#node-input-threshold')), MATCH.threshold.default);
    assert.equal(Number(await page.inputValue('#node-input-version')), SETTINGS_VERSION['face-match']);
    assert.equal(Number(await page.getAttribute('#node-input-threshold', 'max')), MATCH.threshold.max);
    // Saved before the match rule existed: the dialog shows the rule of today, the mean.
    assert.equal(await page.inputValue('#node-input-rule'), MATCH.rule.default);
    // And before holding a name along a track: the dialog shows the hold of today.
    assert.equal(Number(await page.inputValue('#node-input-hold')), MATCH.hold.default);
    await page.click('#node-dialog-ok');
    await page.waitForFunction(
      (v) => Number((RED.nodes.node('fw.match') as { version?: unknown }).version) === v,
      SETTINGS_VERSION['face-match'],
    );
    const saved = await page.evaluate(
      () => (RED.nodes.node('fw.match') as { threshold?: unknown }).threshold,
    );
    assert.equal(Number(saved), MATCH.threshold.default);
    assert.deepEqual(pageErrors, []);
  });
});
