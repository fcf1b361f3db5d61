// Error answers of the identity platform, shaped like login.microsoftonline.com:
//   {"error","error_description":"AADSTSn: text\r\nTrace ID: ..\r\nCorrelation ID: ..\r\nTimestamp: ..",
//    "error_codes":[n],"timestamp","trace_id","correlation_id","error_uri"[,"suberror","claims"]}
import { randomUUID } from 'node:crypto';
import { sendJson, correlationId } from './http.mjs';

// "2024-12-27 14:53:13Z", the format AAD uses in bodies.
export function aadTimestamp(date = new Date()) {
  return `${date.toISOString().slice(0, 19).replace('T', ' ')}Z`;
}

export function identityHeaders(req, traceId = randomUUID()) {
  const headers = {
    'Cache-Control': 'no-store, no-cache',
    Pragma: 'no-cache',
    'x-ms-request-id': traceId,
    'x-ms-ests-server': 'emulator',
  };
  if (req.headers['client-request-id']) headers['client-request-id'] = correlationId(req);
  return headers;
}

// Sends one AAD error. e: {status, error, code, message, suberror, claims}.
export function sendAadError(req, res, baseUrl, e) {
  const traceId = randomUUID();
  const corr = correlationId(req);
  const timestamp = aadTimestamp();
  const body = {
    error: e.error,
    error_description: `AADSTS${e.code}: ${e.message}\r\nTrace ID: ${traceId}\r\n`
      + `Correlation ID: ${corr}\r\nTimestamp: ${timestamp}`,
    error_codes: [e.code],
    timestamp,
    trace_id: traceId,
    correlation_id: corr,
    error_uri: `${baseUrl}/error?code=${e.code}`,
  };
  if (e.suberror) body.suberror = e.suberror;
  if (e.claims) body.claims = e.claims;
  sendJson(res, e.status || 400, body, identityHeaders(req, traceId));
}

// The two commonest kinds: a grant refused, and a client that did not
// authenticate (always 401).
function invalidGrant(code, message) {
  return { error: 'invalid_grant', code, message };
}

function invalidClient(code, message) {
  return { error: 'invalid_client', code, status: 401, message };
}

// The catalogue: one function per condition, so every use says the same thing.
export const AAD = {
  invalidTenant: (segment) => ({
    error: 'invalid_tenant', code: 90002,
    message: `Tenant '${segment}' not found. Check to make sure you have the correct tenant ID and are `
      + 'signing into the correct cloud. Check with your subscription administrator, this may happen if '
      + 'there are no active subscriptions for the tenant.',
  }),
  missingParameter: (name) => ({
    error: 'invalid_request', code: 900144,
    message: `The request body must contain the following parameter: '${name}'.`,
  }),
  postOnly: () => ({
    error: 'invalid_request', code: 900561,
    message: 'The endpoint only accepts POST, OPTIONS requests. Received a GET request.',
  }),
  unknownClient: (appId, where) => ({
    error: 'unauthorized_client', code: 700016,
    message: `Application with identifier '${appId}' was not found in the directory '${where}'. This can `
      + 'happen if the application has not been installed by the administrator of the tenant or consented '
      + 'to by any user in the tenant. You may have sent your authentication request to the wrong tenant.',
  }),
  notPublicClient: () => invalidClient(7000218,
    "The request body must contain the following parameter: 'client_assertion' or 'client_secret'."),
  invalidScope: (scope) => ({
    error: 'invalid_scope', code: 70011,
    message: `The provided request must include a 'scope' input parameter. The provided value for the input `
      + `parameter 'scope' is not valid. The scope '${scope}' is not valid.`,
  }),
  unknownResource: (resource, tenantName) => ({
    error: 'invalid_resource', code: 500011,
    message: `The resource principal named ${resource} was not found in the tenant named ${tenantName}. This can `
      + 'happen if the application has not been installed by the administrator of the tenant or consented to '
      + 'by any user in the tenant. You might have sent your authentication request to the wrong tenant.',
  }),
  multipleResources: () => ({
    error: 'invalid_request', code: 28000,
    message: 'Provided value for the input parameter scope is not valid because it contains more than one '
      + 'resource. Scope openid profile offline_access contains more than one resource.',
  }),
  unsupportedGrant: (grant) => ({
    error: 'unsupported_grant_type', code: 70003,
    message: `The app requested an unsupported grant type '${grant}'.`,
  }),
  authorizationPending: () => ({
    error: 'authorization_pending', code: 70016,
    message: 'OAuth 2.0 device flow error. Authorization is pending. Continue polling.',
  }),
  slowDown: () => ({
    error: 'slow_down', code: 70016,
    message: 'OAuth 2.0 device flow error. Polling too often: wait the interval, plus 5 seconds from now on.',
  }),
  authorizationDeclined: () => ({
    error: 'authorization_declined', code: 70000,
    message: 'The user declined the authentication request.',
  }),
  expiredDeviceCode: () => ({
    error: 'expired_token', code: 70019,
    message: 'Verification code expired.',
  }),
  badDeviceCode: () => ({
    error: 'bad_verification_code', code: 70000,
    message: "The provided value for the input parameter 'device_code' is not valid.",
  }),
  deviceCodeRedeemed: () => invalidGrant(70000,
    "The provided value for the input parameter 'device_code' is not valid. It was already redeemed."),
  userDisabled: () => invalidGrant(50057,
    'The user account is disabled. The account has been disabled by an administrator.'),
  userNotInTenant: (user, tenant, app) => invalidGrant(50020,
    `User account '${user.upn}' from identity provider 'https://sts.windows.net/${user.tenantId}/' does `
      + `not exist in tenant '${tenant.displayName}' and cannot access the application '${app.appId}'`
      + `(${app.displayName}) in that tenant. The account needs to be added as an external user in the tenant `
      + 'first. Sign out and sign in again with a different Azure Active Directory user account.'),
  unknownUser: (tenantName) => invalidGrant(50034,
    `The user account {EmailHidden} does not exist in the ${tenantName} directory. To sign into this `
      + 'application, the account must be added to the directory.'),
  badPassword: () => invalidGrant(50126,
    'Error validating credentials due to invalid username or password.'),
  mfaRequired: (resourceAppId, claims) => ({
    ...invalidGrant(50076, 'Due to a configuration change made by your administrator, or because you moved to '
      + `a new location, you must use multi-factor authentication to access '${resourceAppId}'.`),
    suberror: 'basic_action', claims,
  }),
  refreshTokenInvalid: () => invalidGrant(70000,
    "The provided value for the input parameter 'refresh_token' or 'assertion' is not valid."),
  refreshTokenExpired: (issued) => invalidGrant(700082,
    `The refresh token has expired due to inactivity. The token was issued on ${issued} and was inactive `
      + 'for longer than the configured lifetime.'),
  refreshTokenRevoked: (issued, validFrom) => invalidGrant(50173,
    'The provided grant has expired due to it being revoked, a fresh auth token is needed. The user might '
      + `have changed or reset their password. The grant was issued on '${issued}' and the TokensValidFrom date `
      + `(before which tokens are not valid) for this user is '${validFrom}'.`),
  clientMismatch: () => invalidGrant(70000,
    'The provided grant was issued to a different client.'),
  codeRedeemed: () => invalidGrant(54005,
    'OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an '
      + 'existing refresh token.'),
  codeInvalid: () => invalidGrant(9002313,
    'Invalid request. Request is malformed or invalid.'),
  codeExpired: () => invalidGrant(70008,
    'The provided authorization code or refresh token has expired due to inactivity. Send a new '
      + 'interactive authorization request for this user and resource.'),
  pkceMismatch: () => invalidGrant(501481,
    'The Code_Verifier does not match the code_challenge supplied in the authorization request.'),
  redirectMismatch: (uri, appId) => invalidGrant(50011,
    `The redirect URI '${uri}' specified in the request does not match the redirect URIs configured `
      + `for the application '${appId}'.`),
  invalidClientAssertion: (why) => invalidClient(700027,
    `Client assertion failed signature validation. ${why}`),
  clientAssertionExpired: () => invalidClient(700024,
    'Client assertion is not within its valid time range.'),
  clientAssertionReplayed: () => invalidClient(700023,
    'Client assertion contains a jti that was already used: a client assertion can be used once only.'),
  clientAssertionAudience: (expected) => invalidClient(700021,
    `Client assertion audience claim does not match Realm issuer. Expected '${expected}'.`),
  unknownCertificate: (thumb, appId) => invalidClient(700027,
    `The certificate with identifier used to sign the client assertion is not registered on application. `
      + `[Reason - The key was not found., Thumbprint of key used by client: '${thumb}', `
      + `Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see configured keys for app Id '${appId}'.]`),
  publicClientSecret: () => invalidClient(700025,
    "Client is public so neither 'client_assertion' nor 'client_secret' should be presented."),
  badClientSecret: (appId) => invalidClient(7000215,
    `Invalid client secret provided. Ensure the secret being sent in the request is the client secret `
      + `value, not the client secret ID, for a secret added to app '${appId}'.`),
  appOnlyNeedsTenant: () => ({
    error: 'invalid_request', code: 90009,
    message: "The client credentials grant needs a tenant-specific authority (tenant GUID or domain), not "
      + "'common' or 'organizations'.",
  }),
  appOnlyScope: () => ({
    error: 'invalid_scope', code: 1002012,
    message: 'The provided value for scope is not valid. Client credential flows must have a scope value with '
      + '/.default suffixed to the resource identifier (application ID URI).',
  }),
};
