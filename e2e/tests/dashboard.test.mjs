// End-to-end tests of the dashboard: headless Chromium against the real
// `incidentd run` (embedded broker, processor, projector, notifier in
// outbox mode, ingress serving the pages) and a real ClickHouse server.
//
// Synchronisation is by Playwright's auto-waiting (locator.waitFor and
// friends, each bounded by a timeout), never by sleeping: the pages poll
// the API by themselves, and a test waits for what a person would wait
// for on the screen.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { api, startStack } from '../lib/stack.mjs';
import { DESKTOP, launch, newPage, PHONE, shot } from '../lib/browser.mjs';
import { fakeSlackAPI, sendEvent } from '../lib/slack.mjs';

// One token per tenant. C is used by the main flow alone, so its
// analytics can be checked exactly.
const TOKENS = [
  { name: 'alice', tenant: 'A', secret: 'e2e-token-tenant-a-0123456789' },
  { name: 'bob', tenant: 'B', secret: 'e2e-token-tenant-b-0123456789' },
  { name: 'carol', tenant: 'C', secret: 'e2e-token-tenant-c-0123456789' },
  { name: 'dave', tenant: 'D', secret: 'e2e-token-tenant-d-0123456789' },
  { name: 'sam', tenant: 'S', secret: 'e2e-token-tenant-s-0123456789' },
  { name: 'erin', tenant: 'E', secret: 'e2e-token-tenant-e-0123456789' },
  { name: 'fay', tenant: 'F', secret: 'e2e-token-tenant-f-0123456789' },
];
const [A, B, C] = TOKENS;
const WAIT = 20000; // the longest a person would wait for a page to show something

// Slack workspace T0E2E belongs to tenant S. The message pinned in the
// test, as Slack's conversations.replies returns it.
const SLACK_SECRET = 'e2e-slack-signing-secret';
const THREAD_TS = '1764300000.000100';
const PINNED = { ts: '1764300100.000200', thread_ts: THREAD_TS, user: 'U0CAROL', text: 'db primary failed over at 03:21' };

let stack; // with the tokens above and Slack receivers
let fresh; // as on a first `make run`: no tokens file, a dev token
let browser;
let slack;

before(async () => {
  slack = await fakeSlackAPI([{ team_id: 'T0E2E', bot_token: 'xoxb-e2e' }], [{ team: 'T0E2E', channel: 'C0INCIDENTS', ...PINNED }]);
  // All at once; each kept as soon as it is up, so after() stops
  // whichever started even when another did not.
  const started = await Promise.allSettled([
    startStack({
      tokens: TOKENS,
      slack: {
        signingSecret: SLACK_SECRET, apiURL: slack.url,
        workspaces: [{ team_id: 'T0E2E', tenant: 'S', bot_token: 'xoxb-e2e', incidents_channel: 'C0INCIDENTS' }],
      },
    }).then((x) => { stack = x; }),
    startStack().then((x) => { fresh = x; }),
    launch().then((x) => { browser = x; }),
  ]);
  const failed = started.find((r) => r.status === 'rejected');
  if (failed) throw failed.reason;
});

after(async () => {
  await browser?.close();
  await Promise.all([stack?.stop(), fresh?.stop()]);
  await slack?.close();
});

// open signs in with a token on a fresh page (at url, the list by
// default; DESKTOP size unless viewport says otherwise) and waits for the
// list.
async function open(tok, url = stack.baseURL + '/', viewport = DESKTOP) {
  const p = await newPage(browser, viewport);
  p.page.setDefaultTimeout(WAIT);
  await p.page.goto(url);
  await p.page.getByLabel('API token').fill(tok.secret);
  await p.page.getByRole('button', { name: 'Sign in' }).click();
  await p.page.getByRole('heading', { name: 'Incidents', level: 1 }).waitFor();
  return p;
}

function nav(page, name) {
  return page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name, exact: true }).click();
}

// declareByAPI declares as someone else would (another tab, a script):
// accepted is enough (200 applied, or 202 when the outcome took longer
// than the wait on a busy machine); the pages wait for what they show.
async function declareByAPI(tok, title, severity) {
  const r = await api(stack, tok.secret, 'POST', '/incidents?wait=5s', { title, severity });
  assert.ok(r.status === 200 || r.status === 202, `declare: ${r.status} ${JSON.stringify(r.data)}`);
  return r.data.incident_id;
}

// inView waits (bounded) until the view holds version v of an incident:
// the API itself waits up to its read bound per request, answering 503
// view_behind when that was not enough.
async function inView(tok, id, v) {
  for (let attempt = 0; attempt < 4; attempt++) {
    const r = await api(stack, tok.secret, 'GET', `/incidents/${encodeURIComponent(id)}?min_version=${v}`);
    if (r.status === 200) return r.data;
    assert.equal(r.status, 503, JSON.stringify(r.data));
  }
  assert.fail(`${id} version ${v} not in the view after four bounded waits`);
}

describe('dashboard', () => {
  test('pages are served with a strict CSP and the right types', async () => {
    for (const [p, type] of [['/', 'text/html'], ['/app.js', 'text/javascript'], ['/app.css', 'text/css']]) {
      const r = await fetch(stack.baseURL + p);
      assert.equal(r.status, 200, p);
      assert.match(r.headers.get('content-type'), new RegExp('^' + type), p);
      assert.match(r.headers.get('content-security-policy') || '', /^default-src 'self';/, p);
      assert.doesNotMatch(r.headers.get('content-security-policy'), /unsafe-inline|unsafe-eval/, p);
      assert.equal(r.headers.get('cache-control'), 'no-cache', p);
    }
    const unauth = await fetch(stack.baseURL + '/api/v1/incidents');
    assert.equal(unauth.status, 401);
  });

  test('sign-in refuses a wrong token and accepts a right one', async () => {
    const { context, page, problems } = await newPage(browser);
    page.setDefaultTimeout(WAIT);
    await page.goto(stack.baseURL + '/');
    await page.getByLabel('API token').fill('not-a-token');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').filter({ hasText: 'That token was refused' }).waitFor();
    await shot(page, 'signin');
    await page.getByLabel('API token').fill(A.secret);
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Incidents', level: 1 }).waitFor();
    // The token is kept in this tab's session storage only.
    assert.equal(await page.evaluate(() => sessionStorage.getItem('incidentd.token')), A.secret);
    assert.deepEqual(await context.cookies(), []);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('API token').waitFor();
    assert.equal(await page.evaluate(() => sessionStorage.getItem('incidentd.token')), null);
    assert.deepEqual(problems, []);
    await context.close();
  });

  test('declare, list, change severity, resolve, a rejection, analytics', async () => {
    const { context, page, problems } = await open(C);
    const title = 'Checkout returns 502 for EU customers';

    // Declare, with the keyboard: the title field has focus, Enter submits.
    await nav(page, 'Declare');
    await page.getByLabel('Title').fill(title);
    await page.getByLabel('Severity').selectOption('SEV3');
    await shot(page, 'declare');
    await page.getByLabel('Title').press('Enter');
    const heading = page.locator('#inc-title');
    await heading.filter({ hasText: title }).waitFor();
    const id = decodeURIComponent(new URL(page.url()).hash.replace('#/incidents/', ''));
    const badges = page.locator('.badges');
    await badges.locator('.badge.sev', { hasText: 'SEV3' }).waitFor();
    await badges.locator('.badge.status', { hasText: 'open' }).waitFor();

    // The list shows it, open, at a glance.
    await nav(page, 'Incidents');
    const row = page.locator('table.incidents tbody tr', { hasText: title });
    await row.waitFor();
    await row.locator('.badge.sev', { hasText: 'SEV3' }).waitFor();
    await row.locator('.badge.status', { hasText: 'open' }).waitFor();
    await shot(page, 'list');

    // Change the severity: the page shows the new state at once.
    await row.getByRole('link', { name: title }).click();
    await heading.filter({ hasText: title }).waitFor();
    await page.locator('#a-severity').selectOption('SEV1');
    await page.getByRole('button', { name: 'Change severity' }).click();
    await badges.locator('.badge.sev', { hasText: 'SEV1' }).waitFor();
    await page.locator('.timeline li', { hasText: 'changed the severity to' }).waitFor();

    // Assign a commander; back-date the impact start by an hour.
    await page.locator('#a-role').selectOption('commander');
    await page.locator('#a-person').fill('dana');
    await page.getByRole('button', { name: 'Assign', exact: true }).click();
    await page.locator('.facts dd', { hasText: /^dana$/ }).waitFor();
    const hourAgo = new Date(Date.now() - 3600 * 1000);
    const pad = (n) => String(n).padStart(2, '0');
    const local = `${hourAgo.getFullYear()}-${pad(hourAgo.getMonth() + 1)}-${pad(hourAgo.getDate())}T${pad(hourAgo.getHours())}:${pad(hourAgo.getMinutes())}:${pad(hourAgo.getSeconds())}`;
    await page.locator('#a-impact').fill(local);
    await page.getByRole('button', { name: 'Set', exact: true }).click();
    await page.locator('.timeline li', { hasText: 'set the impact start to' }).waitFor();

    // A note, then resolve.
    await page.locator('#a-note').fill('Rolled back release 2026.11.3; error rate back to normal.');
    await page.getByRole('button', { name: 'Add note' }).click();
    await page.locator('.timeline blockquote.note', { hasText: 'Rolled back release' }).waitFor();
    // Resolve with the keyboard: focus stays on the button afterwards.
    await page.getByRole('button', { name: 'Resolve' }).focus();
    await page.keyboard.press('Enter');
    await badges.locator('.badge.status', { hasText: 'resolved' }).waitFor();
    await page.waitForFunction(() => document.activeElement && document.activeElement.textContent === 'Resolve');
    await page.locator('.timeline li', { hasText: 'resolved the incident' }).waitFor();
    // From the back-dated impact start: an hour and a few seconds.
    assert.match(await page.locator('.facts dt:text-is("Resolved after") + dd').textContent(), /^1h( \d+m)?$/);
    await shot(page, 'incident');

    // Acknowledging a resolved incident is rejected: the page says why.
    await page.getByRole('button', { name: 'Acknowledge' }).click();
    const alert = page.locator('.actions [role=alert]');
    await alert.filter({ hasText: 'Rejected' }).waitFor();
    assert.match(await alert.textContent(), /already_resolved/);
    // The rejection is part of the history, with its code.
    await page.locator('.timeline li.ev-rejected', { hasText: 'already_resolved' }).waitFor();
    await badges.locator('.badge.status', { hasText: 'resolved' }).waitFor();
    await shot(page, 'incident-rejected', { fullPage: true });

    // Analytics count it: tenant C has exactly this one incident, resolved.
    await nav(page, 'Analytics');
    await page.locator('#open-now', { hasText: /^0$/ }).waitFor();
    await page.locator('.tile.mttr .tsub', { hasText: '1 resolved' }).waitFor();
    // MTTR runs from the back-dated impact start: an hour and some seconds.
    assert.match((await page.locator('.tile.mttr .tvalue').textContent()).trim(), /^1h( \d+m)?$/);
    await page.locator('.tile', { hasText: 'Declared' }).locator('.tvalue', { hasText: /^1$/ }).waitFor();
    assert.ok(await page.locator('svg.svgchart rect.c-mttr').count() >= 1, 'an MTTR bar is drawn');
    await shot(page, 'analytics');
    await shot(page, 'analytics-full', { fullPage: true });

    // The API agrees with the page.
    const got = await api(stack, C.secret, 'GET', '/incidents/' + encodeURIComponent(id));
    assert.equal(got.status, 200);
    assert.equal(got.data.incident.severity, 'SEV1');
    assert.equal(got.data.incident.status, 'resolved');
    assert.equal(got.data.incident.commander, 'dana');
    assert.deepEqual(problems, []);
    await context.close();
  });

  test('the list shows a new incident without a reload', async () => {
    const { context, page, problems } = await open(A);
    await page.evaluate(() => { window.__notReloaded = true; });
    const title = 'Login latency over 2s (declared elsewhere)';
    await declareByAPI(A, title, 'SEV2');
    await page.locator('table.incidents tbody tr', { hasText: title }).waitFor();
    assert.equal(await page.evaluate(() => window.__notReloaded), true, 'the page was not reloaded');
    await shot(page, 'list-refreshed');
    assert.deepEqual(problems, []);
    await context.close();
  });

  test('user-provided text is shown as text, never run', async () => {
    const title = '<img src=x onerror="window.__pwned=1"> & <b>bold</b>';
    const id = await declareByAPI(A, title, 'SEV4');
    const { context, page, problems } = await open(A);
    await page.goto(stack.baseURL + '/#/incidents/' + encodeURIComponent(id));
    const heading = page.locator('#inc-title');
    await heading.waitFor();
    assert.equal(await heading.textContent(), title);
    assert.equal(await heading.locator('img, b').count(), 0);
    assert.equal(await page.evaluate(() => window.__pwned), undefined);
    assert.deepEqual(problems, []);
    await context.close();
  });

  test("tenant B's token cannot see tenant A's incident", async () => {
    const titleA = 'Tenant A only: payments webhook failures';
    const idA = await declareByAPI(A, titleA, 'SEV2');
    const titleB = 'Tenant B: search index stale';
    await declareByAPI(B, titleB, 'SEV3');

    const { context, page, problems } = await open(B);
    // B's list has loaded (its own incident is there) and A's is not in it.
    await page.locator('table.incidents tbody tr', { hasText: titleB }).waitFor();
    assert.equal(await page.locator('table.incidents tbody tr', { hasText: titleA }).count(), 0);
    // A search for A's title finds nothing for B.
    await page.getByLabel('Search').fill('payments webhook');
    await page.getByRole('button', { name: 'Apply' }).click();
    await page.locator('.empty', { hasText: 'No incidents match' }).waitFor();
    // A's incident page, by its id, is "not found" for B; so is the API.
    await page.goto(stack.baseURL + '/#/incidents/' + encodeURIComponent(idA));
    await page.getByRole('heading', { name: 'Incident not found' }).waitFor();
    await shot(page, 'tenant-b-not-found');
    assert.equal((await api(stack, B.secret, 'GET', '/incidents/' + encodeURIComponent(idA))).status, 404);
    // B cannot act on it either.
    const ack = await api(stack, B.secret, 'POST', '/incidents/' + encodeURIComponent(idA) + '/acknowledge?wait=5s', {});
    assert.equal(ack.status, 404);
    assert.equal((await inView(A, idA, 1)).incident.status, 'open');
    assert.deepEqual(problems, []);
    await context.close();
  });

  test('a Slack incident links its thread and shows a pinned message at its own time', async () => {
    const S = TOKENS.find((t) => t.tenant === 'S');
    const mention = await sendEvent(stack.baseURL, SLACK_SECRET, {
      type: 'event_callback', team_id: 'T0E2E', api_app_id: 'A0E2E', event_id: 'Ev0E2E000001', event_time: 1764300000,
      event: { type: 'app_mention', user: 'U0ALICE', text: '<@U0FIRE> checkout is down for EU', ts: THREAD_TS, channel: 'C0INCIDENTS', event_ts: THREAD_TS },
    });
    assert.equal(mention.status, 200, mention.text);

    const { context, page, problems } = await open(S);
    const row = page.locator('table.incidents tbody tr', { hasText: 'checkout is down for EU' });
    await row.waitFor();
    await row.locator('.tag', { hasText: 'Slack' }).waitFor();
    await row.getByRole('link').click();
    await page.locator('#inc-title', { hasText: 'checkout is down for EU' }).waitFor();
    await page.locator('a[href="https://slack.com/archives/C0INCIDENTS/p1764300000000100"]').first().waitFor();

    // Someone reacts with the pin emoji on a message of the thread: the
    // page (polling) shows it, with its author and its own time.
    const pin = await sendEvent(stack.baseURL, SLACK_SECRET, {
      type: 'event_callback', team_id: 'T0E2E', api_app_id: 'A0E2E', event_id: 'Ev0E2E000002', event_time: 1764300200,
      event: {
        type: 'reaction_added', user: 'U0BOB', reaction: 'pushpin', item_user: 'U0CAROL', event_ts: '1764300200.000300',
        item: { type: 'message', channel: 'C0INCIDENTS', ts: PINNED.ts },
      },
    });
    assert.equal(pin.status, 200, pin.text);
    const pinned = page.locator('.timeline blockquote.pin', { hasText: PINNED.text });
    await pinned.waitFor();
    assert.equal(await pinned.locator('time').getAttribute('datetime'), '2025-11-28T03:21:40.000Z');
    assert.match(await pinned.textContent(), /U0CAROL/);
    await pinned.locator('a[href^="https://slack.com/archives/C0INCIDENTS/p1764300100000200"]').waitFor();
    await shot(page, 'incident-slack');
    assert.deepEqual(problems, []);
    await context.close();
  });

  test('the Slack outbox shows what the notifier would have posted', async () => {
    const title = 'Kafka consumer lag on events (outbox)';
    const id = await declareByAPI(A, title, 'SEV1');
    const { context, page, problems } = await open(A);
    await nav(page, 'Slack outbox');
    const entry = page.locator('.outmsg', { has: page.locator(`a[href="#/incidents/${encodeURIComponent(id)}"]`) });
    await entry.first().waitFor();
    assert.match(await entry.first().textContent(), /Kafka consumer lag/);
    await shot(page, 'outbox');
    // The outbox shows titles too (the escaping test's among them): as text.
    assert.equal(await page.evaluate(() => window.__pwned), undefined);
    // The card's "Open incident" link, followed as a person would from
    // Slack, opens the incident's page.
    const ob = await api(stack, A.secret, 'GET', '/outbox');
    const link = ob.data.entries.filter((e) => e.incident_id === id)
      .map((e) => JSON.stringify(e.blocks || []).match(/<(http[^|>]+)\|Open incident/))
      .find((m) => m)?.[1];
    assert.ok(link, `no card with an "Open incident" link for ${id}`);
    assert.ok(link.startsWith(stack.baseURL + '/incidents/'), `card link ${link} is not on ${stack.baseURL}`);
    await page.goto(link);
    await page.locator('#inc-title', { hasText: title }).waitFor();
    assert.deepEqual(problems, []);
    await context.close();
    // Only the caller's tenant's messages: B's outbox has none of A's.
    const asB = await api(stack, B.secret, 'GET', '/outbox');
    assert.equal(asB.status, 200);
    assert.ok(!asB.data.entries.some((e) => e.incident_id === id), "B's outbox shows none of A's messages");
  });

  test('filters, search and pagination', async () => {
    const D = TOKENS.find((t) => t.tenant === 'D');
    // 27 open incidents and a resolved one: more than one page of 25.
    // This test comes last: its burst queues the notifier's posts behind
    // the outbox channel's rate limit.
    const ids = [];
    for (let i = 0; i < 27; i++) {
      const r = await api(stack, D.secret, 'POST', '/incidents', { title: `Disk pressure on node ${i}`, severity: i % 9 === 0 ? 'SEV1' : 'SEV4' });
      assert.equal(r.status, 202, JSON.stringify(r.data));
      ids.push(r.data.incident_id);
    }
    const odd = await declareByAPI(D, 'Certificate expiry on the edge', 'SEV2');
    await inView(D, odd, 1);
    const resolved = await api(stack, D.secret, 'POST', `/incidents/${encodeURIComponent(odd)}/resolve?wait=10s`, {});
    assert.equal(resolved.status, 200, JSON.stringify(resolved.data));
    // Every one of them in the view before the page looks.
    for (const [id, v] of [...ids.map((id) => [id, 1]), [odd, resolved.data.version]]) await inView(D, id, v);

    const { context, page, problems } = await open(D);
    const rows = page.locator('table.incidents tbody tr');
    const next = page.getByRole('button', { name: 'Next →' });
    await page.locator('button:has-text("Next →"):not([disabled])').waitFor();
    assert.equal(await rows.count(), 25);
    await shot(page, 'list-page-1');
    // Open first: the resolved one is not on the first page.
    assert.equal(await rows.filter({ hasText: 'Certificate expiry' }).count(), 0);
    await next.click();
    await page.locator('.pager', { hasText: 'Page 2' }).waitFor();
    await rows.filter({ hasText: 'Certificate expiry' }).waitFor();
    assert.equal(await rows.count(), 3);
    await page.getByRole('button', { name: '← Previous' }).click();
    await page.locator('.pager', { hasText: 'Page 1' }).waitFor();

    // Severity filter: only the three SEV1s.
    await page.getByLabel('Severity').selectOption('SEV1');
    await page.locator('.pager', { hasText: 'Page 1' }).waitFor();
    await page.waitForFunction(() => {
      const r = [...document.querySelectorAll('table.incidents tbody tr')];
      return r.length === 3 && r.every((x) => x.querySelector('.badge.sev').textContent === 'SEV1');
    });
    // Status filter: the resolved one alone.
    await page.getByLabel('Severity').selectOption('');
    await page.getByLabel('Status').selectOption('resolved');
    await page.waitForFunction(() => {
      const r = [...document.querySelectorAll('table.incidents tbody tr')];
      return r.length === 1 && r[0].textContent.includes('Certificate expiry');
    });
    // Search on the title.
    await page.getByLabel('Status').selectOption('');
    await page.getByLabel('Search').fill('node 13');
    await page.getByLabel('Search').press('Enter');
    await page.waitForFunction(() => {
      const r = [...document.querySelectorAll('table.incidents tbody tr')];
      return r.length === 1 && r[0].textContent.includes('Disk pressure on node 13');
    });
    await shot(page, 'list-filtered');
    // Time range: nothing was declared after an hour from now.
    const inAnHour = new Date(Date.now() + 3600 * 1000);
    const pad = (n) => String(n).padStart(2, '0');
    await page.getByLabel('Search').fill('');
    await page.getByLabel('Declared from').fill(`${inAnHour.getFullYear()}-${pad(inAnHour.getMonth() + 1)}-${pad(inAnHour.getDate())}T${pad(inAnHour.getHours())}:${pad(inAnHour.getMinutes())}`);
    await page.getByRole('button', { name: 'Apply' }).click();
    await page.locator('.empty', { hasText: 'No incidents match' }).waitFor();
    // Clear, then most severe first: the SEV1s lead.
    await page.getByRole('button', { name: 'Clear' }).click();
    await page.getByLabel('Sort').selectOption('severity');
    await page.waitForFunction(() => {
      const r = [...document.querySelectorAll('table.incidents tbody tr')];
      return r.length === 25 && r.slice(0, 3).every((x) => x.querySelector('.badge.sev').textContent === 'SEV1') &&
        r[3].querySelector('.badge.sev').textContent === 'SEV2';
    });
    assert.deepEqual(problems, []);
    await context.close();
  });

  test('a filtered list is kept in the URL: reloaded or opened elsewhere, the same list', async () => {
    const E = TOKENS.find((t) => t.tenant === 'E');
    const ids = [];
    for (const [title, sev] of [['Queue backlog on shard 1', 'SEV1'], ['Queue backlog on shard 2', 'SEV1'],
      ['Queue backlog on shard 3', 'SEV3'], ['Login errors on the portal', 'SEV1']]) {
      ids.push(await declareByAPI(E, title, sev));
    }
    for (const id of ids) await inView(E, id, 1);
    const want = ['Queue backlog on shard 1', 'Queue backlog on shard 2'];
    // The titles the list shows, once it shows exactly want.
    const sameList = async (page) => {
      await page.waitForFunction((w) => {
        const t = [...document.querySelectorAll('table.incidents tbody td.title a')].map((a) => a.textContent);
        return t.length === w.length && t.every((x, i) => x === w[i]);
      }, want);
      assert.equal(await page.getByLabel('Severity').inputValue(), 'SEV1');
      assert.equal(await page.getByLabel('Search').inputValue(), 'backlog');
      assert.equal(await page.getByLabel('Sort').inputValue(), 'oldest');
    };

    const { context, page, problems } = await open(E);
    await page.getByLabel('Severity').selectOption('SEV1');
    await page.getByLabel('Sort').selectOption('oldest');
    await page.getByLabel('Search').fill('backlog');
    await page.getByLabel('Search').press('Enter');
    await sameList(page);
    const url = new URL(page.url());
    const query = new URLSearchParams(url.hash.slice(url.hash.indexOf('?') + 1));
    assert.ok(url.hash.startsWith('#/?'), `the list's URL ${url} has no filters`);
    assert.deepEqual(Object.fromEntries(query), { severity: 'SEV1', q: 'backlog', sort: 'oldest' });

    // Reloaded: the same filters, the same list.
    await page.reload();
    await sameList(page);
    // Away and back through the nav: still the same.
    await nav(page, 'Analytics');
    await page.getByRole('heading', { name: 'Analytics', level: 1 }).waitFor();
    await nav(page, 'Incidents');
    await sameList(page);
    assert.equal(page.url(), url.href);

    // Shared: someone else opens the URL, signs in, and sees the same list.
    const other = await open(E, url.href);
    await sameList(other.page);
    await shot(other.page, 'list-shared-url');
    // Clearing the filters clears the URL.
    await other.page.getByRole('button', { name: 'Clear' }).click();
    await other.page.locator('table.incidents tbody tr', { hasText: 'Login errors on the portal' }).waitFor();
    assert.equal(new URL(other.page.url()).hash, '#/');
    assert.deepEqual(problems, []);
    assert.deepEqual(other.problems, []);
    await other.context.close();
    await context.close();
  });

  test('usable on a phone (390x844) as on a laptop: no page runs off the screen', async () => {
    const F = TOKENS.find((t) => t.tenant === 'F');
    const id = await declareByAPI(F, 'Payments API returns 502 for a third of the requests from the EU region', 'SEV2');
    await inView(F, id, 1);
    const noted = await api(stack, F.secret, 'POST', `/incidents/${encodeURIComponent(id)}/notes?wait=10s`, { note: 'Failing over to the standby load balancer in eu-west-1b; watching the error rate.' });
    assert.equal(noted.status, 200, JSON.stringify(noted.data));
    const pages = [
      ['list', '#/', (page) => page.locator('table.incidents tbody tr', { hasText: 'Payments API' }).waitFor()],
      ['incident', '#/incidents/' + encodeURIComponent(id), (page) => page.locator('.timeline blockquote.note').waitFor()],
      ['declare', '#/declare', (page) => page.getByLabel('Title').waitFor()],
      ['analytics', '#/analytics', (page) => page.locator('#open-now', { hasText: /^1$/ }).waitFor()],
      ['outbox', '#/outbox', (page) => page.locator('.outmsg', { has: page.locator(`a[href="#/incidents/${encodeURIComponent(id)}"]`) }).first().waitFor()],
    ];
    for (const [size, viewport] of [['phone', PHONE], ['desktop', DESKTOP]]) {
      const { context, page, problems } = await open(F, stack.baseURL + '/', viewport);
      for (const [name, hash, ready] of pages) {
        await page.goto(stack.baseURL + '/' + hash);
        await ready(page);
        const { scrollWidth, innerWidth } = await page.evaluate(() => ({ scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth }));
        assert.ok(scrollWidth <= innerWidth, `${size} ${name}: the page is ${scrollWidth}px wide in a ${innerWidth}px window`);
        // Every nav link and every list row lies within the window.
        for (const box of [...await page.getByRole('navigation', { name: 'Main' }).getByRole('link').all(),
          ...await page.locator('table.incidents tbody tr').all()].map((l) => l.boundingBox())) {
          const b = await box;
          assert.ok(b && b.x >= 0 && b.x + b.width <= innerWidth, `${size} ${name}: an element at x ${b?.x}, ${b?.width}px wide, in a ${innerWidth}px window`);
        }
        await shot(page, `${size}-${name}`, { fullPage: true });
      }
      assert.deepEqual(problems, []);
      await context.close();
    }
  });

  // The first-run path of the README: `incidentd run` without a tokens
  // file makes a development token, prints it and keeps it in
  // DATA/ingress/dev-token; a person pastes it into the sign-in page.
  test('sign in with the token incidentd run printed, and declare', async () => {
    const m = /API token of tenant "[^"]+": (\S+) \(in ([^)]+)\)/.exec(fresh.output.text);
    assert.ok(m, 'incidentd run prints a token:\n' + fresh.output.text);
    const [, token, file] = m;
    assert.equal(path.resolve(file), path.join(fresh.dataDir, 'ingress', 'dev-token'));
    assert.equal(fs.readFileSync(file, 'utf8').trim(), token);

    const { context, page, problems } = await newPage(browser);
    page.setDefaultTimeout(20000);
    await page.goto(fresh.baseURL + '/');
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
});
