// What the tests need of Slack: requests signed the way Slack signs them
// (v0 HMAC-SHA256 of "v0:timestamp:body"), and a stand-in for the two Web
// API methods ingress calls while it answers an event.
import { createHmac } from 'node:crypto';
import http from 'node:http';

// sendEvent posts an Events API callback to ingress, signed.
export async function sendEvent(baseURL, secret, payload) {
  const body = JSON.stringify(payload);
  const ts = Math.floor(Date.now() / 1000).toString();
  const sig = 'v0=' + createHmac('sha256', secret).update(`v0:${ts}:${body}`).digest('hex');
  const r = await fetch(baseURL + '/slack/events', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-Slack-Request-Timestamp': ts, 'X-Slack-Signature': sig },
    body,
  });
  return { status: r.status, text: await r.text() };
}

// fakeSlackAPI answers conversations.replies with the given messages
// (looked up by ts) and every other method with ok:true. It listens on a
// kernel-chosen loopback port; close() stops it.
export async function fakeSlackAPI(messages) {
  const srv = http.createServer(async (req, res) => {
    let body = '';
    for await (const c of req) body += c;
    const method = req.url.split('?')[0].split('/').pop();
    const form = new URLSearchParams(body);
    let out = { ok: true };
    if (method === 'conversations.replies') {
      const m = messages.find((x) => x.ts === form.get('ts'));
      out = { ok: true, has_more: false, messages: m ? [{ type: 'message', ...m }] : [] };
    } else if (method === 'chat.postEphemeral') {
      out = { ok: true, message_ts: '1764300000.999999' };
    }
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify(out));
  });
  await new Promise((resolve) => srv.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${srv.address().port}/api/`,
    close: () => new Promise((resolve) => srv.close(resolve)),
  };
}
