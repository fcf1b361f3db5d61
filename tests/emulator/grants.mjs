// Token endpoint grants. Each handler takes (emu, ctx) with ctx = {form,
// authority, app} (the client already checked) and answers either
// {error: <AAD catalogue entry>} or {grant: {...}} for issueTokens().
// A new grant is one more entry in GRANTS.
import { AAD, aadTimestamp } from './aad-errors.mjs';
import { findUser, parseScope } from './directory.mjs';
import { resourceAppId, homeTenant, newSessionId } from './issue.mjs';
import { scopeError, userError } from './policy.mjs';
import { authorizationCodeGrant } from './authorize.mjs';
import { clientCredentialsGrant } from './app-only.mjs';

export const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
// MSAL sends the short name; the identity platform accepts both.
const DEVICE_CODE_SHORT = 'device_code';

// Short names used in /_emulator/stats.
export const GRANT_NAMES = new Map([
  [DEVICE_CODE_GRANT, 'device_code'],
  [DEVICE_CODE_SHORT, 'device_code'],
  ['refresh_token', 'refresh_token'],
  ['password', 'password'],
  ['authorization_code', 'authorization_code'],
  ['client_credentials', 'client_credentials'],
]);

function deviceCodeGrant(emu, { form }) {
  if (!form.device_code) return { error: AAD.missingParameter('device_code') };
  const dc = emu.deviceCodes.get(form.device_code);
  if (!dc || dc.clientId !== form.client_id) return { error: AAD.badDeviceCode() };
  if (dc.redeemed) return { error: AAD.deviceCodeRedeemed() };
  const now = Date.now();
  if (now > dc.expiresAt) return { error: AAD.expiredDeviceCode() };
  if (dc.status === 'declined') return { error: AAD.authorizationDeclined() };
  if (dc.status === 'pending') {
    // RFC 8628: polling faster than the interval earns slow_down, and the
    // interval grows by 5 s for the rest of this code's life. 20% slack
    // for timer jitter.
    const tooFast = dc.lastPoll > 0 && dc.interval > 0 && now - dc.lastPoll < dc.interval * 800;
    dc.lastPoll = now;
    if (tooFast) {
      dc.interval += 5;
      return { error: AAD.slowDown() };
    }
    return { error: AAD.authorizationPending() };
  }
  dc.redeemed = true;
  const { user } = dc;
  const problem = userError(user, dc.authority, dc.app);
  if (problem) return { error: problem };
  return {
    grant: {
      user, app: dc.app, tenant: homeTenant(user), scope: dc.scope,
      amr: user.mfa ? ['pwd', 'mfa'] : ['pwd'], sid: newSessionId(),
    },
  };
}

function refreshTokenGrant(emu, { form, authority, app }) {
  if (!form.refresh_token) return { error: AAD.missingParameter('refresh_token') };
  const record = emu.refreshTokens.get(form.refresh_token);
  // Rotation: a refresh token works once; the answer carries the next one.
  if (!record || record.used) return { error: AAD.refreshTokenInvalid() };
  if (record.clientId !== app.appId) return { error: AAD.clientMismatch() };
  const issued = new Date(record.issuedAt);
  if (Date.now() - record.issuedAt > emu.config.refreshTokenLifetime * 1000) {
    return { error: AAD.refreshTokenExpired(aadTimestamp(issued)) };
  }
  const validFrom = emu.tokensValidFrom.get(record.oid);
  if (validFrom !== undefined && record.serial <= validFrom.serial) {
    return { error: AAD.refreshTokenRevoked(aadTimestamp(issued), aadTimestamp(new Date(validFrom.time))) };
  }
  const user = findUser(record.upn);
  const problem = userError(user, authority, app);
  if (problem) return { error: problem };
  const scope = parseScope(form.scope);
  if (scope.error) return { error: scopeError(scope.error, authority) };
  record.used = true;
  emu.stats.refreshTokensRedeemed += 1;
  return { grant: { user, app, tenant: homeTenant(user), scope, amr: record.amr, sid: record.sid } };
}

// ROPC: accounts without MFA only; MFA accounts answer AADSTS50076.
function passwordGrant(emu, { form, authority, app }) {
  if (!form.username) return { error: AAD.missingParameter('username') };
  if (!form.password) return { error: AAD.missingParameter('password') };
  const user = findUser(form.username);
  const where = authority.tenant ? authority.tenant.displayName : authority.segment;
  if (!user || (!authority.multi && authority.tenant.id !== user.tenantId)) {
    return { error: AAD.unknownUser(where) };
  }
  if (form.password !== user.password) return { error: AAD.badPassword() };
  const problem = userError(user, authority, app);
  if (problem) return { error: problem };
  const scope = parseScope(form.scope);
  if (scope.error) return { error: scopeError(scope.error, authority) };
  if (user.mfa) {
    const claims = JSON.stringify({ access_token: { capolids: { essential: true, values: ['9a5a1e7c-4b58-4bd9-9e12-6f0e3c0b6d41'] } } });
    return { error: AAD.mfaRequired(resourceAppId(scope.resource), claims) };
  }
  return { grant: { user, app, tenant: homeTenant(user), scope, amr: ['pwd'], sid: newSessionId() } };
}

export const GRANTS = new Map([
  [DEVICE_CODE_GRANT, deviceCodeGrant],
  [DEVICE_CODE_SHORT, deviceCodeGrant],
  ['refresh_token', refreshTokenGrant],
  ['password', passwordGrant],
  ['authorization_code', authorizationCodeGrant],
  ['client_credentials', clientCredentialsGrant],
]);
