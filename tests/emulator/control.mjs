// /_emulator/*: what tests (and the demo's "phone") use to drive the
// emulator. Plain JSON in and out.
import { approveDeviceCode, denyDeviceCode, pendingDeviceCodes } from './identity.mjs';
import { applyConfig, emptyFaults, emptyStats } from './state.mjs';
import { findUser, USERS } from './directory.mjs';
import { readBody, parseJson, sendJson } from './http.mjs';
import { resetTenantStores } from './tenant-store.mjs';

const ROUTES = new Map([
  ['POST /_emulator/device/approve', approve],
  ['POST /_emulator/device/deny', deny],
  ['GET /_emulator/device/pending', pending],
  ['GET /_emulator/config', getConfig],
  ['POST /_emulator/config', setConfig],
  ['POST /_emulator/revoke-access-tokens', revokeAccessTokens],
  ['POST /_emulator/revoke-refresh-tokens', revokeRefreshTokens],
  ['GET /_emulator/stats', stats],
  ['POST /_emulator/reset', reset],
]);

export async function handleControl(emu, req, res, url) {
  if (!url.pathname.startsWith('/_emulator/')) return false;
  const handler = ROUTES.get(`${req.method} ${url.pathname}`);
  const text = await readBody(req);
  if (!handler) {
    sendJson(res, 404, { error: `no control endpoint ${req.method} ${url.pathname}` });
    return true;
  }
  const body = text.trim() === '' ? {} : parseJson(text);
  if (body === undefined) {
    sendJson(res, 400, { error: 'the body is not JSON' });
    return true;
  }
  handler(emu, res, body);
  return true;
}

function outcome(res, error) {
  if (error) sendJson(res, error.startsWith('no ') ? 404 : 409, { error });
  else sendJson(res, 200, { ok: true });
}

function approve(emu, res, body) {
  outcome(res, approveDeviceCode(emu, body.userCode, body.upn));
}

function deny(emu, res, body) {
  outcome(res, denyDeviceCode(emu, body.userCode));
}

function pending(emu, res) {
  sendJson(res, 200, { pending: pendingDeviceCodes(emu) });
}

function publicConfig(emu) {
  const faults = Object.fromEntries(Object.entries(emu.faults).map(([k, q]) => [k, q.length]));
  return { ...emu.config, faultsQueued: faults };
}

function getConfig(emu, res) {
  sendJson(res, 200, publicConfig(emu));
}

function setConfig(emu, res, body) {
  const error = applyConfig(emu, body);
  if (error) sendJson(res, 400, { error });
  else sendJson(res, 200, publicConfig(emu));
}

function revokeAccessTokens(emu, res) {
  const revoked = emu.issuedUtis.size;
  for (const uti of emu.issuedUtis) emu.revokedUtis.add(uti);
  emu.issuedUtis.clear();
  sendJson(res, 200, { revoked });
}

// Like a password reset: refresh tokens issued before now stop working
// (AADSTS50173), for one user ({"upn"}) or all.
function revokeRefreshTokens(emu, res, body) {
  const users = body.upn ? [findUser(body.upn)] : USERS;
  if (users[0] === null) {
    sendJson(res, 404, { error: `no user '${body.upn}'` });
    return;
  }
  const validFrom = { serial: emu.tokenSerial, time: Date.now() };
  for (const user of users) emu.tokensValidFrom.set(user.oid, validFrom);
  sendJson(res, 200, { ok: true });
}

function stats(emu, res) {
  sendJson(res, 200, { ...emu.stats, exchangeInFlight: emu.exchangeInFlight });
}

// {"tenants":true} also forgets every Exchange change (fresh tenants).
function reset(emu, res, body) {
  emu.stats = emptyStats();
  emu.faults = emptyFaults();
  emu.rateLimits.clear();
  if (body.tenants === true) resetTenantStores(emu);
  sendJson(res, 200, { ok: true });
}
