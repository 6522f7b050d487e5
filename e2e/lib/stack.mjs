// The system under test: the real incidentd binary ("incidentd run": the
// embedded Kafka-protocol broker and every service in one process) and a
// real ClickHouse server (Debian's clickhouse-server, started by
// deploy/local/clickhouse.sh), each on free loopback ports, with its data
// in a fresh temporary directory.
import { spawn, execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';

const run = promisify(execFile);
export const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

// freePort asks the kernel for a free loopback port such that port+off is
// free too for every off in extra (ClickHouse takes port, port+123 and
// port+124; its script wants the port given).
export async function freePort(extra = []) {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await new Promise((resolve, reject) => {
      const srv = net.createServer();
      srv.once('error', reject);
      srv.listen(0, '127.0.0.1', () => { const p = srv.address().port; srv.close(() => resolve(p)); });
    });
    if (port + Math.max(0, ...extra) > 65535) continue;
    let ok = true;
    for (const off of extra) ok = ok && await isFree(port + off);
    if (ok) return port;
  }
  throw new Error('no free port');
}

function isFree(port) {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

// waitForLine resolves when the child's output matches re, and rejects if
// the child exits first or nothing matches within ms.
function waitForLine(child, output, re, ms) {
  return new Promise((resolve, reject) => {
    let done = false;
    const finish = (err, m) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      child.stdout.off('data', check);
      child.stderr.off('data', check);
      child.off('exit', exited);
      err ? reject(err) : resolve(m);
    };
    const check = () => { const m = re.exec(output.text); if (m) finish(null, m); };
    const exited = (code, sig) => finish(new Error(`incidentd exited (${code ?? sig}) before ${re}:\n${output.text.slice(-4000)}`));
    const timer = setTimeout(() => finish(new Error(`no ${re} from incidentd within ${ms} ms:\n${output.text.slice(-4000)}`)), ms);
    child.stdout.on('data', check);
    child.stderr.on('data', check);
    child.on('exit', exited);
    check();
  });
}

export function sha256hex(s) {
  return createHash('sha256').update(s).digest('hex');
}

// listenFlags are the names of run's flags that set a listen address (its
// help says so), so a part that gains a listener later is covered too.
async function listenFlags(bin) {
  const { stdout, stderr } = await run(bin, ['run', '-h']).catch((e) => e);
  const names = [...`${stdout}${stderr}`.matchAll(/^\s+-([a-z0-9.-]+) string\n\s+[^\n]*listen address/gim)].map((m) => m[1]);
  for (const must of ['broker.addr', 'ingress.addr']) {
    if (!names.includes(must)) throw new Error(`incidentd run -h lists no -${must} listen address: the e2e harness needs updating`);
  }
  return names;
}

let built = null;

// build compiles ./cmd/incidentd once per test process, into its own
// temporary directory; every part of the suite that runs the binary shares
// it. E2E_INCIDENTD_BIN runs a binary built beforehand.
export function build() {
  if (process.env.E2E_INCIDENTD_BIN) return Promise.resolve(process.env.E2E_INCIDENTD_BIN);
  built ??= (async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'incidentd-e2e-bin-'));
    process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
    const bin = path.join(dir, 'incidentd');
    await run(process.env.GO || 'go', ['build', '-o', bin, './cmd/incidentd'], { cwd: repo, maxBuffer: 64 << 20 });
    return bin;
  })();
  return built;
}

// startStack builds and starts everything. tokens: [{name, tenant, secret}]
// become the ingress tokens file (stored hashed, as the file wants);
// without tokens, `incidentd run` makes its development token, as on a
// first `make run`. slack: {signingSecret, apiURL, workspaces} turns on
// ingress's Slack receivers for those workspaces (the notifier stays in
// outbox mode: it is given no workspaces).
export async function startStack({ tokens, slack } = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'incidentd-e2e-'));
  const bin = await build();

  const chDir = path.join(dir, 'clickhouse');
  const chPort = await freePort([0, 123, 124]);
  await run(path.join(repo, 'deploy/local/clickhouse.sh'), [chDir, String(chPort)], { cwd: repo });
  const chPid = Number(fs.readFileSync(path.join(chDir, 'pid'), 'utf8').trim());

  const dataDir = path.join(dir, 'data');
  // Every listener on port 0 (the kernel picks, incidentd says which), so
  // runs side by side never collide.
  const args = [
    'run',
    ...(await listenFlags(bin)).map((f) => `-${f}=127.0.0.1:0`),
    `-data-dir=${dataDir}`,
    `-projector.clickhouse-addr=127.0.0.1:${chPort}`,
    `-ingress.clickhouse-addr=127.0.0.1:${chPort}`,
    '-kafka.partitions=2',
    // The dashboard reads its writes back through ClickHouse: a short
    // flush interval keeps the suite quick (the default is 1s).
    '-projector.flush-interval=200ms',
    // Every outbox message goes to one made-up channel; Slack's pace of
    // one message a second per channel would queue the tenants' cards
    // behind each other.
    '-notifier.channel-interval=50ms',
    '-log.level=warn',
  ];
  if (tokens) {
    const tokensFile = path.join(dir, 'tokens.json');
    fs.writeFileSync(tokensFile, JSON.stringify({
      tokens: tokens.map((t) => ({ name: t.name, tenant: t.tenant, sha256: sha256hex(t.secret) })),
    }));
    args.push(`-ingress.tokens=${tokensFile}`);
  }
  if (slack) {
    const wsFile = path.join(dir, 'workspaces.json');
    fs.writeFileSync(wsFile, JSON.stringify({ workspaces: slack.workspaces }));
    // Ingress serves the outbox by default only when it has no Slack
    // workspaces itself; here only the notifier has none, so say where.
    args.push(`-ingress.workspaces=${wsFile}`, `-ingress.slack-signing-secret=${slack.signingSecret}`,
      `-ingress.slack-api-url=${slack.apiURL}`, `-ingress.outbox=${path.join(dataDir, 'notifier', 'outbox.jsonl')}`);
  }
  const output = { text: '' };
  const child = spawn(bin, args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  const keep = (b) => { output.text += b.toString(); if (output.text.length > 1 << 20) output.text = output.text.slice(-(1 << 19)); };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const exited = new Promise((resolve) => child.on('exit', resolve));

  const stack = {
    dir, dataDir, bin, output, baseURL: '',
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 15000);
        await exited;
        clearTimeout(t);
      }
      try { process.kill(chPid, 'SIGTERM'); } catch (_) { /* already gone */ }
      if (!process.env.E2E_KEEP) fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    const m = await waitForLine(child, output, /incidentd ingress:\s+http:\/\/(127\.0\.0\.1:\d+)\/ \(dashboard\)/, 60000);
    stack.baseURL = 'http://' + m[1];
    await waitReady(stack.baseURL + '/readyz', 30000, child, output);
  } catch (e) {
    await stack.stop();
    throw e;
  }
  return stack;
}

// waitReady polls /readyz until it answers 200, within ms.
async function waitReady(url, ms, child, output) {
  const deadline = Date.now() + ms;
  let last = '';
  while (Date.now() < deadline && child.exitCode === null && child.signalCode === null) {
    try {
      const r = await fetch(url, { signal: AbortSignal.timeout(2000) });
      if (r.ok) return;
      last = `${r.status} ${await r.text()}`;
    } catch (e) {
      last = String(e);
    }
    await new Promise((r) => setTimeout(r, 100)); // poll interval, bounded by the deadline
  }
  const how = child.exitCode === null && child.signalCode === null ? `not ready within ${ms} ms` : `incidentd exited (${child.exitCode ?? child.signalCode})`;
  throw new Error(`${url} ${how}: ${last}\n${output.text.slice(-4000)}`);
}

// api calls the JSON API as a token would (for set-up and for checks the
// browser cannot make).
export async function api(stack, secret, method, p, body) {
  const r = await fetch(stack.baseURL + '/api/v1' + p, {
    method,
    headers: { Authorization: 'Bearer ' + secret, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch (_) { data = text; }
  return { status: r.status, data, headers: r.headers };
}
