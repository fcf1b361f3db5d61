// MSAL's managed identity through IMDS against the emulator. A file of its
// own: MSAL keeps the first managed identity source it finds for the life of
// the process (msal.test.mjs uses App Service).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import https from 'node:https';
import { ManagedIdentityApplication, LogLevel } from '@azure/msal-node';
import { startEmulator, jwtParts } from '../emulator/harness.mjs';
import { msalNetworkClient } from './net.mjs';

let dir;
let emu;
let agent;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'peers-imds-'));
  emu = await startEmulator(dir, ['--mailboxes', '5']);
  agent = new https.Agent({ ca: readFileSync(emu.info.caFile) });
});

after(async () => {
  agent?.destroy();
  await emu?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('managed identity, IMDS (address overridden to the emulator)', async () => {
  // Test data: the emulator's URL, no secret. This process only.
  process.env.AZURE_POD_IDENTITY_AUTHORITY_HOST = emu.info.url;
  const seen = [];
  const app = new ManagedIdentityApplication({
    system: { networkClient: msalNetworkClient(agent, seen), loggerOptions: { piiLoggingEnabled: false, logLevel: LogLevel.Error } },
  });
  assert.equal(app.getManagedIdentitySource(), 'DefaultToImds');
  const result = await app.acquireToken({ resource: 'https://outlook.office365.com' });
  // MSAL canonicalises the overridden address with a trailing slash.
  assert.deepEqual(seen, ['GET /metadata/identity/oauth2/token/']);
  const claims = jwtParts(result.accessToken).payload;
  assert.equal(claims.appid, emu.info.managedIdentityClientId);
  assert.equal(claims.idtyp, 'app');
  assert.ok(result.expiresOn.getTime() > Date.now());
  // A second call comes from MSAL's cache.
  assert.equal((await app.acquireToken({ resource: 'https://outlook.office365.com' })).fromCache, true);
  assert.equal((await emu.invoke(result.accessToken, 'Get-Mailbox', { ResultSize: 1 })).status, 200);
});
