// The first-run path of the README: `incidentd run` with no tokens file
// makes a development token, prints it and keeps it in
// DATA/ingress/dev-token; a person pastes it into the sign-in page.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startStack } from '../lib/stack.mjs';
import { launch, newPage } from '../lib/browser.mjs';

let stack;
let browser;

before(async () => {
  // Both at once; each kept as soon as it is up, so after() stops
  // whichever started even when the other did not.
  const started = await Promise.allSettled([
    startStack().then((x) => { stack = x; }),
    launch().then((x) => { browser = x; }),
  ]);
  const failed = started.find((r) => r.status === 'rejected');
  if (failed) throw failed.reason;
});

after(async () => {
  await browser?.close();
  await stack?.stop();
});

test('sign in with the token incidentd run printed, and declare', async () => {
  const m = /API token of tenant "[^"]+": (\S+) \(in ([^)]+)\)/.exec(stack.output.text);
  assert.ok(m, 'incidentd run prints a token:\n' + stack.output.text);
  const [, token, file] = m;
  assert.equal(path.resolve(file), path.join(stack.dataDir, 'ingress', 'dev-token'));
  assert.equal(fs.readFileSync(file, 'utf8').trim(), token);

  const { context, page, problems } = await newPage(browser);
  page.setDefaultTimeout(20000);
  await page.goto(stack.baseURL + '/');
  await page.getByLabel('API token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Incidents', level: 1 }).waitFor();
  await page.getByRole('link', { name: 'Declare an incident' }).click();
  await page.getByLabel('Title').fill('First incident on a fresh install');
  await page.getByRole('button', { name: 'Declare' }).click();
  await page.locator('#inc-title', { hasText: 'First incident on a fresh install' }).waitFor();
  // Declared without a severity: the policy's default, the least severe.
  await page.locator('.badges .badge.sev', { hasText: 'SEV4' }).waitFor();
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Incidents', exact: true }).click();
  await page.locator('table.incidents tbody tr', { hasText: 'First incident on a fresh install' }).waitFor();
  assert.deepEqual(problems, []);
  await context.close();
});
