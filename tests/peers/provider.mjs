// A certified OpenID provider (oidc-provider) over HTTPS on 127.0.0.1, with
// the emulator's throwaway CA (tests/emulator/certs.mjs), in two shapes:
//   entra: tenant in the path, issuer https://127.0.0.1:PORT/<tenant>/v2.0,
//          /<tenant>/oauth2/v2.0/{authorize,token,devicecode},
//          /<tenant>/discovery/v2.0/keys, discovery at
//          /<tenant>/v2.0/.well-known/openid-configuration;
//   plain: issuer at the root, the library's default routes.
// Plus a stand-in for Exchange's InvokeCommand that accepts the provider's
// access tokens, so the helper's token renewal inside `invoke` can be tested.
//
// Configuration needed for the helper's scope
// "<resource>/.default openid profile offline_access" (docs/conformance.md):
// resource indicators with a default resource whose scope is
// "<resource>/.default", and a grant made at consent for those scopes.
import https from 'node:https';
import { pathToFileURL } from 'node:url';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import Provider from 'oidc-provider';
import { ensureCerts } from '../emulator/certs.mjs';
import { browse, CookieJar } from './net.mjs';

export const TENANT_ID = '6babcaad-604b-40ac-a9d7-9fd97c0b779f';
export const PUBLIC_CLIENT = 'fb78d390-0c51-40cd-8e17-fdbfab77341b';
export const APP_CLIENT = '3c0b1a5e-7d2f-4e8a-9b6c-1f2e3d4c5b6a';
export const RESOURCE = 'https://outlook.office365.com';
export const USERS = {
  'admin@contoso.onmicrosoft.com': { oid: 'a1d2c3b4-0001-4a5b-8c7d-6e5f4a3b2c1d', name: 'Contoso Admin' },
  'user@contoso.onmicrosoft.com': { oid: 'a1d2c3b4-0002-4a5b-8c7d-6e5f4a3b2c1d', name: 'Contoso User' },
};

function jwkOf(pem, kid, isPrivate) {
  const key = isPrivate ? createPrivateKey(pem) : new X509Certificate(pem).publicKey;
  return { ...key.export({ format: 'jwk' }), kid, use: 'sig', alg: 'RS256' };
}

// Minimal pages instead of the library's samples (which warn at every use).
const page = (title, body) => `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>${title}</title></head><body>${body}</body></html>`;

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

// Plays the user's phone for a device code: opens the verification page,
// types the code, confirms; the interaction (below) signs in and consents.
export function approveOnPhone(agent, verificationUri, userCode) {
  return browse(verificationUri, {
    agent,
    jar: new CookieJar(),
    fill: (form) => (form.fields.confirm ? {} : (form.fields.user_code !== undefined ? { user_code: userCode } : null)),
  });
}

// options: {dir, shape: 'entra'|'plain', tenant, accessTokenTTL,
// autoApproveDevice: every device code is approved by the phone at once}
export async function startProvider({ dir, shape = 'entra', tenant = 'contoso.onmicrosoft.com', accessTokenTTL = 3600, autoApproveDevice = false } = {}) {
  const certs = ensureCerts(dir);
  const prefix = shape === 'entra' ? `/${tenant}` : '';
  const server = https.createServer({ key: certs.serverKey, cert: certs.serverCert });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `https://127.0.0.1:${server.address().port}`;
  const issuer = shape === 'entra' ? `${url}/${tenant}/v2.0` : url;
  const state = {
    autoApprove: 'admin@contoso.onmicrosoft.com', // who the "browser" signs in as; null: the user refuses
    invokeFailures: 0,                             // answer this many InvokeCommand calls with 401
    counts: { token: {}, invoke: 0, unauthorized: 0, discovery: 0 },
    grantsRevoked: 0,
  };

  const claims = shape === 'entra'
    ? { openid: ['sub', 'tid', 'oid'], profile: ['name', 'preferred_username'] }
    : { openid: ['sub'], profile: ['name', 'preferred_username'] };

  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: PUBLIC_CLIENT,
        client_name: 'ExchangeMfa helper',
        application_type: 'native',
        token_endpoint_auth_method: 'none',
        grant_types: ['urn:ietf:params:oauth:grant-type:device_code', 'refresh_token', 'authorization_code'],
        response_types: ['code'],
        // RFC 8252: any port on the loopback addresses.
        redirect_uris: ['http://127.0.0.1/', 'http://localhost/', 'http://127.0.0.1', 'http://localhost'],
      },
      {
        client_id: APP_CLIENT,
        token_endpoint_auth_method: 'private_key_jwt',
        grant_types: ['client_credentials'],
        response_types: [],
        redirect_uris: [],
        // the emulator's app certificate; PS256 or RS256 assertions
        jwks: { keys: [(({ alg, ...k }) => k)(jwkOf(certs.appCert, 'app', false))] },
      },
    ],
    jwks: { keys: [jwkOf(certs.signingKey, 'signing', true)] },
    claims,
    conformIdTokenClaims: false,       // the helper reads its identity from the id_token
    scopes: ['openid', 'offline_access', 'profile'],
    rotateRefreshToken: true,          // every use answers a new one (like Entra)
    pkce: { required: () => true },
    cookies: { keys: ['peer-test-cookie-key-not-secret'] },
    ttl: { AccessToken: accessTokenTTL, ClientCredentials: accessTokenTTL, DeviceCode: 120, Interaction: 120, Session: 600, Grant: 3600, IdToken: 3600, RefreshToken: 3600, AuthorizationCode: 60 },
    routes: shape === 'entra' ? {
      authorization: '/oauth2/v2.0/authorize',
      token: '/oauth2/v2.0/token',
      device_authorization: '/oauth2/v2.0/devicecode',
      code_verification: '/devicelogin',
      jwks: '/discovery/v2.0/keys',
      end_session: '/oauth2/v2.0/logout',
      userinfo: '/openid/userinfo',
    } : {},
    interactions: { url: (ctx, interaction) => `${prefix}/interaction/${interaction.uid}` },
    findAccount: (ctx, sub) => {
      const upn = Object.keys(USERS).find((u) => USERS[u].oid === sub);
      if (!upn) return undefined;
      return {
        accountId: sub,
        claims: () => ({ sub, tid: TENANT_ID, oid: sub, preferred_username: upn, name: USERS[upn].name }),
      };
    },
    features: {
      devInteractions: { enabled: false },
      deviceFlow: {
        enabled: true,
        userCodeInputSource: (ctx, form, out, err) => {
          ctx.body = page('Sign in', `<h1>Enter code</h1>${err ? '<p>error</p>' : ''}${form}<button type="submit" form="op.deviceInputForm">Next</button>`);
        },
        userCodeConfirmSource: (ctx, form, client, deviceInfo, userCode) => {
          ctx.body = page('Confirm', `<p>${userCode}</p>${form}<button type="submit" form="op.deviceConfirmForm">Continue</button>`);
        },
        successSource: (ctx) => { ctx.body = page('Signed in', '<h1>Sign-in Success</h1>'); },
      },
      clientCredentials: { enabled: true },
      revocation: { enabled: true },
      introspection: { enabled: false },
      resourceIndicators: {
        enabled: true,
        // The helper asks by scope only ("<resource>/.default ..."), never
        // with a resource parameter: Exchange is the default resource.
        defaultResource: () => RESOURCE,
        useGrantedResource: () => true,
        getResourceServerInfo: (ctx, resourceIndicator) => {
          if (resourceIndicator !== RESOURCE) throw new Provider.errors.InvalidTarget();
          return { scope: `${RESOURCE}/.default`, audience: RESOURCE, accessTokenFormat: 'opaque', accessTokenTTL };
        },
      },
    },
    renderError: (ctx, out) => { ctx.type = 'html'; ctx.body = page('Error', `<h1>${out.error}</h1>`); },
  });
  provider.proxy = false;
  provider.on('grant.revoked', () => { state.grantsRevoked += 1; });
  provider.on('grant.success', (ctx) => {
    const g = ctx.oidc.params.grant_type;
    state.counts.token[g] = (state.counts.token[g] || 0) + 1;
  });
  const phoneAgent = new https.Agent({ ca: readFileSync(certs.files.ca) });
  const phoned = new Set(); // a device code is saved again on its way; approve it once
  provider.on('device_code.saved', (code) => {
    if (!autoApproveDevice || phoned.has(code.userCode)) return;
    phoned.add(code.userCode);
    const verificationUri = `${url}${prefix}${shape === 'entra' ? '/devicelogin' : '/device'}`;
    approveOnPhone(phoneAgent, verificationUri, code.userCode)
      .catch((err) => process.stderr.write(`provider: phone: ${err.message}\n`));
  });
  provider.on('server_error', (ctx, err) => process.stderr.write(`provider server_error: ${err.message}\n`));

  // The "user" at the sign-in page: logs in as state.autoApprove and
  // consents to what was asked (openid profile offline_access + Exchange).
  async function interaction(req, res) {
    const details = await provider.interactionDetails(req, res);
    const { prompt, params } = details;
    const upn = state.autoApprove;
    if (!upn) {
      await provider.interactionFinished(req, res, { error: 'access_denied', error_description: 'the user declined' }, { mergeWithLastSubmission: false });
      return;
    }
    if (prompt.name === 'login') {
      await provider.interactionFinished(req, res, { login: { accountId: USERS[upn].oid } }, { mergeWithLastSubmission: false });
      return;
    }
    const grant = details.grantId ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId: details.session.accountId, clientId: params.client_id });
    const oidcScopes = String(params.scope || '').split(' ').filter((s) => ['openid', 'profile', 'offline_access'].includes(s));
    grant.addOIDCScope(oidcScopes.join(' '));
    grant.addResourceScope(RESOURCE, `${RESOURCE}/.default`);
    const grantId = await grant.save();
    await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
  }

  // Exchange stand-in: the bearer must be a live access token of this
  // provider for Exchange.
  async function invoke(req, res) {
    await readBody(req);
    state.counts.invoke += 1;
    const bearer = /^Bearer (.+)$/.exec(req.headers.authorization || '');
    // A user's token (AccessToken) or an app's (ClientCredentials).
    const token = bearer
      ? (await provider.AccessToken.find(bearer[1])) || (await provider.ClientCredentials.find(bearer[1]))
      : undefined;
    const unauthorized = !token || token.isExpired || token.aud !== RESOURCE || state.invokeFailures > 0;
    if (unauthorized) {
      if (state.invokeFailures > 0) state.invokeFailures -= 1;
      state.counts.unauthorized += 1;
      res.writeHead(401, { 'WWW-Authenticate': 'Bearer error="invalid_token"', 'Content-Length': 0 });
      res.end();
      return;
    }
    const upn = Object.keys(USERS).find((u) => USERS[u].oid === token.accountId);
    const body = JSON.stringify({ '@odata.context': `${url}/adminapi/beta/$metadata#Collection(Mailbox)`, value: [{ Name: 'peer', UserPrincipalName: upn || null }] });
    res.writeHead(200, { 'Content-Type': 'application/json; odata.metadata=minimal', 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
  }

  // Control for suites outside node (Pester), like the emulator's
  // /_emulator/*: GET /_peer/stats, POST /_peer/config
  // {"autoApprove": upn or null, "invokeFailures": n}.
  async function control(req, res, path) {
    let status = 200;
    let answer;
    if (req.method === 'GET' && path === '/_peer/stats') {
      answer = { ...state.counts, token: { ...state.counts.token }, grantsRevoked: state.grantsRevoked };
    } else if (req.method === 'POST' && path === '/_peer/config') {
      const settings = JSON.parse((await readBody(req)) || '{}');
      if ('autoApprove' in settings) state.autoApprove = settings.autoApprove;
      if ('invokeFailures' in settings) state.invokeFailures = Number(settings.invokeFailures) || 0;
      answer = { autoApprove: state.autoApprove, invokeFailures: state.invokeFailures };
    } else {
      status = 404;
      answer = { error: 'unknown control path' };
    }
    const body = JSON.stringify(answer);
    res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
  }

  const callback = provider.callback();
  server.on('request', async (req, res) => {
    try {
      const path = req.url.split('?')[0];
      if (req.method === 'POST' && /^\/adminapi\/beta\/[^/]+\/InvokeCommand$/.test(path)) return await invoke(req, res);
      if (req.method === 'GET' && path.startsWith(`${prefix}/interaction/`)) return await interaction(req, res);
      if (path.startsWith('/_peer/')) return await control(req, res, path);
      if (path.endsWith('/.well-known/openid-configuration')) state.counts.discovery += 1;
      if (shape === 'entra') {
        // Entra's discovery lives under /v2.0; the library's under the mount.
        const discovery = `${prefix}/v2.0/.well-known/openid-configuration`;
        if (req.url === discovery || req.url.startsWith(`${discovery}?`)) req.url = req.url.replace('/v2.0/', '/');
        if (!req.url.startsWith(`${prefix}/`)) {
          res.writeHead(404, { 'Content-Length': 0 });
          res.end();
          return;
        }
        // Mounted at /<tenant>: the library computes its URLs from originalUrl.
        req.originalUrl = req.url;
        req.url = req.url.slice(prefix.length);
      }
      return callback(req, res);
    } catch (err) {
      process.stderr.write(`provider: ${err.message}\n`);
      if (!res.headersSent) res.writeHead(500, { 'Content-Length': 0 });
      res.end();
    }
  });

  return {
    url,
    issuer,
    shape,
    authority: shape === 'entra' ? `${url}/${tenant}` : url,
    caFile: certs.files.ca,
    ca: readFileSync(certs.files.ca),
    appKeyFile: certs.files.appKey,
    appCertFile: certs.files.app,
    provider,
    state,
    async stop() {
      phoneAgent.destroy();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

// Command line, for suites outside node (Pester): prints one JSON ready
// line, runs until stdin closes or SIGTERM.
//   node tests/peers/provider.mjs --dir DIR [--shape entra|plain] [--auto-approve]
async function main(argv) {
  const arg = (name) => { const i = argv.indexOf(name); return i >= 0 ? argv[i + 1] : undefined; };
  const dir = arg('--dir');
  if (!dir) {
    process.stderr.write('usage: provider.mjs --dir DIR [--shape entra|plain] [--auto-approve]\n');
    process.exit(2);
  }
  const op = await startProvider({ dir, shape: arg('--shape') || 'entra', autoApproveDevice: argv.includes('--auto-approve') });
  process.stdout.write(`${JSON.stringify({
    url: op.url, issuer: op.issuer, authority: op.authority, shape: op.shape, caFile: op.caFile,
    clientId: PUBLIC_CLIENT, appId: APP_CLIENT, appCertFile: op.appCertFile, appKeyFile: op.appKeyFile,
    tenantId: TENANT_ID, pid: process.pid,
  })}\n`);
  const stop = () => op.stop().then(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.stdin.on('end', stop);
  process.stdin.resume();
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).catch((err) => {
    process.stderr.write(`provider: ${err.message}\n`);
    process.exit(1);
  });
}
