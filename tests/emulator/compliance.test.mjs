// The Security & Compliance endpoint (compliance.mjs): its own host and
// token resource, the audience checked both ways, and the modelled cmdlets.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmulator, jwtParts, CLIENT_ID, DEVICE_GRANT } from './harness.mjs';

const SCC_SCOPE = 'https://ps.compliance.protection.outlook.com/.default openid profile offline_access';
let dir;
let emu;
let exchangeToken;
let complianceToken;
let sccUrl;

async function signIn(scope) {
  const dc = (await emu.deviceCode({ scope })).json;
  await emu.control('device/approve', { userCode: dc.user_code, upn: 'admin@contoso.onmicrosoft.com' });
  const answer = await emu.token({ grant_type: DEVICE_GRANT, client_id: CLIENT_ID, device_code: dc.device_code });
  assert.equal(answer.status, 200, answer.text);
  return answer.json.access_token;
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'exo-emu-scc-'));
  emu = await startEmulator(dir, ['--mailboxes', '10']);
  sccUrl = `${emu.info.url.replace('127.0.0.1', 'localhost')}/adminapi/beta/${emu.info.tenantId}/InvokeCommand`;
  exchangeToken = (await emu.signIn()).json.access_token;
  complianceToken = await signIn(SCC_SCOPE);
});

after(async () => {
  await emu.stop();
  rmSync(dir, { recursive: true, force: true });
});

const scc = (cmdlet, parameters = {}, token = complianceToken) => emu.invoke(token, cmdlet, parameters, { url: sccUrl });

async function values(cmdlet, parameters) {
  const res = await scc(cmdlet, parameters);
  assert.equal(res.status, 200, `${cmdlet}: ${res.text}`);
  assert.match(res.json['@odata.context'], /^https:\/\/localhost:\d+\/adminapi\/beta\//);
  return res.json.value;
}

test('tokens for the S&C resource carry its audience', () => {
  assert.equal(jwtParts(complianceToken).payload.aud, 'https://ps.compliance.protection.outlook.com');
  assert.equal(jwtParts(exchangeToken).payload.aud, 'https://outlook.office365.com');
});

test('each endpoint refuses the other product\'s token', async () => {
  const onScc = await scc('Get-Label', {}, exchangeToken);
  assert.equal(onScc.status, 401);
  assert.match(onScc.headers['x-ms-diagnostics'], /audience claim value is invalid 'https:\/\/outlook\.office365\.com'/);
  const onExchange = await emu.invoke(complianceToken, 'Get-OrganizationConfig');
  assert.equal(onExchange.status, 401);
  assert.match(onExchange.headers['x-ms-diagnostics'], /ps\.compliance\.protection\.outlook\.com/);
  // Each token works where it belongs.
  assert.equal((await emu.invoke(exchangeToken, 'Get-OrganizationConfig')).status, 200);
  assert.equal((await scc('Get-Label')).status, 200);
});

test('Exchange cmdlets are unknown on the S&C host, S&C cmdlets unknown on Exchange', async () => {
  const res = await scc('Get-Mailbox');
  assert.equal(res.status, 400);
  assert.equal(res.headers['x-exceptiontype'], 'CommandNotFoundException');
  assert.equal((await emu.invoke(exchangeToken, 'Get-ComplianceSearch')).status, 400);
});

test('compliance searches: New, Start, Get (completed), actions', async () => {
  const created = await values('New-ComplianceSearch', { Name: 'Case 1', ContentMatchQuery: 'subject:"invoice"', ExchangeLocation: ['All'] });
  assert.equal(created[0].Status, 'NotStarted');
  assert.equal((await scc('New-ComplianceSearch', { Name: 'Case 1' })).status, 400);
  const early = await scc('New-ComplianceSearchAction', { SearchName: 'Case 1', Preview: true });
  assert.equal(early.status, 400, 'no action before the search completes');
  assert.deepEqual(await values('Start-ComplianceSearch', { Identity: 'Case 1' }), []);
  const [search] = await values('Get-ComplianceSearch', { Identity: 'Case 1' });
  assert.equal(search.Status, 'Completed');
  assert.equal(search.RunBy, 'admin@contoso.onmicrosoft.com');
  assert.ok(search.Items > 0);
  const [action] = await values('New-ComplianceSearchAction', { SearchName: 'Case 1', Purge: true, PurgeType: 'SoftDelete' });
  assert.equal(action.Name, 'Case 1_Purge');
  assert.equal(action.PurgeType, 'SoftDelete');
  assert.equal((await values('Get-ComplianceSearchAction')).length, 1);
  assert.equal((await scc('Get-ComplianceSearch', { Identity: 'nope' })).status, 404);
  assert.equal((await scc('Start-ComplianceSearch', { Identity: 'nope' })).status, 404);
});

test('policies and labels', async () => {
  assert.equal((await values('Get-RetentionCompliancePolicy')).length, 2);
  assert.equal((await values('Get-DlpCompliancePolicy', { Identity: 'U.S. Financial Data' }))[0].Mode, 'Enable');
  const labels = await values('Get-Label');
  assert.deepEqual(labels.map((l) => l.Name), ['Public', 'Confidential']);
  assert.equal((await values('Get-Label', { Identity: labels[1].ImmutableId }))[0].Name, 'Confidential');
});

test('the URL tenant must be the token\'s', async () => {
  const url = sccUrl.replace(emu.info.tenantId, 'fabrikam.onmicrosoft.com');
  const res = await emu.invoke(complianceToken, 'Get-Label', {}, { url });
  assert.ok(res.status >= 400 && res.status < 500, res.text);
});
