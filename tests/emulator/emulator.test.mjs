// Self-tests of the emulator: node --test tests/emulator/
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import https from 'node:https';
import { createPublicKey, verify, createPrivateKey, sign, createHash, X509Certificate, randomUUID } from 'node:crypto';
import { startEmulator, jwtParts, sleep, CLIENT_ID, DEVICE_GRANT, EXO_SCOPE } from './harness.mjs';

const CONTOSO = '6babcaad-604b-40ac-a9d7-9fd97c0b779f';
const FABRIKAM = '0f1e2d3c-4b5a-4697-8877-665544332211';
const AADSTS_DESCRIPTION = /^AADSTS(\d+): .+\r\nTrace ID: [0-9a-f-]{36}\r\nCorrelation ID: [0-9a-f-]{36}\r\nTimestamp: \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$/s;

let dir;
let emu;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'emu-test-'));
  emu = await startEmulator(dir, ['--device-interval', '1', '--mailboxes', '2500']);
});

after(async () => {
  await emu?.stop();
  rmSync(dir, { recursive: true, force: true });
});

// Every AAD error has the same shape; answers the AADSTS number.
// What an answer may show in a failure message: never its tokens.
function describe(res) {
  return `HTTP ${res.status} ${res.json?.error || ''} ${(res.json?.error_description || '').split('\r')[0]}`;
}

function assertAadError(res, error, code, status = 400) {
  assert.equal(res.status, status, describe(res));
  assert.equal(res.json.error, error);
  assert.deepEqual(res.json.error_codes, [code]);
  const m = AADSTS_DESCRIPTION.exec(res.json.error_description);
  assert.ok(m, res.json.error_description);
  assert.equal(Number(m[1]), code);
  for (const key of ['timestamp', 'trace_id', 'correlation_id']) assert.equal(typeof res.json[key], 'string');
  assert.equal(res.json.error_uri, `${emu.info.url}/error?code=${code}`);
}

function assertExchangeError(res, status, exceptionType) {
  assert.equal(res.status, status, res.text);
  assert.equal(res.headers['x-exceptiontype'], exceptionType);
  const { error } = res.json;
  assert.equal(typeof error.code, 'string');
  assert.equal(typeof error.message, 'string');
  assert.match(error.details[0].message, new RegExp(`^\\w+\\|[\\w.]+\\.${exceptionType}\\|`));
  assert.ok(error.innererror.type.endsWith(`.${exceptionType}`));
}

async function adminToken() {
  const res = await emu.signIn();
  assert.equal(res.status, 200, describe(res));
  return res.json;
}

test('ready line names url, CA, authority and tenant', () => {
  const { info } = emu;
  assert.match(info.url, /^https:\/\/127\.0\.0\.1:\d+$/);
  assert.equal(info.authority, `${info.url}/organizations`);
  assert.equal(info.tenantId, CONTOSO);
  assert.equal(info.domain, 'contoso.onmicrosoft.com');
  assert.equal(info.pid, emu.child.pid);
  assert.ok(readFileSync(info.caFile, 'utf8').includes('BEGIN CERTIFICATE'));
});

test('discovery: template issuer for organizations/common, concrete for a tenant', async () => {
  for (const seg of ['organizations', 'common']) {
    const res = await emu.call('GET', `/${seg}/v2.0/.well-known/openid-configuration`);
    assert.equal(res.status, 200);
    assert.equal(res.json.issuer, `${emu.info.url}/{tenantid}/v2.0`);
    assert.equal(res.json.token_endpoint, `${emu.info.url}/${seg}/oauth2/v2.0/token`);
    assert.equal(res.json.device_authorization_endpoint, `${emu.info.url}/${seg}/oauth2/v2.0/devicecode`);
    assert.deepEqual(res.json.id_token_signing_alg_values_supported, ['RS256']);
    assert.deepEqual(res.json.response_modes_supported, ['query', 'fragment', 'form_post']);
  }
  for (const seg of [CONTOSO, 'contoso.onmicrosoft.com', 'Contoso.OnMicrosoft.com']) {
    const res = await emu.call('GET', `/${seg}/v2.0/.well-known/openid-configuration`);
    assert.equal(res.json.issuer, `${emu.info.url}/${CONTOSO}/v2.0`);
    assert.equal(res.json.jwks_uri, `${emu.info.url}/${CONTOSO}/discovery/v2.0/keys`);
    assert.equal(res.json.tenant_region_scope, 'NA');
  }
  const bad = await emu.call('GET', '/nosuchtenant.onmicrosoft.com/v2.0/.well-known/openid-configuration');
  assertAadError(bad, 'invalid_tenant', 90002);
});

test('error answers echo client-request-id as the correlation id', async () => {
  const id = randomUUID();
  const res = await emu.call('GET', '/nope/v2.0/.well-known/openid-configuration', { headers: { 'client-request-id': id } });
  assert.equal(res.json.correlation_id, id);
  assert.equal(res.headers['client-request-id'], id);
});

test('JWKS publishes kid, x5t, n, e, x5c and verifies issued tokens', async () => {
  const keys = (await emu.call('GET', '/organizations/discovery/v2.0/keys')).json.keys;
  assert.equal(keys.length, 1);
  const [key] = keys;
  for (const field of ['kty', 'use', 'kid', 'x5t', 'n', 'e', 'x5c']) assert.ok(key[field], field);
  const cert = new X509Certificate(Buffer.from(key.x5c[0], 'base64'));
  assert.equal(key.x5t, createHash('sha1').update(cert.raw).digest('base64url'));
  const tokens = await adminToken();
  for (const jwt of [tokens.access_token, tokens.id_token]) {
    const [h, p, s] = jwt.split('.');
    assert.equal(jwtParts(jwt).header.kid, key.kid);
    const publicKey = createPublicKey({ key: { kty: key.kty, n: key.n, e: key.e }, format: 'jwk' });
    assert.ok(verify('sha256', Buffer.from(`${h}.${p}`), publicKey, Buffer.from(s, 'base64url')));
  }
});

test('devicecode: answer shape, unknown client, bad scope', async () => {
  const res = await emu.deviceCode();
  assert.equal(res.status, 200);
  const dc = res.json;
  assert.match(dc.user_code, /^[A-Z2-9]{9}$/);
  assert.ok(dc.device_code.length > 40);
  assert.equal(dc.verification_uri, `${emu.info.url}/devicelogin`);
  assert.equal(dc.expires_in, 900);
  assert.equal(dc.interval, 1);
  assert.equal(dc.message, `To sign in, use a web browser to open the page ${emu.info.url}/devicelogin `
    + `and enter the code ${dc.user_code} to authenticate.`);
  assertAadError(await emu.deviceCode({ client_id: '11111111-2222-3333-4444-555555555555' }), 'unauthorized_client', 700016);
  assertAadError(await emu.deviceCode({ scope: 'bogus' }), 'invalid_scope', 70011);
  assertAadError(await emu.deviceCode({ scope: 'https://nowhere.example/.default' }), 'invalid_resource', 500011);
  assertAadError(await emu.deviceCode({ scope: '' }), 'invalid_request', 900144);
  assertAadError(await emu.deviceCode({}, 'nosuch'), 'invalid_tenant', 90002);
});

test('device flow: pending, slow_down, approve, tokens', async () => {
  const dc = (await emu.deviceCode()).json;
  const poll = () => emu.token({ grant_type: DEVICE_GRANT, client_id: CLIENT_ID, device_code: dc.device_code, client_info: '1' });
  assertAadError(await poll(), 'authorization_pending', 70016);
  assertAadError(await poll(), 'slow_down', 70016);
  // The interval is now 1 + 5 s: polling after 1.1 s is still too fast.
  await sleep(1100);
  assertAadError(await poll(), 'slow_down', 70016);
  const approved = await emu.control('device/approve', { userCode: dc.user_code, upn: 'admin@contoso.onmicrosoft.com' });
  assert.equal(approved.status, 200);
  const res = await poll();
  assert.equal(res.status, 200, describe(res));
  const t = res.json;
  assert.equal(t.token_type, 'Bearer');
  assert.equal(t.expires_in, 3600);
  assert.equal(t.ext_expires_in, 3600);
  assert.equal(t.refresh_in, undefined);
  assert.match(t.scope, /https:\/\/outlook\.office365\.com\/AdminApi\.AccessAsUser\.All/);
  assert.ok(t.refresh_token);
  const at = jwtParts(t.access_token);
  assert.equal(at.header.alg, 'RS256');
  assert.equal(at.payload.aud, 'https://outlook.office365.com');
  assert.equal(at.payload.iss, `https://sts.windows.net/${CONTOSO}/`);
  assert.equal(at.payload.tid, CONTOSO);
  assert.equal(at.payload.upn, 'admin@contoso.onmicrosoft.com');
  assert.equal(at.payload.appid, CLIENT_ID);
  assert.deepEqual(at.payload.amr, ['pwd', 'mfa']);
  assert.ok(at.payload.exp - at.payload.iat === 3600 && at.payload.nbf <= at.payload.iat);
  const id = jwtParts(t.id_token).payload;
  assert.equal(id.iss, `${emu.info.url}/${CONTOSO}/v2.0`);
  assert.equal(id.aud, CLIENT_ID);
  assert.equal(id.tid, CONTOSO);
  assert.equal(id.ver, '2.0');
  assert.equal(id.preferred_username, 'admin@contoso.onmicrosoft.com');
  assert.equal(id.oid, at.payload.oid);
  const info = JSON.parse(Buffer.from(t.client_info, 'base64url').toString());
  assert.deepEqual(info, { uid: at.payload.oid, utid: CONTOSO });
  // A device code works once.
  assertAadError(await poll(), 'invalid_grant', 70000);
  assertAadError(await emu.token({ grant_type: DEVICE_GRANT, client_id: CLIENT_ID, device_code: 'nope' }), 'bad_verification_code', 70000);
});

// MSAL sends grant_type=device_code (the short name); AAD takes both.
test('device flow: the short grant_type device_code works like the URN', async () => {
  const dc = (await emu.deviceCode()).json;
  await emu.control('device/approve', { userCode: dc.user_code, upn: 'user@contoso.onmicrosoft.com' });
  const res = await emu.token({ grant_type: 'device_code', client_id: CLIENT_ID, device_code: dc.device_code });
  assert.equal(res.status, 200, describe(res));
  assert.equal(jwtParts(res.json.id_token).payload.preferred_username, 'user@contoso.onmicrosoft.com');
});

test('device flow: declined, expired, disabled user, user of another tenant', async () => {
  const poll = (dc, tenant = 'organizations') => emu.token({ grant_type: DEVICE_GRANT, client_id: CLIENT_ID, device_code: dc.device_code }, tenant);
  const declined = (await emu.deviceCode()).json;
  assert.equal((await emu.control('device/deny', { userCode: declined.user_code })).status, 200);
  assertAadError(await poll(declined), 'authorization_declined', 70000);

  await emu.control('config', { deviceExpires: 1 });
  const expiring = (await emu.deviceCode()).json;
  await emu.control('config', { deviceExpires: 900 });
  assert.equal(expiring.expires_in, 1);
  await sleep(1100);
  assertAadError(await poll(expiring), 'expired_token', 70019);
  assert.equal((await emu.control('device/approve', { userCode: expiring.user_code, upn: 'admin@contoso.onmicrosoft.com' })).status, 409);

  const disabled = (await emu.deviceCode()).json;
  await emu.control('device/approve', { userCode: disabled.user_code, upn: 'disabled@contoso.onmicrosoft.com' });
  assertAadError(await poll(disabled), 'invalid_grant', 50057);

  const foreign = (await emu.deviceCode({}, CONTOSO)).json;
  await emu.control('device/approve', { userCode: foreign.user_code, upn: 'admin@fabrikam.onmicrosoft.com' });
  assertAadError(await poll(foreign, CONTOSO), 'invalid_grant', 50020);

  assert.equal((await emu.control('device/approve', { userCode: 'ZZZZZZZZZ', upn: 'admin@contoso.onmicrosoft.com' })).status, 404);
});

test('fabrikam admin through organizations gets a fabrikam token', async () => {
  const res = await emu.signIn('admin@fabrikam.onmicrosoft.com');
  assert.equal(res.status, 200, describe(res));
  assert.equal(jwtParts(res.json.access_token).payload.tid, FABRIKAM);
  assert.equal(jwtParts(res.json.id_token).payload.iss, `${emu.info.url}/${FABRIKAM}/v2.0`);
});

test('the /devicelogin page approves a code', async () => {
  const page = await emu.call('GET', '/devicelogin');
  assert.equal(page.status, 200);
  assert.match(page.text, /<form method="post" action="\/devicelogin">/);
  const dc = (await emu.deviceCode()).json;
  const posted = await emu.call('POST', '/devicelogin', { form: { otc: dc.user_code, upn: 'user@contoso.onmicrosoft.com', action: 'approve' } });
  assert.equal(posted.status, 200);
  const res = await emu.token({ grant_type: DEVICE_GRANT, client_id: CLIENT_ID, device_code: dc.device_code });
  assert.equal(jwtParts(res.json.access_token).payload.upn, 'user@contoso.onmicrosoft.com');
});

test('refresh tokens rotate; reuse and revocation are refused', async () => {
  const first = await adminToken();
  const refresh = (rt, scope = EXO_SCOPE) => emu.token({ grant_type: 'refresh_token', client_id: CLIENT_ID, refresh_token: rt, scope });
  const second = await refresh(first.refresh_token);
  assert.equal(second.status, 200, describe(second));
  assert.notEqual(second.json.refresh_token, first.refresh_token);
  assert.notEqual(second.json.access_token, first.access_token);
  assertAadError(await refresh(first.refresh_token), 'invalid_grant', 70000);
  assertAadError(await refresh('garbage'), 'invalid_grant', 70000);
  const third = await refresh(second.json.refresh_token, 'https://graph.microsoft.com/.default offline_access');
  assert.equal(jwtParts(third.json.access_token).payload.aud, 'https://graph.microsoft.com');
  await emu.control('revoke-refresh-tokens', { upn: 'admin@contoso.onmicrosoft.com' });
  assertAadError(await refresh(third.json.refresh_token), 'invalid_grant', 50173);
  const stats = (await emu.call('GET', '/_emulator/stats')).json;
  assert.ok(stats.refreshTokensRedeemed >= 2);
});

test('stats: tokenRequestsWithClaims counts token requests that pass a claims challenge on', async () => {
  const withClaims = async () => (await emu.call('GET', '/_emulator/stats')).json.tokenRequestsWithClaims;
  const before = await withClaims();
  const first = await adminToken();
  const refresh = (form) => emu.token({ grant_type: 'refresh_token', client_id: CLIENT_ID, scope: EXO_SCOPE, ...form });
  const claims = JSON.stringify({ access_token: { nbf: { essential: true, value: String(Math.floor(Date.now() / 1000)) } } });
  const answered = await refresh({ refresh_token: first.refresh_token, claims });
  assert.equal(answered.status, 200, describe(answered));
  assert.equal(await withClaims(), before + 1);
  await refresh({ refresh_token: answered.json.refresh_token });
  await refresh({ refresh_token: 'garbage', claims: '' });
  assert.equal(await withClaims(), before + 1);
  // Counted even when refused: the request is what a test asks about.
  assertAadError(await refresh({ refresh_token: 'garbage', claims }), 'invalid_grant', 70000);
  assert.equal(await withClaims(), before + 2);
});

test('password grant: MFA accounts get AADSTS50076, plain users get tokens', async () => {
  const ropc = (username, password) => emu.token({ grant_type: 'password', client_id: CLIENT_ID, username, password, scope: EXO_SCOPE });
  const mfa = await ropc('admin@contoso.onmicrosoft.com', 'P@ssw0rd!');
  assertAadError(mfa, 'invalid_grant', 50076);
  assert.equal(mfa.json.suberror, 'basic_action');
  assert.ok(JSON.parse(mfa.json.claims).access_token);
  assertAadError(await ropc('user@contoso.onmicrosoft.com', 'wrong'), 'invalid_grant', 50126);
  assertAadError(await ropc('nobody@contoso.onmicrosoft.com', 'x'), 'invalid_grant', 50034);
  const ok = await ropc('user@contoso.onmicrosoft.com', 'P@ssw0rd!');
  assert.equal(ok.status, 200, describe(ok));
  assert.deepEqual(jwtParts(ok.json.access_token).payload.amr, ['pwd']);
  assertAadError(await emu.token({ grant_type: 'magic', client_id: CLIENT_ID }), 'unsupported_grant_type', 70003);
});

// Follows nextLink; answers {count, pages, names, warnings}.
async function readAll(token, parameters, headers = {}) {
  let url;
  let count = 0;
  let pages = 0;
  const names = new Set();
  let warnings;
  for (;;) {
    const res = await emu.invoke(token, 'Get-Mailbox', parameters, { url, headers });
    assert.equal(res.status, 200, res.text);
    pages += 1;
    count += res.json.value.length;
    for (const m of res.json.value) names.add(m.Name);
    warnings = res.json['@adminapi.warnings'];
    url = res.json['@odata.nextLink'];
    if (!url) break;
    assert.ok(url.startsWith(`${emu.info.url}/adminapi/beta/`), url);
  }
  return { count, pages, names, warnings };
}

test('Get-Mailbox pages 2500 mailboxes by nextLink', async () => {
  const { access_token: at } = await adminToken();
  const all = await readAll(at, { ResultSize: 'Unlimited' });
  assert.deepEqual([all.count, all.pages, all.names.size], [2500, 3, 2500]);
  assert.deepEqual(all.warnings, []);
  const small = await readAll(at, { ResultSize: 'Unlimited' }, { prefer: 'odata.maxpagesize=300' });
  assert.deepEqual([small.count, small.pages], [2500, 9]);
  const limited = await readAll(at, { ResultSize: 1500 });
  assert.deepEqual([limited.count, limited.pages], [1500, 2]);
  assert.match(limited.warnings[0], /There are more results available/);
  const byDefault = await readAll(at, {});
  assert.equal(byDefault.count, 1000);
  const exact = await readAll(at, { ResultSize: 2500 });
  assert.deepEqual([exact.count, exact.warnings], [2500, []]);
  const shared = await readAll(at, { ResultSize: 'Unlimited', RecipientTypeDetails: 'SharedMailbox' });
  assert.equal(shared.count, 50 - 12);
  const filtered = await readAll(at, { ResultSize: 'Unlimited', Filter: "Name -like 'user0001*'" });
  assert.equal(filtered.count, 10); // user00010..user00019
});

test('Get-Mailbox objects carry the service annotations; $select projects', async () => {
  const { access_token: at } = await adminToken();
  const res = await emu.invoke(at, 'Get-Mailbox', { ResultSize: 1 });
  const [m] = res.json.value;
  assert.equal(res.json['@odata.context'].includes('$metadata#'), true);
  assert.equal(m.Name, 'user00001');
  assert.equal(m.PrimarySmtpAddress, 'user00001@contoso.onmicrosoft.com');
  assert.equal(m['EmailAddresses@odata.type'], '#Collection(String)');
  assert.equal(m['WhenCreated@odata.type'], '#DateTimeOffset');
  assert.equal(m.RecipientTypeDetails, 'UserMailbox');
  assert.ok(Object.keys(m).length > 30);
  const selected = await emu.invoke(at, 'Get-Mailbox', { ResultSize: 2 }, { url: `/adminapi/beta/${CONTOSO}/InvokeCommand?$select=Name,EmailAddresses` });
  assert.deepEqual(Object.keys(selected.json.value[0]), ['Name', 'EmailAddresses', 'EmailAddresses@odata.type']);
});

test('Get-Mailbox -Identity by name, UPN, GUID; unknown gives ManagementObjectNotFoundException', async () => {
  const { access_token: at } = await adminToken();
  const byName = (await emu.invoke(at, 'Get-Mailbox', { Identity: 'shared00050' })).json.value;
  assert.equal(byName.length, 1);
  assert.equal(byName[0].RecipientTypeDetails, 'SharedMailbox');
  for (const id of [byName[0].UserPrincipalName, byName[0].Guid, byName[0].ExchangeGuid, byName[0].ExternalDirectoryObjectId]) {
    const res = await emu.invoke(at, 'Get-Mailbox', { Identity: id });
    assert.equal(res.json.value[0].Name, 'shared00050', id);
  }
  assertExchangeError(await emu.invoke(at, 'Get-Mailbox', { Identity: 'nobody' }), 404, 'ManagementObjectNotFoundException');
  assertExchangeError(await emu.invoke(at, 'Get-Mailbox', { Identity: 'user02501' }), 404, 'ManagementObjectNotFoundException');
  assertExchangeError(await emu.invoke(at, 'Get-Frobnicator', {}), 400, 'CommandNotFoundException');
  assertExchangeError(await emu.invoke(at, 'Get-Mailbox', { Bogus: 1 }), 400, 'ParameterBindingException');
  assertExchangeError(await emu.invoke(at, 'Get-Mailbox', { ResultSize: 'lots' }), 400, 'ParameterBindingException');
});

test('Set-Mailbox changes what Get-Mailbox returns', async () => {
  const { access_token: at } = await adminToken();
  const set = await emu.invoke(at, 'Set-Mailbox', { Identity: 'user00007', DisplayName: 'Seven' });
  assert.equal(set.status, 200, set.text);
  assert.deepEqual(set.json.value, []);
  assert.equal((await emu.invoke(at, 'Get-Mailbox', { Identity: 'user00007' })).json.value[0].DisplayName, 'Seven');
});

test('bearer validation: missing, tampered, wrong audience, revoked, expired, wrong tenant', async () => {
  const { access_token: at } = await adminToken();
  const expect401 = async (token, reason) => {
    const res = await emu.invoke(token, 'Get-Mailbox', { ResultSize: 1 });
    assert.equal(res.status, 401, res.text);
    assert.match(res.headers['www-authenticate'], /^Bearer .*error="invalid_token"/);
    assert.match(res.headers['x-ms-diagnostics'], reason);
  };
  const missing = await emu.call('POST', `/adminapi/beta/${CONTOSO}/InvokeCommand`, { json: {} });
  assert.equal(missing.status, 401);
  const [h, p, s] = at.split('.');
  const claims = JSON.parse(Buffer.from(p, 'base64url').toString());
  const forged = `${h}.${Buffer.from(JSON.stringify({ ...claims, upn: 'x@contoso.onmicrosoft.com' })).toString('base64url')}.${s}`;
  await expect401(forged, /signature/);
  await expect401('abc.def', /malformed/);
  const graph = await emu.token({ grant_type: 'password', client_id: CLIENT_ID, username: 'user@contoso.onmicrosoft.com', password: 'P@ssw0rd!', scope: 'https://graph.microsoft.com/.default' });
  await expect401(graph.json.access_token, /audience/);
  const fabrikam = (await emu.signIn('admin@fabrikam.onmicrosoft.com')).json.access_token;
  const mismatch = await emu.invoke(fabrikam, 'Get-Mailbox', { ResultSize: 1 });
  assert.equal(mismatch.status, 403);
  const fabrikamOwn = await emu.invoke(fabrikam, 'Get-Mailbox', { ResultSize: 'Unlimited' }, { tenant: 'fabrikam.onmicrosoft.com' });
  assert.equal(fabrikamOwn.json.value.length, 50);
  assert.equal((await emu.invoke(at, 'Get-Mailbox', { ResultSize: 1 })).status, 200);
  const revoked = await emu.control('revoke-access-tokens');
  assert.ok(revoked.json.revoked >= 1);
  await expect401(at, /revoked/);

  await emu.control('config', { tokenLifetime: 1 });
  const short = (await adminToken()).access_token;
  await emu.control('config', { tokenLifetime: 3600 });
  assert.equal((await emu.invoke(short, 'Get-Mailbox', { ResultSize: 1 })).status, 200);
  await sleep(1100);
  await expect401(short, /expired/);
});

test('signing key rollover: JWKS gains the new key and new tokens use it', async () => {
  const before = await adminToken();
  await emu.control('config', { signingKeyRollover: true });
  try {
    const keys = (await emu.call('GET', `/${CONTOSO}/discovery/v2.0/keys`)).json.keys;
    assert.equal(keys.length, 2);
    const after = await adminToken();
    assert.notEqual(jwtParts(after.access_token).header.kid, jwtParts(before.access_token).header.kid);
    assert.ok(keys.some((k) => k.kid === jwtParts(after.access_token).header.kid));
    assert.equal((await emu.invoke(after.access_token, 'Get-Mailbox', { ResultSize: 1 })).status, 200);
  } finally {
    await emu.control('config', { signingKeyRollover: false });
  }
});

test('gzip when asked, and pages arrive in many writes; stats count gzip pages and bytes sent', async () => {
  const { access_token: at } = await adminToken();
  const stats = async () => (await emu.call('GET', '/_emulator/stats')).json;
  const start = await stats();
  const zipped = await emu.invoke(at, 'Get-Mailbox', { ResultSize: 1000 }, { headers: { 'accept-encoding': 'gzip' } });
  assert.equal(zipped.headers['content-encoding'], 'gzip');
  assert.equal(zipped.json.value.length, 1000);
  const afterZipped = await stats();
  const plain = await emu.invoke(at, 'Get-Mailbox', { ResultSize: 1000 });
  assert.equal(plain.headers['content-encoding'], undefined);
  assert.equal(plain.headers['transfer-encoding'], 'chunked');
  assert.ok(plain.reads > 5, `reads ${plain.reads}`);
  const afterPlain = await stats();

  assert.equal(afterZipped.pagesServedGzip - start.pagesServedGzip, 1);
  assert.equal(afterPlain.pagesServedGzip, afterZipped.pagesServedGzip);
  const zippedBytes = afterZipped.pageBytesSent - start.pageBytesSent;
  const plainBytes = afterPlain.pageBytesSent - afterZipped.pageBytesSent;
  // The plain page's bytes are its JSON text plus headers and chunk framing.
  assert.ok(plainBytes > Buffer.byteLength(plain.text), `${plainBytes} of ${Buffer.byteLength(plain.text)}`);
  assert.ok(zippedBytes > 0 && zippedBytes < plainBytes / 4, `gzip ${zippedBytes}, plain ${plainBytes}`);
});

test('Exchange faults: status, transient, malformed, reset, hang, claims', async () => {
  const { access_token: at } = await adminToken();
  const get = () => emu.invoke(at, 'Get-Mailbox', { ResultSize: 10 });
  await emu.control('config', {
    faults: {
      exchange: [
        { kind: 'status', status: 429, retryAfter: 3 },
        { kind: 'status', status: 503, body: 'You have reached the maximum number of concurrent requests per tenant' },
        { kind: 'transient', exception: 'ServerInMMException' },
        { kind: 'malformed' },
        { kind: 'hang', ms: 300 },
        { kind: 'claims' },
        { kind: 'forbidden' },
      ],
    },
  });
  const throttled = await get();
  assert.equal(throttled.status, 429);
  assert.equal(throttled.headers['retry-after'], '3');
  assert.equal(throttled.json.error.code, 'TooManyRequests');
  const plain = await get();
  assert.equal(plain.status, 503);
  assert.match(plain.headers['content-type'], /^text\/plain/);
  assertExchangeError(await get(), 500, 'ServerInMMException');
  const malformed = await get();
  assert.equal(malformed.status, 200);
  assert.equal(malformed.json, undefined);
  assert.ok(malformed.text.startsWith('{"@odata.context"'));
  const started = Date.now();
  const slow = await get();
  assert.equal(slow.status, 200);
  assert.ok(Date.now() - started >= 290);
  const challenge = await get();
  assert.equal(challenge.status, 401);
  const claims = /claims="([^"]+)"/.exec(challenge.headers['www-authenticate'])[1];
  assert.ok(JSON.parse(Buffer.from(claims, 'base64').toString()).access_token.nbf.essential);
  assert.equal((await get()).status, 403);
  assert.equal((await get()).status, 200);

  await emu.control('config', { faults: { exchange: [{ kind: 'reset', afterObjects: 3 }] } });
  await assert.rejects(get(), /aborted|ECONNRESET|socket hang up/);
  assert.equal((await get()).status, 200);
  const stats = (await emu.call('GET', '/_emulator/stats')).json;
  assert.ok(stats.faultsFired >= 8);
  assert.ok(stats.unauthorized >= 1);
});

test('token endpoint faults: malformed and 500', async () => {
  await emu.control('config', { faults: { token: [{ kind: 'malformed' }, { kind: 'status', status: 500 }] } });
  const dc = (await emu.deviceCode()).json;
  const poll = () => emu.token({ grant_type: DEVICE_GRANT, client_id: CLIENT_ID, device_code: dc.device_code });
  const malformed = await poll();
  assert.equal(malformed.status, 200);
  assert.equal(malformed.json, undefined);
  assert.equal((await poll()).status, 500);
  await sleep(1000);
  assertAadError(await poll(), 'authorization_pending', 70016);
});

test('control: config validation, stats, reset', async () => {
  assert.equal((await emu.control('config', { bogus: 1 })).status, 400);
  assert.equal((await emu.control('config', { faults: { exchange: [{}] } })).status, 400);
  const stats = (await emu.call('GET', '/_emulator/stats')).json;
  assert.ok(stats.tokenRequests.device_code > 0);
  assert.ok(stats.devicecodeRequests > 0);
  assert.ok(stats.exchangeRequests > 0 && stats.pagesServed > 0);
  await emu.control('config', { faults: { exchange: [{ kind: 'status', status: 500 }] } });
  await emu.control('reset');
  const after = (await emu.call('GET', '/_emulator/stats')).json;
  assert.equal(after.exchangeRequests, 0);
  assert.equal((await emu.call('GET', '/_emulator/config')).json.faultsQueued.exchange, 0);
});

test('100,000 mailboxes stream in 100 pages, counted without parsing whole pages at once', async () => {
  const big = await startEmulator(dir, ['--mailboxes', '100000', '--auto-approve', 'admin@contoso.onmicrosoft.com']);
  try {
    const dc = (await big.deviceCode()).json;
    let token;
    for (let i = 0; i < 20 && !token; i += 1) {
      const res = await big.token({ grant_type: DEVICE_GRANT, client_id: CLIENT_ID, device_code: dc.device_code });
      if (res.status === 200) token = res.json.access_token;
      else await sleep(100);
    }
    assert.ok(token, 'auto-approve gave a token');
    const started = Date.now();
    let url = `${big.info.url}/adminapi/beta/contoso.onmicrosoft.com/InvokeCommand`;
    let count = 0;
    let pages = 0;
    const body = JSON.stringify({ CmdletInput: { CmdletName: 'Get-Mailbox', Parameters: { ResultSize: 'Unlimited' } } });
    while (url) {
      // Count "Name" keys at object starts as the bytes arrive; keep only a
      // small tail across chunk boundaries, and the end for the nextLink.
      const { objects, tail } = await new Promise((resolve, reject) => {
        const req = https.request(url, {
          method: 'POST', agent: big.agent,
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        }, (res) => {
          const marker = '{"Name":"';
          let n = 0;
          let carry = '';
          let tail = '';
          res.setEncoding('utf8');
          res.on('data', (chunk) => {
            // carry is shorter than the marker, so nothing is counted twice.
            const text = carry + chunk;
            n += text.split(marker).length - 1;
            carry = text.slice(-(marker.length - 1));
            tail = (tail + chunk).slice(-600);
          });
          res.on('end', () => resolve({ objects: n, tail }));
          res.on('error', reject);
        });
        req.on('error', reject);
        req.end(body);
      });
      count += objects;
      pages += 1;
      const next = /"@odata\.nextLink":"([^"]+)"/.exec(tail);
      url = next ? next[1] : null;
    }
    assert.equal(count, 100000);
    assert.equal(pages, 100);
    assert.ok(Date.now() - started < 15000, `took ${Date.now() - started} ms`);
  } finally {
    await big.stop();
  }
});

test('exits when its stdin closes', async () => {
  const short = await startEmulator(dir, []);
  short.child.stdin.end();
  const [code] = await once(short.child, 'exit');
  assert.equal(code, 0);
  short.agent.destroy();
});

test('authorization code + PKCE: redirect with code, state and iss; single-use codes', async () => {
  const verifier = 'a'.repeat(20) + randomUUID();
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  const authorizeUrl = (extra = {}) => `/organizations/oauth2/v2.0/authorize?${new URLSearchParams({
    client_id: CLIENT_ID, response_type: 'code', redirect_uri: 'http://localhost:5555', scope: EXO_SCOPE,
    state: 'st-1', nonce: 'n-1', code_challenge: challenge, code_challenge_method: 'S256', ...extra,
  })}`;
  const redeem = (code, codeVerifier = verifier) => emu.token({
    grant_type: 'authorization_code', client_id: CLIENT_ID, code, redirect_uri: 'http://localhost:5555',
    code_verifier: codeVerifier, scope: EXO_SCOPE,
  });
  await emu.control('config', { autoApprove: 'admin@contoso.onmicrosoft.com' });
  try {
    const res = await emu.call('GET', authorizeUrl());
    assert.equal(res.status, 302);
    const location = new URL(res.headers.location);
    assert.equal(`${location.origin}${location.pathname}`, 'http://localhost:5555/');
    assert.equal(location.searchParams.get('state'), 'st-1');
    assert.equal(location.searchParams.get('iss'), `${emu.info.url}/${CONTOSO}/v2.0`);
    const code = location.searchParams.get('code');
    assertAadError(await redeem(code, 'wrong-verifier-wrong-verifier-wrong-verifier'), 'invalid_grant', 501481);
    const ok = await redeem(code);
    assert.equal(ok.status, 200, describe(ok));
    assert.equal(jwtParts(ok.json.id_token).payload.nonce, 'n-1');
    assertAadError(await redeem(code), 'invalid_grant', 54005);
    const evil = await emu.call('GET', authorizeUrl({ redirect_uri: 'https://evil.example/cb' }));
    assert.equal(evil.status, 400);
    assert.match(evil.text, /AADSTS50011/);
  } finally {
    await emu.control('config', { autoApprove: null });
  }
  const silent = await emu.call('GET', authorizeUrl({ prompt: 'none' }));
  assert.equal(new URL(silent.headers.location).searchParams.get('error'), 'login_required');
  // A person at the sign-in page: accept, then cancel.
  for (const action of ['accept', 'cancel']) {
    const page = await emu.call('GET', authorizeUrl());
    assert.equal(page.status, 200);
    const requestId = /name="request" value="([^"]+)"/.exec(page.text)[1];
    const answer = await emu.call('POST', '/_authorize', { form: { request: requestId, upn: 'user@contoso.onmicrosoft.com', action } });
    assert.equal(answer.status, 302);
    const params = new URL(answer.headers.location).searchParams;
    if (action === 'accept') {
      const t = await redeem(params.get('code'));
      assert.equal(jwtParts(t.json.access_token).payload.upn, 'user@contoso.onmicrosoft.com');
    } else {
      assert.equal(params.get('error'), 'access_denied');
      assert.equal(params.get('state'), 'st-1');
    }
  }
});

test('client credentials: certificate assertions (PS256, RS256), replay, secret', async () => {
  const { appId, appKeyFile, appCertFile, url } = emu.info;
  const key = createPrivateKey(readFileSync(appKeyFile));
  const cert = new X509Certificate(readFileSync(appCertFile));
  const now = () => Math.floor(Date.now() / 1000);
  const assertion = ({ alg = 'PS256', aud = `${url}/${CONTOSO}/oauth2/v2.0/token`, signingKey = key,
    nbf = now(), exp = nbf + 600 } = {}) => {
    const header = alg === 'PS256'
      ? { alg, typ: 'JWT', 'x5t#S256': createHash('sha256').update(cert.raw).digest('base64url') }
      : { alg, typ: 'JWT', x5t: createHash('sha1').update(cert.raw).digest('base64url') };
    const claims = { aud, iss: appId, sub: appId, jti: randomUUID(), nbf, iat: nbf, exp };
    const input = `${Buffer.from(JSON.stringify(header)).toString('base64url')}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
    const options = alg === 'PS256'
      ? { key: signingKey, padding: 6 /* RSA_PKCS1_PSS_PADDING */, saltLength: 32 } : signingKey;
    return `${input}.${sign('sha256', Buffer.from(input), options).toString('base64url')}`;
  };
  const request = (form, tenant = CONTOSO) => emu.token({
    grant_type: 'client_credentials', client_id: appId, scope: 'https://outlook.office365.com/.default', ...form,
  }, tenant);
  const withAssertion = (a, tenant) => request({
    client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: a,
  }, tenant);

  const first = assertion();
  const ok = await withAssertion(first);
  assert.equal(ok.status, 200, describe(ok));
  assert.equal(ok.json.refresh_token, undefined);
  assert.equal(ok.json.id_token, undefined);
  const claims = jwtParts(ok.json.access_token).payload;
  assert.equal(claims.idtyp, 'app');
  assert.deepEqual(claims.roles, ['Exchange.ManageAsApp']);
  assert.equal(claims.appid, appId);
  const mailboxes = await emu.invoke(ok.json.access_token, 'Get-Mailbox', { ResultSize: 5 });
  assert.equal(mailboxes.json.value.length, 5);
  assertAadError(await withAssertion(first), 'invalid_client', 700023, 401);
  assert.equal((await withAssertion(assertion({ alg: 'RS256' }), 'contoso.onmicrosoft.com')).status, 200);
  const strangerKey = createPrivateKey(readFileSync(join(dir, 'signing2-key.pem')));
  assertAadError(await withAssertion(assertion({ signingKey: strangerKey })), 'invalid_client', 700027, 401);
  assertAadError(await withAssertion(assertion({ aud: 'https://elsewhere.example/token' })), 'invalid_client', 700021, 401);
  assertAadError(await withAssertion(assertion(), 'organizations'), 'invalid_request', 90009);
  // Time checks, with the service's 5 minutes of clock skew.
  const expired = await withAssertion(assertion({ nbf: now() - 3600, exp: now() - 600 }));
  assertAadError(expired, 'invalid_client', 700024, 401);
  assert.match(expired.json.error_description, /Client assertion is not within its valid time range/);
  assertAadError(await withAssertion(assertion({ nbf: now() + 900 })), 'invalid_client', 700024, 401);
  assert.equal((await withAssertion(assertion({ nbf: now() - 3600, exp: now() - 60 }))).status, 200);
  assert.equal((await withAssertion(assertion({ nbf: now() + 60 }))).status, 200);
  // The service sets no limit on exp, so a day-long assertion is accepted.
  assert.equal((await withAssertion(assertion({ exp: now() + 86400 }))).status, 200);
  const withSecret = await request({ client_secret: 'emulator-app-secret-1' });
  assert.equal(withSecret.status, 200);
  // appidacr says how the app proved itself: 1 secret, 2 certificate.
  assert.equal(jwtParts(withSecret.json.access_token).payload.appidacr, '1');
  assertAadError(await request({ client_secret: 'wrong' }), 'invalid_client', 7000215, 401);
  assertAadError(await request({ client_secret: 'emulator-app-secret-1', scope: 'https://outlook.office365.com/AdminApi.AccessAsUser.All' }), 'invalid_scope', 1002012);
});

test('managed identity: App Service and IMDS endpoints', async () => {
  const { info } = emu;
  const resource = 'https://outlook.office365.com';
  const appService = await emu.call('GET', `${info.identityEndpoint}?resource=${encodeURIComponent(resource)}&api-version=2019-08-01`,
    { headers: { 'x-identity-header': info.identityHeader } });
  assert.equal(appService.status, 200, describe(appService));
  assert.match(appService.json.expires_on, /^\d+$/);
  assert.equal(appService.json.resource, resource);
  const claims = jwtParts(appService.json.access_token).payload;
  assert.equal(claims.idtyp, 'app');
  assert.equal(claims.tid, CONTOSO);
  assert.equal((await emu.invoke(appService.json.access_token, 'Get-Mailbox', { ResultSize: 1 })).status, 200);
  const noHeader = await emu.call('GET', `${info.identityEndpoint}?resource=${resource}&api-version=2019-08-01`);
  assert.equal(noHeader.status, 400);
  const imdsUrl = `${info.imdsEndpoint}?api-version=2018-02-01&resource=${encodeURIComponent(resource)}`;
  const imds = await emu.call('GET', imdsUrl, { headers: { metadata: 'true' } });
  assert.equal(imds.status, 200, describe(imds));
  assert.match(imds.json.expires_in, /^\d+$/);
  // MSAL asks an overridden IMDS address with a trailing slash.
  const slash = await emu.call('GET', imdsUrl.replace('/token?', '/token/?'), { headers: { metadata: 'true' } });
  assert.equal(slash.status, 200, describe(slash));
  assert.equal((await emu.call('GET', imdsUrl)).status, 400);
  assert.equal((await emu.call('GET', `${imdsUrl}&client_id=${randomUUID()}`, { headers: { metadata: 'true' } })).status, 400);
  await emu.control('config', { faults: { managedidentity: [{ kind: 'status', status: 429, retryAfter: 1 }] } });
  assert.equal((await emu.call('GET', imdsUrl, { headers: { metadata: 'true' } })).status, 429);
  assert.equal((await emu.call('GET', imdsUrl, { headers: { metadata: 'true' } })).status, 200);
});
