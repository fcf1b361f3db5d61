// Builds token answers: access token (v1 shape, as Exchange gets from AAD),
// id token (v2), rotating refresh token, client_info.
import { randomBytes, randomUUID, createHash } from 'node:crypto';
import { b64url, b64urlJson } from './tokens.mjs';
import { tenantById, EXCHANGE_APP_ID } from './directory.mjs';

const RESOURCE_APP_IDS = new Map([['https://graph.microsoft.com', '00000003-0000-0000-c000-000000000000']]);

export function resourceAppId(resource) {
  return RESOURCE_APP_IDS.get(resource) || EXCHANGE_APP_ID;
}

function randomId(bytes) {
  return b64url(randomBytes(bytes));
}

// AAD's subject is pairwise: stable per user and client.
function pairwiseSub(oid, clientId) {
  return b64url(createHash('sha256').update(`${oid}|${clientId}`).digest()).slice(0, 43);
}

function accessTokenClaims(emu, grant, now, exp) {
  const { app, tenant, scope } = grant;
  const common = {
    aud: scope.resource,
    iss: `https://sts.windows.net/${tenant.id}/`,
    iat: now, nbf: now, exp,
    aio: randomId(24),
    app_displayname: app.displayName,
    appid: app.appId,
    rh: `0.${randomId(18)}.`,
    tid: tenant.id,
    uti: randomId(16),
    ver: '1.0',
  };
  if (grant.appOnly) {
    return {
      ...common,
      appidacr: grant.appidacr || '2',
      idp: `https://sts.windows.net/${tenant.id}/`,
      idtyp: 'app',
      oid: app.servicePrincipalOid,
      roles: app.appRoles,
      sub: app.servicePrincipalOid,
      wids: ['0997a1d0-0d1d-4acb-b408-d5ca73121e90'],
    };
  }
  const { user } = grant;
  return {
    ...common,
    acr: '1',
    amr: grant.amr,
    appidacr: app.publicClient ? '0' : '1',
    family_name: user.surname,
    given_name: user.givenName,
    idtyp: 'user',
    ipaddr: '127.0.0.1',
    name: user.displayName,
    oid: user.oid,
    puid: `1003${user.oid.replace(/-/g, '').slice(0, 12).toUpperCase()}`,
    scp: scope.granted.join(' '),
    sid: grant.sid,
    sub: pairwiseSub(user.oid, scope.resource),
    unique_name: user.upn,
    upn: user.upn,
    wids: [...user.roles, 'b79fbf4d-3ef9-4689-8143-76b194e85509'],
  };
}

function idTokenClaims(emu, grant, now) {
  const { user, app, tenant } = grant;
  const claims = {
    aud: app.appId,
    iss: `${emu.baseUrl}/${tenant.id}/v2.0`,
    iat: now, nbf: now, exp: now + 3600,
    name: user.displayName,
    oid: user.oid,
    preferred_username: user.upn,
    rh: `0.${randomId(18)}.`,
    sid: grant.sid,
    sub: pairwiseSub(user.oid, app.appId),
    tid: tenant.id,
    uti: randomId(16),
    ver: '2.0',
  };
  if (grant.nonce) claims.nonce = grant.nonce;
  if (grant.scope.oidc.has('email')) claims.email = user.upn;
  return claims;
}

// grant: {user?, app, tenant, scope (parseScope result), amr, nonce, sid,
// appOnly, clientInfo}. Registers the refresh token and answers the JSON body.
export function issueTokens(emu, grant) {
  const now = Math.floor(Date.now() / 1000);
  const lifetime = Math.floor(emu.config.tokenLifetime);
  const signer = emu.activeSigner();
  const at = accessTokenClaims(emu, grant, now, now + lifetime);
  emu.issuedUtis.add(at.uti);
  const scopeText = [...grant.scope.granted.map((p) => `${grant.scope.resource}/${p}`),
    ...[...grant.scope.oidc].filter((s) => s !== 'offline_access')].join(' ');
  const body = { token_type: 'Bearer' };
  // App-only answers carry no scope: the permissions are app roles.
  if (!grant.appOnly) body.scope = scopeText;
  body.expires_in = lifetime;
  body.ext_expires_in = lifetime;
  // AAD asks clients to renew long-lived tokens at half their life.
  if (lifetime >= 7200) body.refresh_in = Math.floor(lifetime / 2);
  body.access_token = signer.sign(at, { nonce: randomId(32) });
  if (!grant.appOnly && grant.scope.oidc.has('offline_access')) {
    const token = `1.${randomId(24)}.${randomId(180)}`;
    emu.refreshTokens.set(token, {
      oid: grant.user.oid,
      upn: grant.user.upn,
      tenantId: grant.tenant.id,
      clientId: grant.app.appId,
      amr: grant.amr,
      sid: grant.sid,
      issuedAt: Date.now(),
      // orders tokens against revocations made in the same millisecond
      serial: ++emu.tokenSerial,
      used: false,
    });
    body.refresh_token = token;
  }
  if (!grant.appOnly && grant.scope.oidc.has('openid')) {
    body.id_token = signer.sign(idTokenClaims(emu, grant, now));
  }
  if (!grant.appOnly && grant.clientInfo) {
    body.client_info = b64urlJson({ uid: grant.user.oid, utid: grant.tenant.id });
  }
  return body;
}

// The tenant a user's token is for: theirs.
export function homeTenant(user) {
  return tenantById(user.tenantId);
}

export function newSessionId() {
  return randomUUID();
}
