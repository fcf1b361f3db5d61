// Validates the bearer token of an Exchange request the way Exchange does:
// signature by one of the emulator's keys, issuer, audience, lifetime, and
// the emulator's own revocation list.
import { decodeJwt, verifySignature } from './tokens.mjs';
import { RESOURCES, tenantById } from './directory.mjs';

// Skew Exchange tolerates on nbf; exp is strict so expiry tests are quick.
const NBF_SKEW_S = 300;

// Answers {claims} or {reason} (text for x-ms-diagnostics). product: the
// RESOURCES flag the audience must carry ('exchange', or 'compliance' for
// compliance.mjs).
export function checkBearer(emu, authorization, product = 'exchange') {
  const match = /^Bearer\s+(\S+)$/i.exec(authorization || '');
  if (!match) return { reason: 'The authorization header is missing or is not a bearer token.' };
  const jwt = decodeJwt(match[1]);
  if (!jwt) return { reason: 'The token is malformed.' };
  if (jwt.header.alg !== 'RS256') return { reason: `The token's algorithm '${jwt.header.alg}' is not accepted.` };
  const signer = emu.allSigners().find((s) => s.kid === jwt.header.kid);
  if (!signer) return { reason: 'The token was signed by an unknown key.' };
  if (!verifySignature(jwt, signer.publicKey)) return { reason: 'The token signature is invalid.' };
  const claims = jwt.payload;
  const tenant = tenantById(claims.tid);
  if (!tenant || claims.iss !== `https://sts.windows.net/${tenant.id}/`) return { reason: 'The token issuer is invalid.' };
  const audience = RESOURCES.get(claims.aud);
  if (!audience || !audience[product]) return { reason: `The audience claim value is invalid '${claims.aud}'.` };
  const now = Math.floor(Date.now() / 1000);
  if (!(claims.exp > now)) return { reason: 'The token has expired.' };
  if (claims.nbf > now + NBF_SKEW_S) return { reason: 'The token is not yet valid.' };
  if (emu.revokedUtis.has(claims.uti)) return { reason: 'The token has been revoked.' };
  if (claims.idtyp === 'app' ? !(claims.roles || []).includes('Exchange.ManageAsApp') : !claims.scp) {
    return { reason: `The token does not grant access to ${product === 'exchange' ? 'Exchange' : 'Security & Compliance'} administration.` };
  }
  return { claims, tenant };
}

// The WWW-Authenticate Exchange sends with a 401.
export function challengeHeaders(emu, reason, extra = '') {
  return {
    'WWW-Authenticate': `Bearer client_id="00000002-0000-0ff1-ce00-000000000000", `
      + 'trusted_issuers="00000001-0000-0000-c000-000000000000@*", '
      + 'token_types="app_asserted_user_v1 service_asserted_app_v1", '
      + `authorization_uri="${emu.baseUrl}/common/oauth2/authorize", error="invalid_token"${extra}`,
    'x-ms-diagnostics': `2000001;reason="${reason.replace(/"/g, "'")}";error_category="invalid_token"`,
  };
}

// A CAE claims challenge: get a new token with these claims, then retry.
export function claimsChallengeHeaders(emu) {
  const claims = Buffer.from(JSON.stringify({
    access_token: { nbf: { essential: true, value: String(Math.floor(Date.now() / 1000)) } },
  })).toString('base64');
  return {
    'WWW-Authenticate': `Bearer realm="", authorization_uri="${emu.baseUrl}/common/oauth2/authorize", `
      + `client_id="00000002-0000-0ff1-ce00-000000000000", error="insufficient_claims", claims="${claims}"`,
  };
}
