/**
 * The browser harness: playwright-core driving Debian's Chromium (no browser download).
 * CHROMIUM_PATH overrides the executable.
 */
import { existsSync } from 'node:fs';
import type { TestContext } from 'node:test';
import { chromium, type Browser } from 'playwright-core';
import { IN_CI } from './env';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** True (and the test skipped, or failed under CI) when Chromium is not installed. */
export function noBrowser(t: TestContext): boolean {
  if (existsSync(CHROMIUM)) return false;
  if (IN_CI) throw new Error(`required under CI: chromium not found at ${CHROMIUM}`);
  t.skip(`chromium not found at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH)`);
  return true;
}

export interface BrowserHandle {
  browser: Browser;
  close(): Promise<void>;
}

/**
 * Headless Chromium with everything that would reach outside the machine turned off.
 * Playwright gives each launch a fresh temporary profile and removes it on close.
 */
export async function launchBrowser(): Promise<BrowserHandle> {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  return {
    browser,
    close: () => browser.close(),
  };
}
