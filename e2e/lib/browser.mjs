// Debian's Chromium, headless, driven by playwright-core (Playwright's
// own browser download does not work here and is not needed).
import fs from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { repo } from './stack.mjs';

export const screenshotDir = path.join(repo, 'e2e', 'screenshots');

export async function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    // Playwright gives every launch a fresh, empty profile directory.
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

// DESKTOP is the laptop screen the dashboard is laid out for; PHONE a
// common phone's (CSS pixels).
export const DESKTOP = { width: 1366, height: 768 };
export const PHONE = { width: 390, height: 844 };

// newPage opens a page (DESKTOP unless viewport says otherwise) that
// records every page error, console error and CSP violation in problems,
// so a test can assert there were none.
export async function newPage(browser, viewport = DESKTOP) {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push('page error: ' + e.message));
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    const t = m.text();
    // A rejected command, a 404 read, a refused token or a view still
    // catching up (503 view_behind, on a busy machine) are answers of the
    // API the pages show; Chromium logs them as failed resources.
    if (/Failed to load resource: the server responded with a status of (401|404|409|422|503)/.test(t)) return;
    problems.push('console error: ' + t);
  });
  return { context, page, problems };
}

export async function shot(page, name, opts = {}) {
  fs.mkdirSync(screenshotDir, { recursive: true });
  await page.screenshot({ path: path.join(screenshotDir, name + '.png'), ...opts });
}
