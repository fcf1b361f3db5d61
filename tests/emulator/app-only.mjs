// grant_type=client_credentials for a confidential app: a client assertion
// (JWT signed RS256 or PS256 with the app's registered certificate, found
// by x5t#S256 or x5t) or a client secret. Assertions are single use (jti).
import { timingSafeEqual } from 'node:crypto';
import { AAD } from './aad-errors.mjs';
import { parseScope } from './directory.mjs';
import { scopeError } from './policy.mjs';
import { decodeJwt, verifySignature, thumbprints } from './tokens.mjs';

const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
// Clock skew allowed on exp and nbf. Like the real service, no limit on the
// lifetime itself ("Microsoft Entra ID doesn't currently place restrictions
// on the exp time", certificate-credentials docs).
const SKEW_S = 300;

function sameSecret(a, b) {
  const x = Buffer.from(String(a));
  const y = Buffer.from(String(b));
  return x.length === y.length && timingSafeEqual(x, y);
}

// The token endpoint URLs an assertion's aud may name for this tenant.
function audiences(emu, authority) {
  const { tenant } = authority;
  return new Set([authority.segment, tenant.id, tenant.domain].flatMap((seg) => [
    `${emu.baseUrl}/${seg}/oauth2/v2.0/token`, `${emu.baseUrl}/${seg}/oauth2/token`]));
}

function forgetOldJtis(emu, now) {
  for (const [jti, exp] of emu.usedJtis) if (exp + SKEW_S < now) emu.usedJtis.delete(jti);
}

// Answers an AAD error entry or null.
function checkAssertion(emu, authority, app, assertion) {
  const jwt = decodeJwt(assertion);
  if (!jwt) return AAD.invalidClientAssertion('The client assertion is not a JWT.');
  const { header, payload } = jwt;
  if (!['RS256', 'PS256'].includes(header.alg)) {
    return AAD.invalidClientAssertion(`The algorithm '${header.alg}' is not supported.`);
  }
  const cert = app.certificates.find((c) => {
    const t = thumbprints(c);
    return header['x5t#S256'] === t.x5tS256 || header.x5t === t.x5t;
  });
  if (!cert) return AAD.unknownCertificate(header['x5t#S256'] || header.x5t || '', app.appId);
  if (!verifySignature(jwt, cert.publicKey)) return AAD.invalidClientAssertion('The signature does not verify.');
  if (payload.iss !== app.appId || payload.sub !== app.appId) {
    return AAD.invalidClientAssertion('The iss and sub claims must both be the client id.');
  }
  const expected = `${emu.baseUrl}/${authority.tenant.id}/oauth2/v2.0/token`;
  if (!audiences(emu, authority).has(payload.aud)) return AAD.clientAssertionAudience(expected);
  const now = Math.floor(Date.now() / 1000);
  const nbf = payload.nbf ?? payload.iat ?? now;
  if (!(payload.exp > now - SKEW_S) || nbf > now + SKEW_S) return AAD.clientAssertionExpired();
  if (typeof payload.jti !== 'string' || payload.jti === '') {
    return AAD.invalidClientAssertion('The jti claim is required.');
  }
  forgetOldJtis(emu, now);
  if (emu.usedJtis.has(payload.jti)) return AAD.clientAssertionReplayed();
  emu.usedJtis.set(payload.jti, payload.exp);
  return null;
}

export function clientCredentialsGrant(emu, { form, authority, app }) {
  if (authority.multi) return { error: AAD.appOnlyNeedsTenant() };
  if (app.publicClient) return { error: AAD.publicClientSecret() };
  if (form.client_assertion !== undefined) {
    if (form.client_assertion_type !== ASSERTION_TYPE) return { error: AAD.missingParameter('client_assertion_type') };
    const problem = checkAssertion(emu, authority, app, form.client_assertion);
    if (problem) return { error: problem };
  } else if (form.client_secret !== undefined) {
    if (!app.secret || !sameSecret(form.client_secret, app.secret)) return { error: AAD.badClientSecret(app.appId) };
  } else {
    return { error: AAD.notPublicClient() };
  }
  const scope = parseScope(form.scope);
  if (scope.error) return { error: scopeError(scope.error, authority) };
  if (scope.oidc.size > 0 || !String(form.scope).trim().endsWith('/.default')) return { error: AAD.appOnlyScope() };
  // appidacr: 1 = client secret, 2 = certificate (as AAD's v1 tokens say).
  const appidacr = form.client_assertion ? '2' : '1';
  return { grant: { appOnly: true, app, tenant: authority.tenant, scope, appidacr } };
}
