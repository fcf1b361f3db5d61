#!/usr/bin/env node
// The emulator: Microsoft identity platform + Exchange admin REST on one
// HTTPS port of 127.0.0.1. See README.md for the contract.
import { createServer } from 'node:https';
import { X509Certificate } from 'node:crypto';
import { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import { ensureCerts } from './certs.mjs';
import { writeSecureStringKey } from './values.mjs';
import { Signer } from './tokens.mjs';
import { TENANTS, APPS, CONTOSO_APP, EXCHANGE_PUBLIC_CLIENT, MANAGED_IDENTITY, IDENTITY_HEADER } from './directory.mjs';
import { initialConfig, emptyFaults, emptyStats } from './state.mjs';
import { handleIdentity } from './identity.mjs';
import { handleDeviceLogin } from './devicelogin.mjs';
import { handleExchange } from './exchange.mjs';
import { handleCompliance } from './compliance.mjs';
import { handleControl } from './control.mjs';
import { authorizeAnswer } from './authorize.mjs';
import { handleManagedIdentity } from './managed-identity.mjs';
import { sendJson, sendText, BodyTooLarge } from './http.mjs';

const USAGE = `usage: node server.mjs --dir DIR [--port N] [--mailboxes N] [--token-lifetime S]
  [--device-interval S] [--device-expires S] [--auto-approve UPN] [--auto-approve-delay MS]
  [--ignore-stdin]`;

function fail(message) {
  process.stderr.write(`${message}\n${USAGE}\n`);
  process.exit(2);
}

function readOptions(argv) {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        dir: { type: 'string' },
        port: { type: 'string', default: '0' },
        mailboxes: { type: 'string', default: '2500' },
        'token-lifetime': { type: 'string', default: '3600' },
        'device-interval': { type: 'string', default: '5' },
        'device-expires': { type: 'string', default: '900' },
        'auto-approve': { type: 'string' },
        'auto-approve-delay': { type: 'string', default: '0' },
        'ignore-stdin': { type: 'boolean', default: false },
        help: { type: 'boolean', default: false },
      },
    }));
  } catch (err) {
    fail(err.message);
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  if (!values.dir) fail('--dir is required');
  const number = (name, min, max) => {
    const n = Number(values[name]);
    if (!/^\d+$/.test(values[name]) || n < min || n > max) fail(`--${name} must be an integer in ${min}..${max}`);
    return n;
  };
  return {
    dir: resolve(values.dir),
    port: number('port', 0, 65535),
    mailboxes: number('mailboxes', 0, 10000000),
    tokenLifetime: number('token-lifetime', 1, 100000),
    deviceInterval: number('device-interval', 0, 3600),
    deviceExpires: number('device-expires', 1, 86400),
    autoApprove: values['auto-approve'] || null,
    autoApproveDelayMs: number('auto-approve-delay', 0, 3600000),
    ignoreStdin: values['ignore-stdin'],
  };
}

function createEmulator(options, pki) {
  const signers = [new Signer(pki.signingKey, pki.signingCert), new Signer(pki.signing2Key, pki.signing2Cert)];
  APPS.find((a) => a.appId === CONTOSO_APP).certificates = [new X509Certificate(pki.appCert)];
  const emu = {
    options,
    baseUrl: '',
    config: initialConfig(options),
    stats: emptyStats(),
    faults: emptyFaults(),
    activeSigner: () => (emu.config.signingKeyRollover ? signers[1] : signers[0]),
    publishedSigners: () => (emu.config.signingKeyRollover ? signers : [signers[0]]),
    allSigners: () => signers,
    deviceCodes: new Map(),
    deviceCodesByUserCode: new Map(),
    refreshTokens: new Map(),
    tokenSerial: 0,
    authCodes: new Map(),
    pendingAuthorizations: new Map(),
    usedJtis: new Map(),
    issuedUtis: new Set(),
    revokedUtis: new Set(),
    tokensValidFrom: new Map(),
    mailboxCounts: new Map(TENANTS.map((t) => [t.id, t.name === 'contoso' ? options.mailboxes : t.defaultMailboxes])),
    // tenant id -> TenantStore (tenant-store.mjs), made on first use
    tenantStores: new Map(),
    // tenant id -> Exchange requests in flight / this second (exchangeThrottle)
    exchangeLoad: new Map(),
    // Exchange requests being answered now (all tenants)
    exchangeInFlight: 0,
    // tenant id -> {windowStart, used} (config exchangeRateLimit)
    rateLimits: new Map(),
    // config fastPages: listing pages serialized once (exchange.mjs)
    fastPages: new Map(),
  };
  return emu;
}

async function route(emu, req, res) {
  const url = new URL(req.url, emu.baseUrl);
  if (await handleControl(emu, req, res, url)) return;
  if (url.pathname === '/devicelogin') {
    await handleDeviceLogin(emu, req, res);
    return;
  }
  if (url.pathname === '/_authorize' && req.method === 'POST') {
    await authorizeAnswer(emu, req, res);
    return;
  }
  if (await handleCompliance(emu, req, res, url)) return;
  if (await handleExchange(emu, req, res, url)) return;
  if (await handleManagedIdentity(emu, req, res, url)) return;
  if (url.pathname === '/error') {
    sendText(res, 200, `AADSTS${url.searchParams.get('code') || ''}: see the error_description of the answer.`);
    return;
  }
  if (await handleIdentity(emu, req, res, url)) return;
  sendJson(res, 404, { error: 'not_found', error_description: `No route for ${req.method} ${url.pathname}` });
}

function logRequest(req, res, started) {
  res.on('finish', () => {
    const path = (req.url || '').split('?')[0];
    process.stderr.write(`${req.method} ${path} ${res.statusCode} ${Date.now() - started}ms\n`);
  });
}

function main() {
  const options = readOptions(process.argv.slice(2));
  const pki = ensureCerts(options.dir);
  const exoPublicKeyFile = writeSecureStringKey(options.dir);
  const emu = createEmulator(options, pki);
  const server = createServer({ key: pki.serverKey, cert: pki.serverCert }, (req, res) => {
    logRequest(req, res, Date.now());
    route(emu, req, res).catch((err) => {
      if (err instanceof BodyTooLarge) {
        if (!res.headersSent) sendJson(res, 413, { error: 'request body too large' });
        return;
      }
      process.stderr.write(`error: ${err.stack || err}\n`);
      if (!res.headersSent) sendJson(res, 500, { error: 'emulator_error', error_description: String(err.message) });
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 30000;
  server.on('error', (err) => {
    process.stderr.write(`cannot listen: ${err.message}\n`);
    process.exit(1);
  });
  server.listen(options.port, '127.0.0.1', () => {
    const { port } = server.address();
    emu.baseUrl = `https://127.0.0.1:${port}`;
    const contoso = TENANTS[0];
    process.stdout.write(`${JSON.stringify({
      url: emu.baseUrl,
      caFile: pki.files.ca,
      exoPublicKeyFile,
      authority: `${emu.baseUrl}/organizations`,
      tenantId: contoso.id,
      domain: contoso.domain,
      pid: process.pid,
      clientId: EXCHANGE_PUBLIC_CLIENT,
      appId: CONTOSO_APP,
      appCertFile: pki.files.app,
      appKeyFile: pki.files.appKey,
      identityEndpoint: `${emu.baseUrl}/msi/token`,
      identityHeader: IDENTITY_HEADER,
      imdsEndpoint: `${emu.baseUrl}/metadata/identity/oauth2/token`,
      managedIdentityClientId: MANAGED_IDENTITY,
    })}\n`);
  });
  const stop = () => {
    server.close();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  if (!options.ignoreStdin) {
    process.stdin.on('end', stop);
    process.stdin.on('error', stop);
    process.stdin.resume();
  }
}

main();
