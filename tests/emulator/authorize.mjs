// Authorization code + PKCE: GET /{tenant}/oauth2/v2.0/authorize and the
// authorization_code grant. Who signs in: config.autoApprove (a UPN) signs
// in at once and redirects (a "scriptable browser" such as curl -L then
// delivers the code to the loopback redirect URI); otherwise a small page
// lets a person pick the user and accept or cancel.
import { randomBytes, createHash } from 'node:crypto';
import { AAD } from './aad-errors.mjs';
import { findApp, findUser, parseScope, USERS } from './directory.mjs';
import { homeTenant, newSessionId } from './issue.mjs';
import { scopeError, userError } from './policy.mjs';
import { readBody, parseForm, sendHtml, escapeHtml } from './http.mjs';

const CODE_LIFETIME_MS = 10 * 60 * 1000;

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

// As Entra matches redirect URIs: exactly, except that an http loopback
// redirect may carry any port. The host is not loosened: an app registered
// with http://localhost does not accept http://127.0.0.1 (another
// registration), and the path must match; a root path with or without its
// slash is the same ("http://localhost[:port][/]").
export function redirectAllowed(app, uri) {
  if (app.redirectUris.includes(uri)) return true;
  let url;
  try {
    url = new URL(uri);
  } catch {
    return false;
  }
  if (url.protocol !== 'http:' || !LOOPBACK_HOSTS.has(url.hostname) || url.username || url.password
      || url.search || url.hash) return false;
  const path = url.pathname === '/' ? '' : url.pathname;
  const withoutPort = `http://${url.hostname}${path}`;
  return app.redirectUris.some((registered) => registered.replace(/\/$/, '') === withoutPort);
}

// Entra's answer to a request it will not send back to the client (unknown
// app, redirect URI not registered): a page for the user, no redirect.
function errorPage(res, entry) {
  sendHtml(res, 400, `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Sign in</title></head>
<body><h1>Sorry, but we're having trouble signing you in.</h1><p>AADSTS${entry.code}: ${escapeHtml(entry.message)}</p></body></html>
`);
}

// Sends the answer to the client's redirect URI in the response mode asked.
function respond(res, request, params) {
  const all = { ...params };
  if (request.state !== undefined) all.state = request.state;
  if (request.responseMode === 'form_post') {
    const inputs = Object.entries(all)
      .map(([k, v]) => `<input type="hidden" name="${escapeHtml(k)}" value="${escapeHtml(v)}">`).join('');
    sendHtml(res, 200, `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Working...</title></head>
<body onload="document.forms[0].submit()"><form method="post" action="${escapeHtml(request.redirectUri)}">${inputs}
<noscript><button>Continue</button></noscript></form></body></html>
`);
    return;
  }
  const query = new URLSearchParams(all).toString();
  const location = request.responseMode === 'fragment'
    ? `${request.redirectUri}#${query}` : `${request.redirectUri}${request.redirectUri.includes('?') ? '&' : '?'}${query}`;
  res.writeHead(302, { Location: location, 'Cache-Control': 'no-store', 'Content-Length': 0 });
  res.end();
}

function respondError(res, request, entry) {
  respond(res, request, {
    error: entry.error,
    error_description: `AADSTS${entry.code}: ${entry.message}`,
    error_codes: String(entry.code),
  });
}

// Issues the code for `user` and redirects.
function complete(emu, res, request, user) {
  const problem = user ? userError(user, request.authority, request.app) : null;
  if (!user || problem) {
    respondError(res, request, problem || { error: 'access_denied', code: 65004, message: 'User declined to consent to access the app.' });
    return;
  }
  const code = `1.${randomBytes(48).toString('base64url')}`;
  emu.authCodes.set(code, { ...request, user, createdAt: Date.now(), used: false, sid: newSessionId() });
  respond(res, request, {
    code,
    client_info: Buffer.from(JSON.stringify({ uid: user.oid, utid: user.tenantId })).toString('base64url'),
    session_state: randomBytes(16).toString('hex'),
    iss: `${emu.baseUrl}/${user.tenantId}/v2.0`,
  });
}

function signInPage(res, requestId, loginHint) {
  const options = USERS.map((u) => `<option${u.upn === loginHint ? ' selected' : ''} value="${escapeHtml(u.upn)}">${escapeHtml(u.upn)}</option>`).join('');
  sendHtml(res, 200, `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Sign in to your account</title></head>
<body><h1>Sign in</h1><form method="post" action="/_authorize">
<input type="hidden" name="request" value="${escapeHtml(requestId)}">
<label>Account <select name="upn">${options}</select></label>
<button name="action" value="accept">Accept</button> <button name="action" value="cancel">Cancel</button>
</form></body></html>
`);
}

// GET /{tenant}/oauth2/v2.0/authorize
export async function authorize(emu, req, res, authority, url) {
  emu.stats.authorizeRequests += 1;
  const q = Object.fromEntries(url.searchParams);
  const app = findApp(q.client_id);
  if (!q.client_id) return errorPage(res, AAD.missingParameter('client_id'));
  if (!app || (app.tenantId && !authority.multi && app.tenantId !== authority.tenant.id)) {
    return errorPage(res, AAD.unknownClient(q.client_id, authority.tenant ? authority.tenant.displayName : authority.segment));
  }
  if (!q.redirect_uri || !redirectAllowed(app, q.redirect_uri)) {
    return errorPage(res, AAD.redirectMismatch(q.redirect_uri || '', app.appId));
  }
  const request = {
    app, authority, redirectUri: q.redirect_uri, state: q.state, nonce: q.nonce,
    responseMode: q.response_mode || 'query', codeChallenge: q.code_challenge,
    codeChallengeMethod: q.code_challenge_method || (q.code_challenge ? 'plain' : undefined),
  };
  if (q.response_type !== 'code') {
    return respondError(res, request, { error: 'unsupported_response_type', code: 900144,
      message: "The provided value for the input parameter 'response_type' is not allowed for this request. Expected value: 'code'." });
  }
  if (request.codeChallengeMethod && !['S256', 'plain'].includes(request.codeChallengeMethod)) {
    return respondError(res, request, { error: 'invalid_request', code: 501491,
      message: "Invalid code_challenge_method: only 'S256' and 'plain' are supported." });
  }
  const scope = parseScope(q.scope);
  if (scope.error) return respondError(res, request, scopeError(scope.error, authority));
  request.scope = scope;
  const upn = emu.config.autoApprove;
  if (upn) return complete(emu, res, request, findUser(upn));
  if (q.prompt === 'none') {
    return respondError(res, request, { error: 'login_required', code: 50058,
      message: 'A silent sign-in request was sent but no user is signed in.' });
  }
  const requestId = randomBytes(16).toString('base64url');
  emu.pendingAuthorizations.set(requestId, request);
  return signInPage(res, requestId, q.login_hint);
}

// POST /_authorize: the sign-in page's answer.
export async function authorizeAnswer(emu, req, res) {
  const form = parseForm(await readBody(req));
  const request = emu.pendingAuthorizations.get(form.request);
  if (!request) return errorPage(res, AAD.codeInvalid());
  emu.pendingAuthorizations.delete(form.request);
  return complete(emu, res, request, form.action === 'accept' ? findUser(form.upn) : null);
}

function s256(verifier) {
  return createHash('sha256').update(verifier).digest('base64url');
}

// grant_type=authorization_code
export function authorizationCodeGrant(emu, { form, app }) {
  if (!form.code) return { error: AAD.missingParameter('code') };
  const record = emu.authCodes.get(form.code);
  if (!record) return { error: AAD.codeInvalid() };
  if (record.used) return { error: AAD.codeRedeemed() };
  if (Date.now() - record.createdAt > CODE_LIFETIME_MS) return { error: AAD.codeExpired() };
  if (record.app.appId !== app.appId) return { error: AAD.clientMismatch() };
  if (form.redirect_uri !== record.redirectUri) return { error: AAD.redirectMismatch(form.redirect_uri || '', app.appId) };
  if (record.codeChallenge) {
    if (!form.code_verifier) return { error: AAD.missingParameter('code_verifier') };
    const computed = record.codeChallengeMethod === 'S256' ? s256(form.code_verifier) : form.code_verifier;
    if (computed !== record.codeChallenge) return { error: AAD.pkceMismatch() };
  }
  record.used = true;
  let { scope } = record;
  if (form.scope) {
    scope = parseScope(form.scope);
    if (scope.error) return { error: scopeError(scope.error, record.authority) };
  }
  const { user } = record;
  return {
    grant: {
      user, app, tenant: homeTenant(user), scope, nonce: record.nonce, sid: record.sid,
      amr: user.mfa ? ['pwd', 'mfa'] : ['pwd'],
    },
  };
}

