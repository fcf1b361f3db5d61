// Microsoft's own client library (@azure/msal-node) against our emulator: if
// MSAL accepts every answer, the emulator speaks the identity platform's
// dialect. Every flow runs through MSAL's public API; MSAL's HTTP goes through
// node:https trusting only the emulator's throwaway CA. Assertions never
// print a token: secrets are compared with assert.ok(a === b, 'what').
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import https from 'node:https';
import { createHash, X509Certificate } from 'node:crypto';
import {
  PublicClientApplication, ConfidentialClientApplication, ManagedIdentityApplication, LogLevel,
} from '@azure/msal-node';
import { startEmulator, CLIENT_ID, DEVICE_GRANT, jwtParts } from '../emulator/harness.mjs';
import { msalNetworkClient, browse } from './net.mjs';

const EXO = 'https://outlook.office365.com/.default';
const CONTOSO = '6babcaad-604b-40ac-a9d7-9fd97c0b779f';
const ADMIN = 'admin@contoso.onmicrosoft.com';
const USER = 'user@contoso.onmicrosoft.com';
const PASSWORD = 'P@ssw0rd!'; // the emulator's published test password

let dir;
let emu;
let agent;
let host;
const msalErrors = [];

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'peers-msal-'));
  emu = await startEmulator(dir, ['--device-interval', '1', '--mailboxes', '20']);
  agent = new https.Agent({ ca: readFileSync(emu.info.caFile), keepAlive: false });
  host = new URL(emu.info.url).host;
});

after(async () => {
  if (process.env.PEERS_DEBUG) console.log(msalErrors.join("\n"));
  agent?.destroy();
  await emu?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

// MSAL's logger without PII; errors are kept so a failing test can show them.
function system(seen) {
  return {
    networkClient: msalNetworkClient(agent, seen),
    loggerOptions: {
      piiLoggingEnabled: false,
      logLevel: process.env.PEERS_DEBUG ? LogLevel.Info : LogLevel.Warning,
      loggerCallback: (level, message) => { if (level <= LogLevel.Warning || process.env.PEERS_DEBUG) msalErrors.push(message); },
    },
  };
}

function publicClient(authorityPath = 'organizations', seen = []) {
  return new PublicClientApplication({
    auth: { clientId: CLIENT_ID, authority: `${emu.info.url}/${authorityPath}`, knownAuthorities: [host] },
    system: system(seen),
  });
}

function cacheOf(app) {
  return JSON.parse(app.getTokenCache().serialize());
}

// Asserts MSAL's cache holds one account for upn with an id token, an access
// token for Exchange and a refresh token, all keyed the way MSAL keys them.
function assertUserCache(cache, upn, oid) {
  const homeAccountId = `${oid}.${CONTOSO}`;
  const accounts = Object.values(cache.Account);
  assert.equal(accounts.length, 1);
  assert.equal(accounts[0].home_account_id, homeAccountId);
  assert.equal(accounts[0].environment, host);
  assert.equal(accounts[0].realm, CONTOSO);
  assert.equal(accounts[0].username, upn);
  assert.equal(accounts[0].authority_type, 'MSSTS');
  assert.ok(cache.Account[`${homeAccountId}-${host}-${CONTOSO}`.toLowerCase()] || cache.Account[`${homeAccountId}-${host}-${CONTOSO}`]);

  const ats = Object.values(cache.AccessToken);
  assert.equal(ats.length, 1);
  assert.equal(ats[0].home_account_id, homeAccountId);
  assert.equal(ats[0].client_id, CLIENT_ID);
  assert.equal(ats[0].realm, CONTOSO);
  assert.equal(ats[0].credential_type, 'AccessToken');
  assert.match(ats[0].target, /https:\/\/outlook\.office365\.com\/AdminApi\.AccessAsUser\.All/);
  assert.ok(Number(ats[0].expires_on) > Date.now() / 1000);

  const ids = Object.values(cache.IdToken);
  assert.equal(ids.length, 1);
  assert.equal(ids[0].realm, CONTOSO);
  assert.equal(jwtParts(ids[0].secret).payload.preferred_username, upn);

  const rts = Object.values(cache.RefreshToken);
  assert.equal(rts.length, 1);
  assert.equal(rts[0].home_account_id, homeAccountId);
  assert.equal(rts[0].client_id, CLIENT_ID);
  return { at: ats[0], rt: rts[0], account: accounts[0] };
}

const ADMIN_OID = 'a1d2c3b4-0001-4a5b-8c7d-6e5f4a3b2c1d';
const USER_OID = 'a1d2c3b4-0002-4a5b-8c7d-6e5f4a3b2c1d';

test('device code: MSAL polls, the user approves, the cache holds the account', async () => {
  const seen = [];
  const app = publicClient('organizations', seen);
  let shown;
  const result = await app.acquireTokenByDeviceCode({
    scopes: [EXO],
    deviceCodeCallback: (answer) => {
      shown = answer;
      emu.control('device/approve', { userCode: answer.userCode, upn: ADMIN });
    },
    timeout: 30,
  });
  assert.match(shown.userCode, /^[A-Z2-9]{9}$/);
  assert.equal(shown.verificationUri, `${emu.info.url}/devicelogin`);
  assert.match(shown.message, new RegExp(shown.userCode));
  assert.equal(result.account.username, ADMIN);
  assert.equal(result.account.tenantId, CONTOSO);
  assert.equal(result.tenantId, CONTOSO);
  assert.equal(result.idTokenClaims.preferred_username, ADMIN);
  assert.equal(jwtParts(result.accessToken).payload.aud, 'https://outlook.office365.com');
  assert.ok(result.scopes.includes('https://outlook.office365.com/AdminApi.AccessAsUser.All'));
  assertUserCache(cacheOf(app), ADMIN, ADMIN_OID);
  // MSAL found the endpoints through discovery, not through the internet.
  assert.ok(seen.includes('GET /organizations/v2.0/.well-known/openid-configuration'), seen.join('\n'));
  // The token works on Exchange.
  const exo = await emu.invoke(result.accessToken, 'Get-Mailbox', { ResultSize: 1 });
  assert.equal(exo.status, 200);
});

test('auth code + PKCE: MSAL\'s loopback listener gets the form_post answer', async () => {
  await emu.control('config', { autoApprove: USER });
  try {
    const seen = [];
    const app = publicClient('organizations', seen);
    let authorizeUrl;
    let page;
    const result = await app.acquireTokenInteractive({
      scopes: [EXO],
      loginHint: USER,
      // The "browser": the emulator signs the user in at once (autoApprove)
      // and answers an auto-submitting form, which we post to MSAL's listener.
      openBrowser: async (url) => {
        authorizeUrl = new URL(url);
        page = await browse(url, { agent });
      },
    });
    assert.equal(authorizeUrl.pathname, '/organizations/oauth2/v2.0/authorize');
    const q = authorizeUrl.searchParams;
    assert.equal(q.get('response_mode'), 'form_post');
    assert.equal(q.get('code_challenge_method'), 'S256');
    assert.match(q.get('redirect_uri'), /^http:\/\/localhost:\d+$/);
    assert.equal(page.status, 200, page.text);
    assert.equal(page.visited.length, 2, page.visited.join('\n'));
    assert.match(page.visited[1], /^POST http:\/\/localhost:\d+\/?$/);
    assert.equal(result.account.username, USER);
    assert.equal(result.idTokenClaims.tid, CONTOSO);
    assertUserCache(cacheOf(app), USER, USER_OID);
  } finally {
    await emu.control('config', { autoApprove: null });
  }
});

test('silent refresh: forceRefresh rotates the refresh token; the old one is refused', async () => {
  const app = publicClient('organizations');
  await app.acquireTokenByDeviceCode({
    scopes: [EXO],
    deviceCodeCallback: (answer) => { emu.control('device/approve', { userCode: answer.userCode, upn: ADMIN }); },
    timeout: 30,
  });
  const before = assertUserCache(cacheOf(app), ADMIN, ADMIN_OID);
  const [account] = await app.getTokenCache().getAllAccounts();
  const redeemed = (await emu.call('GET', '/_emulator/stats')).json.refreshTokensRedeemed;

  // Without forceRefresh MSAL answers from its cache: no request. MSAL keys
  // the token by the scopes the answer granted (AAD expands `.default` into
  // the permissions), so the lookup names a granted permission: asking for
  // `.default` again would go to the network, at AAD as here.
  const cached = await app.acquireTokenSilent({ account, scopes: ['https://outlook.office365.com/AdminApi.AccessAsUser.All'] });
  assert.equal(cached.fromCache, true);
  assert.ok(cached.accessToken === before.at.secret, 'the cached access token');

  const fresh = await app.acquireTokenSilent({ account, scopes: [EXO], forceRefresh: true });
  assert.equal(fresh.fromCache, false);
  assert.ok(fresh.accessToken !== before.at.secret, 'a new access token');
  assert.equal((await emu.call('GET', '/_emulator/stats')).json.refreshTokensRedeemed, redeemed + 1);
  const afterRefresh = assertUserCache(cacheOf(app), ADMIN, ADMIN_OID);
  assert.ok(afterRefresh.rt.secret !== before.rt.secret, 'the refresh token rotated in MSAL\'s cache');
  assert.ok(afterRefresh.at.secret === fresh.accessToken, 'the cache holds the new access token');

  // The replaced refresh token is dead at the emulator ...
  const replay = await emu.token({ grant_type: 'refresh_token', client_id: CLIENT_ID, refresh_token: before.rt.secret, scope: `${EXO} openid offline_access` });
  assert.equal(replay.status, 400);
  assert.equal(replay.json.error, 'invalid_grant');
  assert.deepEqual(replay.json.error_codes, [70000]);
  // ... and the rotated one keeps MSAL going.
  const again = await app.acquireTokenSilent({ account, scopes: [EXO], forceRefresh: true });
  assert.equal(again.account.username, ADMIN);
});

// contoso's confidential app with the emulator-made certificate.
function certificateApp(sha256, onPost) {
  const certPem = readFileSync(emu.info.appCertFile, 'utf8');
  const cert = new X509Certificate(certPem);
  const der = cert.raw;
  const clientCertificate = {
    privateKey: readFileSync(emu.info.appKeyFile, 'utf8'),
    x5c: certPem,
  };
  if (sha256) clientCertificate.thumbprintSha256 = createHash('sha256').update(der).digest('hex');
  else clientCertificate.thumbprint = createHash('sha1').update(der).digest('hex');
  return new ConfidentialClientApplication({
    auth: { clientId: emu.info.appId, authority: `${emu.info.url}/${CONTOSO}`, knownAuthorities: [host], clientCertificate },
    system: { ...system([]), networkClient: msalNetworkClient(agent, [], onPost) },
  });
}

for (const [sha256, alg, thumbprintHeader] of [[true, 'PS256', 'x5t#S256'], [false, 'RS256', 'x5t']]) {
  test(`client credentials: certificate assertion ${alg} + ${thumbprintHeader}`, async () => {
    let assertionHeader;
    const app = certificateApp(sha256, (url, form) => {
      if (form.get('client_assertion')) assertionHeader = jwtParts(form.get('client_assertion')).header;
    });
    const result = await app.acquireTokenByClientCredential({ scopes: [EXO] });
    assert.equal(assertionHeader.alg, alg);
    assert.ok(assertionHeader[thumbprintHeader], JSON.stringify(Object.keys(assertionHeader)));
    const claims = jwtParts(result.accessToken).payload;
    assert.equal(claims.idtyp, 'app');
    assert.equal(claims.tid, CONTOSO);
    assert.deepEqual(claims.roles, ['Exchange.ManageAsApp']);
    assert.equal(claims.appidacr, '2', 'a certificate');
    assert.equal(result.account, null);
    const cache = cacheOf(app);
    assert.deepEqual(Object.values(cache.Account), []);
    assert.deepEqual(Object.values(cache.RefreshToken), []);
    const ats = Object.values(cache.AccessToken);
    assert.equal(ats.length, 1);
    assert.equal(ats[0].client_id, emu.info.appId);
    assert.equal(ats[0].realm, CONTOSO);
    assert.ok(ats[0].secret === result.accessToken, 'the cache holds the access token');
    // A second call is served from MSAL's cache.
    assert.equal((await app.acquireTokenByClientCredential({ scopes: [EXO] })).fromCache, true);
    const exo = await emu.invoke(result.accessToken, 'Get-Mailbox', { ResultSize: 1 });
    assert.equal(exo.status, 200);
  });
}

test('client credentials: client secret (the emulator\'s published test secret)', async () => {
  const app = new ConfidentialClientApplication({
    auth: { clientId: emu.info.appId, authority: `${emu.info.url}/contoso.onmicrosoft.com`, knownAuthorities: [host], clientSecret: 'emulator-app-secret-1' },
    system: system([]),
  });
  const result = await app.acquireTokenByClientCredential({ scopes: [EXO] });
  const claims = jwtParts(result.accessToken).payload;
  assert.equal(claims.idtyp, 'app');
  assert.equal(claims.tid, CONTOSO);
  assert.equal(claims.appidacr, '1', 'a secret, not a certificate');
});

test('password (ROPC): a user without MFA signs in; the MFA admin gets AADSTS50076', async () => {
  const app = publicClient('organizations');
  const result = await app.acquireTokenByUsernamePassword({ scopes: [EXO], username: USER, password: PASSWORD });
  assert.equal(result.account.username, USER);
  assertUserCache(cacheOf(app), USER, USER_OID);

  const admin = publicClient('organizations');
  await assert.rejects(
    admin.acquireTokenByUsernamePassword({ scopes: [EXO], username: ADMIN, password: PASSWORD }),
    (err) => {
      assert.equal(err.errorCode, 'invalid_grant');
      assert.match(err.errorMessage, /AADSTS50076/);
      assert.equal(err.subError, 'basic_action');
      assert.equal(err.constructor.name, 'InteractionRequiredAuthError');
      assert.ok(err.claims, 'MSAL surfaces the claims challenge');
      return true;
    },
  );
  assert.deepEqual(Object.values(cacheOf(admin).Account), []);
});

test('tenant authorities: by domain and by GUID, discovery answers the GUID issuer', async () => {
  for (const tenant of ['contoso.onmicrosoft.com', CONTOSO]) {
    const seen = [];
    const app = publicClient(tenant, seen);
    const result = await app.acquireTokenByUsernamePassword({ scopes: [EXO], username: USER, password: PASSWORD });
    assert.equal(result.tenantId, CONTOSO);
    assert.equal(result.idTokenClaims.iss, `${emu.info.url}/${CONTOSO}/v2.0`);
    assert.ok(seen.includes(`GET /${tenant}/v2.0/.well-known/openid-configuration`), seen.join('\n'));
    // MSAL puts its authority's tenant segment back into the discovered
    // endpoints, so the token request goes to the path it was configured with.
    assert.ok(seen.includes(`POST /${tenant}/oauth2/v2.0/token`), seen.join('\n'));
  }
});

// MSAL stops polling on any error but authorization_pending and wraps the
// server's `error` in post_request_failed.
test('device code declined: MSAL stops polling with authorization_declined', async () => {
  const app = publicClient('organizations');
  await assert.rejects(
    app.acquireTokenByDeviceCode({
      scopes: [EXO],
      deviceCodeCallback: (answer) => { emu.control('device/deny', { userCode: answer.userCode }); },
      timeout: 30,
    }),
    (err) => {
      assert.equal(err.errorCode, 'post_request_failed');
      assert.equal(err.errorMessage, 'authorization_declined');
      return true;
    },
  );
});

// MSAL reads the managed identity environment of the process it runs in;
// the values are the emulator's test data (no secret), restored afterwards.
async function withEnv(vars, fn) {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  Object.assign(process.env, vars);
  try {
    return await fn();
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k]; else process.env[k] = v;
    }
  }
}

function managedIdentityApp(seen) {
  return new ManagedIdentityApplication({ system: { ...system(seen), networkClient: msalNetworkClient(agent, seen) } });
}

test('managed identity, App Service (IDENTITY_ENDPOINT + IDENTITY_HEADER)', async () => {
  const seen = [];
  const result = await withEnv({ IDENTITY_ENDPOINT: emu.info.identityEndpoint, IDENTITY_HEADER: emu.info.identityHeader }, async () => {
    const app = managedIdentityApp(seen);
    assert.equal(app.getManagedIdentitySource(), 'AppService');
    return app.acquireToken({ resource: 'https://outlook.office365.com' });
  });
  assert.deepEqual(seen, ['GET /msi/token']);
  const claims = jwtParts(result.accessToken).payload;
  assert.equal(claims.idtyp, 'app');
  assert.equal(claims.appid, emu.info.managedIdentityClientId);
  assert.ok(result.expiresOn.getTime() > Date.now());
  assert.equal((await emu.invoke(result.accessToken, 'Get-Mailbox', { ResultSize: 1 })).status, 200);
});

// IMDS runs in msal-imds.test.mjs: MSAL keeps the managed identity source it
// found first for the life of the process.
