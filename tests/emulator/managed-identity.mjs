// Managed identity token endpoints, served on the emulator's port:
//   GET /msi/token?resource=R&api-version=2019-08-01   (App Service,
//       Functions, Automation: header X-IDENTITY-HEADER; IDENTITY_ENDPOINT)
//   GET /metadata/identity/oauth2/token?resource=R&api-version=2018-02-01
//       (VM IMDS: header Metadata: true)
// Both answer an app-only token of contoso's managed identity.
import { AAD } from './aad-errors.mjs';
import { findApp, MANAGED_IDENTITY, IDENTITY_HEADER, RESOURCES, resourceFromUri, findTenant } from './directory.mjs';
import { issueTokens } from './issue.mjs';
import { takeFault, applySimpleFault } from './faults.mjs';
import { sendJson } from './http.mjs';

const ROUTES = new Map([
  ['/msi/token', { kind: 'appservice', apiVersion: '2019-08-01' }],
  ['/metadata/identity/oauth2/token', { kind: 'imds', apiVersion: '2018-02-01' }],
]);

function badRequest(res, description, error = 'invalid_request') {
  sendJson(res, 400, { error, error_description: description });
}

export async function handleManagedIdentity(emu, req, res, url) {
  // MSAL adds a trailing slash to an overridden IMDS address
  // (AZURE_POD_IDENTITY_AUTHORITY_HOST); the service takes both.
  const route = ROUTES.get(url.pathname.replace(/(.)\/$/, '$1'));
  if (!route || req.method !== 'GET') return false;
  const q = Object.fromEntries(url.searchParams);
  if (route.kind === 'imds' && req.headers.metadata !== 'true') {
    badRequest(res, 'Required metadata header not specified');
    return true;
  }
  if (route.kind === 'appservice' && req.headers['x-identity-header'] !== IDENTITY_HEADER) {
    badRequest(res, 'The X-IDENTITY-HEADER header is missing or does not match.');
    return true;
  }
  if (!q['api-version']) {
    badRequest(res, 'Required query variable \'api-version\' is missing');
    return true;
  }
  if (!q.resource) {
    badRequest(res, 'Required query variable \'resource\' is missing');
    return true;
  }
  const wanted = q.client_id || q.principal_id || q.object_id;
  const app = findApp(MANAGED_IDENTITY);
  if (wanted && wanted !== app.appId && wanted !== app.servicePrincipalOid) {
    badRequest(res, 'Identity not found');
    return true;
  }
  const resource = resourceFromUri(q.resource);
  if (!resource) {
    const entry = AAD.unknownResource(q.resource, 'Contoso');
    badRequest(res, `AADSTS${entry.code}: ${entry.message}`, entry.error);
    return true;
  }
  emu.stats.tokenRequests.managed_identity = (emu.stats.tokenRequests.managed_identity || 0) + 1;
  const tokens = issueTokens(emu, {
    appOnly: true, app, tenant: findTenant(app.tenantId),
    scope: { resource, granted: [], oidc: new Set(), exchange: RESOURCES.get(resource).exchange },
  });
  const now = Math.floor(Date.now() / 1000);
  const body = route.kind === 'imds'
    ? {
      access_token: tokens.access_token, refresh_token: '', expires_in: String(tokens.expires_in),
      expires_on: String(now + tokens.expires_in), ext_expires_in: String(tokens.expires_in),
      not_before: String(now), resource: q.resource, token_type: 'Bearer', client_id: app.appId,
    }
    : {
      access_token: tokens.access_token, expires_on: String(now + tokens.expires_in), resource: q.resource,
      token_type: 'Bearer', client_id: app.appId,
    };
  if (await applySimpleFault(takeFault(emu, 'managedidentity'), res, body)) return true;
  sendJson(res, 200, body);
  return true;
}
