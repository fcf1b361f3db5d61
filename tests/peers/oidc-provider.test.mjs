// Our helper as the client of a certified OpenID provider (oidc-provider),
// in two shapes (provider.mjs): Entra-like (tenant in the path) and plain
// (issuer at the root). The helper finds everything through discovery and
// trusts the throwaway CA through EXCHANGEMFA_CA_FILE only.
//
// Sign-in modes the helper does not have yet answer InvalidParams; those
// tests skip with the helper's own message and switch on when the mode lands.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, readFileSync, existsSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import https from 'node:https';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { startProvider, approveOnPhone, PUBLIC_CLIENT, APP_CLIENT, TENANT_ID } from './provider.mjs';
import { startHelper, helperBuilt, HELPER } from './helper.mjs';
import { browse, CookieJar, request } from './net.mjs';

const ADMIN = 'admin@contoso.onmicrosoft.com';
const haveHelper = helperBuilt();
const noHelper = haveHelper ? false : `helper not built (${HELPER}): cmake --build build/native`;

// The helper's error for a mode it does not know yet (InvalidParams naming
// the mode; any other InvalidParams is a failure).
function notYet(err) {
  return err && err.data && err.data.name === 'InvalidParams' && /\bmode\b/.test(err.message);
}

for (const shape of ['entra', 'plain']) {
  describe(`oidc-provider, ${shape} shape`, { skip: noHelper }, () => {
    let dir;
    let op;
    let agent;
    let helper;
    let session;          // the device code connection, reused by later tests

    before(async () => {
      dir = mkdtempSync(join(tmpdir(), `peers-op-${shape}-`));
      op = await startProvider({ dir, shape });
      agent = new https.Agent({ ca: op.ca });
      helper = await startHelper(op.caFile);
    });

    after(async () => {
      await helper?.stop();
      agent?.destroy();
      await op?.stop();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    function connectDevice(extra = {}) {
      return helper.request('connect', {
        mode: 'device', authority: op.authority, appId: PUBLIC_CLIENT, connectionUri: op.url, ...extra,
      }, {
        timeoutMs: 40000,
        onNotification: (n) => {
          if (n.method === 'deviceCode') approveOnPhone(agent, n.params.verificationUri, n.params.userCode).catch(() => {});
        },
      });
    }

    test('device code (RFC 8628 grant type URN): the helper signs in through discovery', async () => {
      const countBefore = op.state.counts.token['urn:ietf:params:oauth:grant-type:device_code'] || 0;
      session = await connectDevice({ userPrincipalName: ADMIN });
      assert.equal(session.state, 'Connected');
      assert.equal(session.signInMode, 'DeviceCode');
      assert.equal(session.userPrincipalName, ADMIN);
      if (shape === 'entra') assert.equal(session.tenantId, TENANT_ID);
      assert.equal(session.appId, PUBLIC_CLIENT);
      assert.ok(Date.parse(session.tokenExpiresUtc) > Date.now());
      assert.equal(op.state.counts.token['urn:ietf:params:oauth:grant-type:device_code'], countBefore + 1);
      const shown = helper.notifications.find((n) => n.method === 'deviceCode');
      assert.match(shown.params.verificationUri, new RegExp(`^${op.url}/`));
      assert.equal(shown.params.interval, 5, 'RFC 8628 default interval when the provider sends none');
    });

    // Plain only: the Entra shape is found the Microsoft way (issuer
    // template, origin check).
    if (shape === 'plain') test('discovery: a document whose issuer is not the authority is refused (OpenID Connect Discovery 1.0 §4.3)', async () => {
      // Same server, other name (the certificate covers localhost): the
      // document still says issuer https://127.0.0.1:PORT.
      const shown = helper.notifications.length;
      await assert.rejects(
        connectDevice({ authority: op.url.replace('127.0.0.1', 'localhost') }),
        (err) => { assert.equal(err.data.name, 'BadResponse', err.message); return true; },
      );
      assert.equal(helper.notifications.slice(shown).filter((n) => n.method === 'deviceCode').length, 0, 'no device code was asked for');
    });

    test('refresh with rotation: a 401 makes the helper renew once and retry', async (t) => {
      if (!session) return t.skip('no device code session');
      const rotated = [];
      const onConsumed = (token) => rotated.push(token.jti);
      op.provider.on('refresh_token.consumed', onConsumed);
      try {
        const refreshesBefore = op.state.counts.token.refresh_token || 0;
        op.state.invokeFailures = 1;
        const result = await helper.request('invoke', { connectionId: session.connectionId, cmdlet: 'Get-Mailbox' });
        assert.equal(result.objects, 1);
        assert.equal(op.state.counts.unauthorized >= 1, true);
        assert.equal(op.state.counts.token.refresh_token, refreshesBefore + 1);
        assert.equal(rotated.length, 1, 'the used refresh token was consumed (rotation)');
        const object = helper.notifications.filter((n) => n.method === 'object').pop();
        assert.equal(object.params.value.UserPrincipalName, ADMIN);

        // A second renewal uses the rotated refresh token, not the old one.
        op.state.invokeFailures = 1;
        await helper.request('invoke', { connectionId: session.connectionId, cmdlet: 'Get-Mailbox' });
        assert.equal(op.state.counts.token.refresh_token, refreshesBefore + 2);
        assert.equal(rotated.length, 2);
        assert.ok(rotated[0] !== rotated[1], 'each renewal consumed a different refresh token');

        // Reuse detection: somebody replays the first (consumed) refresh
        // token; the provider revokes the whole grant, so the helper's next
        // renewal is refused and it says to sign in again.
        const replay = await request(`${op.issuer.replace(/\/v2\.0$/, '')}${shape === 'entra' ? '/oauth2/v2.0/token' : '/token'}`, {
          method: 'POST', agent,
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ grant_type: 'refresh_token', client_id: PUBLIC_CLIENT, refresh_token: rotated[0] }).toString(),
        });
        assert.equal(replay.status, 400);
        assert.equal(JSON.parse(replay.text).error, 'invalid_grant');
        assert.ok(op.state.grantsRevoked >= 1, 'the grant was revoked');
        op.state.invokeFailures = 1;
        await assert.rejects(
          helper.request('invoke', { connectionId: session.connectionId, cmdlet: 'Get-Mailbox' }),
          (err) => { assert.equal(err.data.name, 'InvalidGrant', err.message); return true; },
        );
      } finally {
        op.provider.removeListener('refresh_token.consumed', onConsumed);
        op.state.invokeFailures = 0;
      }
    });

    test('device code refused by the user (RFC 8628 access_denied)', async () => {
      op.state.autoApprove = null;
      try {
        await assert.rejects(connectDevice(), (err) => {
          // RFC 8628 says access_denied; Entra says authorization_declined (H2).
          assert.equal(err.data.serverCode, 'access_denied');
          assert.equal(err.data.name, 'AuthorizationDeclined');
          return true;
        });
      } finally {
        op.state.autoApprove = ADMIN;
      }
    });

    // A browser sign-in through a helper of its own ($BROWSER is read at its
    // start). The helper shows the URL in a notification (-NoBrowser) or
    // runs $BROWSER with it; either way the test is the browser.
    // redirect(url): an attacker's change to a redirect. Resolves
    // { result, error, visited }.
    async function browserSignIn(name, redirect) {
      const browserLog = join(dir, `${name}.log`);
      const browserScript = join(dir, `${name}.sh`);
      writeFileSync(browserScript, `#!/bin/sh\nprintf '%s\\n' "$1" >> '${browserLog}'\n`);
      chmodSync(browserScript, 0o700);
      const own = await startHelper(op.caFile, { BROWSER: browserScript });
      let browsed = null;
      let visited = [];
      const play = (url) => {
        if (browsed || !url || !url.startsWith(op.url)) return;
        browsed = browse(url, { agent, jar: new CookieJar(), redirect })
          .then((page) => { visited = page.visited; }, () => {});
      };
      const timer = setInterval(() => {
        if (existsSync(browserLog)) play(readFileSync(browserLog, 'utf8').split('\n')[0]);
      }, 100);
      try {
        const result = await own.request('connect', {
          mode: 'interactive', authority: op.authority, appId: PUBLIC_CLIENT, connectionUri: op.url,
          userPrincipalName: ADMIN, tokenCache: 'memory', timeoutSeconds: 15,
        }, {
          timeoutMs: 20000,
          onNotification: (n) => play(Object.values(n.params || {}).find((v) => typeof v === 'string' && v.includes('code_challenge='))),
        });
        await browsed;
        return { result, visited };
      } catch (error) {
        await browsed;
        return { error, visited };
      } finally {
        clearInterval(timer);
        await own.stop();
      }
    }

    test('auth code + PKCE with the RFC 9207 iss parameter (browser sign-in)', async (t) => {
      const before = op.state.counts.token.authorization_code || 0;
      const { result, error, visited } = await browserSignIn('browser');
      if (notYet(error)) return t.skip(`helper has no interactive mode yet: ${error.message}`);
      if (error) throw error;
      assert.equal(result.userPrincipalName, ADMIN);
      assert.equal(result.signInMode, 'Interactive');
      assert.equal(op.state.counts.token.authorization_code, before + 1);
      // The authorize request carried an S256 challenge.
      const authorize = new URL(visited[0].slice(4));
      assert.equal(authorize.searchParams.get('code_challenge_method'), 'S256');
      // The provider sent iss on the redirect to the helper's loopback listener.
      const callback = visited.find((v) => /^GET http:\/\/(127\.0\.0\.1|localhost|\[::1\]):\d+/.test(v));
      assert.ok(callback, visited.join('\n'));
      assert.equal(new URL(callback.slice(4)).searchParams.get('iss'), op.issuer);
    });

    test('browser sign-in: a redirect whose iss is not the provider\'s is refused (RFC 9207 mix-up defence)', async (t) => {
      const before = op.state.counts.token.authorization_code || 0;
      const forged = (url) => {
        const u = new URL(url);
        if (u.protocol !== 'http:' || !u.searchParams.has('iss')) return url;
        u.searchParams.set('iss', 'https://attacker.invalid');
        return u.toString();
      };
      const { result, error } = await browserSignIn('forged', forged);
      if (notYet(error)) return t.skip(`helper has no interactive mode yet: ${error.message}`);
      assert.equal(result, undefined, 'the helper signed in with a forged iss');
      assert.equal(error.data?.name, 'AuthenticationFailed', error.message);
      assert.equal(op.state.counts.token.authorization_code || 0, before, 'the code was not redeemed');
    });
    test('client credentials with private_key_jwt (certificate app-only)', async (t) => {
      const before = op.state.counts.token.client_credentials || 0;
      let result;
      try {
        result = await helper.request('connect', {
          mode: 'certificate', authority: op.authority, appId: APP_CLIENT, organization: 'contoso.onmicrosoft.com',
          connectionUri: op.url, certificateFilePath: op.appCertFile, certificateKeyFilePath: op.appKeyFile,
        });
      } catch (err) {
        if (notYet(err)) return t.skip(`helper has no certificate mode yet: ${err.message}`);
        throw err;
      }
      assert.equal(result.state, 'Connected');
      assert.equal(op.state.counts.token.client_credentials, before + 1);
      const done = await helper.request('invoke', { connectionId: result.connectionId, cmdlet: 'Get-Mailbox' });
      assert.equal(done.objects, 1);
    });
  });
}


// The command line other suites (Pester) start: one ready line, discovery
// where the helper looks, exit when stdin closes.
test('provider.mjs command line: ready line, discovery, exit on stdin close', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'peers-op-cli-'));
  const child = spawn(process.execPath, [fileURLToPath(new URL('./provider.mjs', import.meta.url)), '--dir', dir, '--shape', 'entra', '--auto-approve'],
    { stdio: ['pipe', 'pipe', 'ignore'] });
  try {
    const line = await new Promise((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (d) => { out += d; if (out.includes('\n')) resolve(out.split('\n')[0]); });
      child.on('exit', (code) => reject(new Error(`provider.mjs exited ${code}`)));
    });
    const info = JSON.parse(line);
    assert.equal(info.clientId, PUBLIC_CLIENT);
    assert.equal(info.issuer, `${info.authority}/v2.0`);
    const agent = new https.Agent({ ca: readFileSync(info.caFile) });
    const doc = await request(`${info.authority}/v2.0/.well-known/openid-configuration`, { agent });
    assert.equal(doc.status, 200);
    assert.equal(JSON.parse(doc.text).device_authorization_endpoint, `${info.authority}/oauth2/v2.0/devicecode`);
    // Control for the Pester suite (Providers.psm1): counters and settings.
    const stats = await request(`${info.url}/_peer/stats`, { agent });
    assert.equal(stats.status, 200);
    assert.equal(JSON.parse(stats.text).discovery, 1);
    const config = await request(`${info.url}/_peer/config`, {
      method: 'POST', agent, headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ autoApprove: null, invokeFailures: 2 }),
    });
    assert.deepEqual(JSON.parse(config.text), { autoApprove: null, invokeFailures: 2 });
    agent.destroy();
    child.stdin.end();
    const [code] = await once(child, 'exit');
    assert.equal(code, 0);
  } finally {
    if (child.exitCode === null) child.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
});
