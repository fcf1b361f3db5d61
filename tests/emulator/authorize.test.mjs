// The authorize endpoint matches redirect URIs as Entra does (issue 14):
// Microsoft's public client is registered with http://localhost and takes
// any port on it, nothing else; an app registered with http://127.0.0.1
// takes that host only. A refused redirect gets Entra's AADSTS50011 page
// and no redirect at all, so no callback ever reaches a listener.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash, randomUUID } from 'node:crypto';
import { startEmulator, CLIENT_ID, EXO_SCOPE } from './harness.mjs';
import { LOOPBACK_IP_APP } from './directory.mjs';
import { escapeHtml } from './http.mjs';

let dir;
let emu;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'emu-authorize-'));
  emu = await startEmulator(dir, ['--mailboxes', '5', '--auto-approve', 'admin@contoso.onmicrosoft.com']);
});

after(async () => {
  await emu?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const verifier = `v-${randomUUID()}-${randomUUID()}`;
const challenge = createHash('sha256').update(verifier).digest('base64url');

function authorize(clientId, redirectUri) {
  const query = new URLSearchParams({
    client_id: clientId, response_type: 'code', redirect_uri: redirectUri, scope: EXO_SCOPE,
    state: 'st', nonce: 'n', code_challenge: challenge, code_challenge_method: 'S256',
  });
  return emu.call('GET', `/organizations/oauth2/v2.0/authorize?${query}`);
}

// Accepted: a redirect to exactly the URI sent, with the code and state.
async function assertRedirected(clientId, redirectUri) {
  const res = await authorize(clientId, redirectUri);
  assert.equal(res.status, 302, `${redirectUri}: ${res.text}`);
  const location = res.headers.location;
  assert.ok(location.startsWith(`${redirectUri}?`), location);
  const params = new URL(location).searchParams;
  assert.equal(params.get('state'), 'st');
  return params.get('code');
}

// Refused as Entra does: an HTML page naming AADSTS50011 and the URI sent,
// and no Location, so the browser goes nowhere.
async function assertRefused(clientId, redirectUri) {
  const res = await authorize(clientId, redirectUri);
  assert.equal(res.status, 400, redirectUri);
  assert.equal(res.headers.location, undefined);
  assert.match(res.headers['content-type'], /^text\/html/);
  assert.match(res.text, /AADSTS50011/);
  assert.ok(res.text.includes(escapeHtml(`The redirect URI '${redirectUri}'`)), res.text);
  assert.ok(res.text.includes(clientId));
  assert.doesNotMatch(res.text, /code=/);
}

test('Microsoft\'s public client takes http://localhost with any port, with or without the slash', async () => {
  for (const uri of ['http://localhost', 'http://localhost:49152', 'http://localhost:8400/']) {
    await assertRedirected(CLIENT_ID, uri);
  }
});

test('Microsoft\'s public client refuses every other redirect with the AADSTS50011 page', async () => {
  for (const uri of ['http://127.0.0.1:49152/', 'http://127.0.0.1:49152', 'http://[::1]:49152/',
    'http://localhost:49152/callback', 'https://localhost:49152/', 'http://localhost.example:49152/',
    'http://localhost:49152/?x=1', 'urn:ietf:wg:oauth:2.0:oob']) {
    await assertRefused(CLIENT_ID, uri);
  }
});

test('an app registered with http://127.0.0.1 takes that host on any port, not localhost', async () => {
  const redirectUri = 'http://127.0.0.1:50123/';
  const code = await assertRedirected(LOOPBACK_IP_APP, redirectUri);
  await assertRefused(LOOPBACK_IP_APP, 'http://localhost:50123/');
  await assertRefused(LOOPBACK_IP_APP, 'http://[::1]:50123/');
  // The code is redeemed with the same redirect URI, by that public client.
  const token = await emu.token({
    grant_type: 'authorization_code', client_id: LOOPBACK_IP_APP, code, redirect_uri: redirectUri,
    code_verifier: verifier, scope: EXO_SCOPE,
  });
  assert.equal(token.status, 200, token.text);
  assert.ok(token.json.access_token);
});
