// The identity platform's v2.0 endpoints: discovery, keys, instance
// discovery, device code, token; plus the /devicelogin page (devicelogin.mjs).
import { randomBytes, randomInt } from 'node:crypto';
import { AAD, sendAadError, identityHeaders } from './aad-errors.mjs';
import { resolveAuthority, findApp, findUser, parseScope } from './directory.mjs';
import { GRANTS, GRANT_NAMES } from './grants.mjs';
import { scopeError } from './policy.mjs';
import { authorize } from './authorize.mjs';
import { issueTokens } from './issue.mjs';
import { takeFault, applySimpleFault } from './faults.mjs';
import { readBody, parseForm, sendJson, sendText } from './http.mjs';

// Routes under /{tenant}/...; the value is the handler.
const ROUTES = new Map([
  ['GET v2.0/.well-known/openid-configuration', discovery],
  ['GET discovery/v2.0/keys', keys],
  ['GET discovery/keys', keys],
  ['GET discovery/instance', instanceDiscovery],
  ['POST oauth2/v2.0/devicecode', deviceCode],
  ['GET oauth2/v2.0/devicecode', postOnly],
  ['POST oauth2/v2.0/token', token],
  ['GET oauth2/v2.0/token', postOnly],
  ['GET oauth2/v2.0/authorize', authorize],
  ['GET oauth2/v2.0/logout', logout],
]);

// Answers true when it handled the request.
export async function handleIdentity(emu, req, res, url) {
  const match = /^\/([^/]+)\/(.+)$/.exec(url.pathname);
  if (!match) return false;
  const handler = ROUTES.get(`${req.method} ${match[2]}`);
  if (!handler) return false;
  const segment = decodeURIComponent(match[1]);
  const authority = resolveAuthority(segment);
  if (!authority) {
    sendAadError(req, res, emu.baseUrl, AAD.invalidTenant(segment));
    return true;
  }
  await handler(emu, req, res, authority, url);
  return true;
}

function postOnly(emu, req, res) {
  sendAadError(req, res, emu.baseUrl, AAD.postOnly());
}

function logout(emu, req, res) {
  sendText(res, 200, 'You have signed out of your account.');
}

// Endpoint segment as AAD writes it: the tenant GUID for a named tenant.
function endpointSegment(authority) {
  return authority.multi ? authority.segment : authority.tenant.id;
}

export function issuerFor(emu, authority) {
  return `${emu.baseUrl}/${authority.multi ? '{tenantid}' : authority.tenant.id}/v2.0`;
}

async function discovery(emu, req, res, authority) {
  emu.stats.discoveryRequests += 1;
  const base = `${emu.baseUrl}/${endpointSegment(authority)}`;
  const doc = {
    token_endpoint: `${base}/oauth2/v2.0/token`,
    token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt', 'client_secret_basic'],
    jwks_uri: `${base}/discovery/v2.0/keys`,
    response_modes_supported: ['query', 'fragment', 'form_post'],
    subject_types_supported: ['pairwise'],
    id_token_signing_alg_values_supported: ['RS256'],
    response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
    scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
    issuer: issuerFor(emu, authority),
    request_uri_parameter_supported: false,
    userinfo_endpoint: 'https://graph.microsoft.com/oidc/userinfo',
    authorization_endpoint: `${base}/oauth2/v2.0/authorize`,
    device_authorization_endpoint: `${base}/oauth2/v2.0/devicecode`,
    http_logout_supported: true,
    frontchannel_logout_supported: true,
    end_session_endpoint: `${base}/oauth2/v2.0/logout`,
    claims_supported: ['sub', 'iss', 'cloud_instance_name', 'cloud_instance_host_name', 'cloud_graph_host_name',
      'msgraph_host', 'aud', 'exp', 'iat', 'auth_time', 'acr', 'nonce', 'preferred_username', 'name', 'tid',
      'ver', 'at_hash', 'c_hash', 'email'],
    kerberos_endpoint: `${base}/kerberos`,
    tenant_region_scope: authority.multi ? null : 'NA',
    cloud_instance_name: 'microsoftonline.com',
    cloud_graph_host_name: 'graph.windows.net',
    msgraph_host: 'graph.microsoft.com',
    rbac_url: 'https://pas.windows.net',
  };
  if (await applySimpleFault(takeFault(emu, 'discovery'), res, doc)) return;
  sendJson(res, 200, doc, { 'Cache-Control': 'max-age=86400, private' });
}

async function keys(emu, req, res, authority) {
  emu.stats.keysRequests += 1;
  const issuer = issuerFor(emu, authority);
  const doc = { keys: emu.publishedSigners().map((s) => s.jwk(issuer)) };
  if (await applySimpleFault(takeFault(emu, 'keys'), res, doc)) return;
  sendJson(res, 200, doc, { 'Cache-Control': 'max-age=86400, private' });
}

// MSAL asks this before trusting an authority host it does not know.
function instanceDiscovery(emu, req, res) {
  const host = new URL(emu.baseUrl).host;
  sendJson(res, 200, {
    tenant_discovery_endpoint: `${emu.baseUrl}/common/v2.0/.well-known/openid-configuration`,
    'api-version': '1.1',
    metadata: [{ preferred_network: host, preferred_cache: host, aliases: [host] }],
  });
}

// Looks the client up; answers an AAD error entry or null.
function clientError(app, clientId, authority) {
  const where = authority.tenant ? authority.tenant.displayName : authority.segment;
  if (!clientId) return AAD.missingParameter('client_id');
  if (!app) return AAD.unknownClient(clientId, where);
  if (app.tenantId && !authority.multi && app.tenantId !== authority.tenant.id) {
    return AAD.unknownClient(clientId, where);
  }
  return null;
}

// Nine characters, no look-alikes (0/O, 1/I), unique among live codes.
function newUserCode(emu) {
  const alphabet = 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789';
  for (;;) {
    let code = '';
    for (let i = 0; i < 9; i += 1) code += alphabet[randomInt(alphabet.length)];
    if (!emu.deviceCodesByUserCode.has(code)) return code;
  }
}

async function deviceCode(emu, req, res, authority) {
  emu.stats.devicecodeRequests += 1;
  const form = parseForm(await readBody(req));
  const app = findApp(form.client_id);
  const problem = clientError(app, form.client_id, authority) || (app.publicClient ? null : AAD.notPublicClient());
  if (problem) {
    sendAadError(req, res, emu.baseUrl, problem);
    return;
  }
  const scope = parseScope(form.scope);
  if (scope.error) {
    sendAadError(req, res, emu.baseUrl, scopeError(scope.error, authority));
    return;
  }
  const { config } = emu;
  const dc = {
    deviceCode: `DAQABIQEAAAD${randomBytes(96).toString('base64url')}`,
    userCode: newUserCode(emu),
    clientId: app.appId,
    app,
    authority,
    scope,
    createdAt: Date.now(),
    expiresAt: Date.now() + config.deviceExpires * 1000,
    interval: config.deviceInterval,
    status: 'pending',
    lastPoll: 0,
    user: null,
    redeemed: false,
  };
  const verificationUri = `${emu.baseUrl}/devicelogin`;
  const body = {
    user_code: dc.userCode,
    device_code: dc.deviceCode,
    verification_uri: verificationUri,
    expires_in: config.deviceExpires,
    interval: config.deviceInterval,
    message: `To sign in, use a web browser to open the page ${verificationUri} and enter the code `
      + `${dc.userCode} to authenticate.`,
  };
  if (await applySimpleFault(takeFault(emu, 'devicecode'), res, body)) return;
  emu.deviceCodes.set(dc.deviceCode, dc);
  emu.deviceCodesByUserCode.set(dc.userCode, dc);
  if (config.autoApprove) {
    const upn = config.autoApprove;
    setTimeout(() => {
      const outcome = approveDeviceCode(emu, dc.userCode, upn);
      if (outcome) process.stderr.write(`auto-approve ${dc.userCode}: ${outcome}\n`);
    }, config.autoApproveDelayMs).unref();
  }
  sendJson(res, 200, body, identityHeaders(req));
}

// The "phone" side of the device flow. Answers an error text or null.
function pendingCode(emu, userCode) {
  const key = String(userCode || '').toUpperCase().replace(/[\s-]/g, '');
  const dc = emu.deviceCodesByUserCode.get(key);
  if (!dc) return { error: `no device code with user code '${userCode}'` };
  if (Date.now() > dc.expiresAt) return { error: 'the code has expired' };
  if (dc.status !== 'pending') return { error: `the code was already ${dc.status}` };
  return { dc };
}

export function approveDeviceCode(emu, userCode, upn) {
  const { dc, error } = pendingCode(emu, userCode);
  if (error) return error;
  const user = findUser(upn);
  if (!user) return `no user '${upn}'`;
  dc.status = 'approved';
  dc.user = user;
  return null;
}

export function denyDeviceCode(emu, userCode) {
  const { dc, error } = pendingCode(emu, userCode);
  if (error) return error;
  dc.status = 'declined';
  return null;
}

export function pendingDeviceCodes(emu) {
  const now = Date.now();
  return [...emu.deviceCodes.values()]
    .filter((dc) => dc.status === 'pending' && now <= dc.expiresAt)
    .map((dc) => ({ userCode: dc.userCode, clientId: dc.clientId, expiresAt: new Date(dc.expiresAt).toISOString() }));
}

// A well-formed half of a token answer for the "malformed" fault.
const MALFORMED_SAMPLE = {
  token_type: 'Bearer', scope: 'https://outlook.office365.com/.default', expires_in: 3600,
  ext_expires_in: 3600, access_token: 'eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJ4In0.c2ln',
};

async function token(emu, req, res, authority) {
  const form = parseForm(await readBody(req));
  const grantType = form.grant_type;
  const statName = GRANT_NAMES.get(grantType) || 'other';
  emu.stats.tokenRequests[statName] = (emu.stats.tokenRequests[statName] || 0) + 1;
  // Lets a test see that a claims challenge was passed on to the token request.
  if (form.claims) emu.stats.tokenRequestsWithClaims += 1;
  if (await applySimpleFault(takeFault(emu, 'token'), res, MALFORMED_SAMPLE)) return;
  const fail = (entry) => sendAadError(req, res, emu.baseUrl, entry);
  if (!grantType) return fail(AAD.missingParameter('grant_type'));
  const handler = GRANTS.get(grantType);
  if (!handler) return fail(AAD.unsupportedGrant(grantType));
  const app = findApp(form.client_id);
  const problem = clientError(app, form.client_id, authority);
  if (problem) return fail(problem);
  if (grantType !== 'client_credentials' && !app.publicClient) return fail(AAD.notPublicClient());
  const outcome = await handler(emu, { req, form, authority, app });
  if (outcome.error) return fail(outcome.error);
  outcome.grant.clientInfo = form.client_info === '1';
  sendJson(res, 200, issueTokens(emu, outcome.grant), identityHeaders(req));
}
