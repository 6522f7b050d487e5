// What the tests need of Slack comes from the Go side, where its contract
// lives once: requests are signed by `incidentd slack-sign`
// (slackapp.Signature) and the Web API stand-in is `incidentd slackfake`
// (slackapp/slackfake).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { build } from './stack.mjs';

// sign runs `incidentd slack-sign` on body; it prints the timestamp and
// the signature, one a line.
async function sign(secret, body) {
  const bin = await build();
  const child = spawn(bin, ['slack-sign', '-slack-sign.secret=' + secret], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '', err = '';
  child.stdout.on('data', (d) => { out += d; });
  child.stderr.on('data', (d) => { err += d; });
  child.stdin.end(body);
  const code = await new Promise((resolve) => child.on('close', resolve));
  if (code !== 0) throw new Error(`incidentd slack-sign exited ${code}: ${err}`);
  const [ts, sig] = out.trim().split('\n');
  return { ts, sig };
}

// sendEvent posts an Events API callback to ingress, signed.
export async function sendEvent(baseURL, secret, payload) {
  const body = JSON.stringify(payload);
  const { ts, sig } = await sign(secret, body);
  const r = await fetch(baseURL + '/slack/events', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-Slack-Request-Timestamp': ts, 'X-Slack-Signature': sig },
    body,
  });
  return { status: r.status, text: await r.text() };
}

// fakeSlackAPI starts `incidentd slackfake` on a free loopback port for the
// teams ([{team_id, bot_token}]) with the messages people posted
// ([{team, channel, ts, thread_ts, user, text}]) and waits for the API URL
// it prints first; close() stops it.
export async function fakeSlackAPI(teams, messages) {
  const bin = await build();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'incidentd-e2e-slack-'));
  const file = path.join(dir, 'messages.json');
  fs.writeFileSync(file, JSON.stringify(messages));
  const child = spawn(bin, ['slackfake', '-data-dir=' + dir, '-slackfake.addr=127.0.0.1:0',
    '-slackfake.teams=' + teams.map((t) => `${t.team_id}:${t.bot_token}`).join(','), '-slackfake.messages=' + file],
  { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '', err = '';
  child.stderr.on('data', (d) => { err += d; });
  const exited = new Promise((resolve) => child.on('exit', resolve));
  const url = await new Promise((resolve, reject) => {
    child.stdout.on('data', (d) => {
      out += d;
      const nl = out.indexOf('\n');
      if (nl >= 0) resolve(out.slice(0, nl));
    });
    exited.then((code) => reject(new Error(`incidentd slackfake exited (${code}) before printing its URL: ${err}`)));
    setTimeout(() => reject(new Error(`no URL from incidentd slackfake within 30 s: ${err}`)), 30000).unref();
  });
  return {
    url,
    close: async () => {
      child.kill('SIGTERM');
      await exited;
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
