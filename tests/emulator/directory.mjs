// The emulated directory: tenants, users, registered applications and the
// resources (APIs) a token can be asked for.

export const PASSWORD = 'P@ssw0rd!';

export const EXCHANGE_PUBLIC_CLIENT = 'fb78d390-0c51-40cd-8e17-fdbfab77341b';
// The confidential app registered in contoso for app-only sign-in with the
// emulator-made certificate (DIR/app-cert.pem, DIR/app-key.pem).
export const CONTOSO_APP = '3c0b1a5e-7d2f-4e8a-9b6c-1f2e3d4c5b6a';
export const EXCHANGE_APP_ID = '00000002-0000-0ff1-ce00-000000000000';
// A public client of contoso's registered with http://127.0.0.1 (not
// localhost): what -RedirectUri http://127.0.0.1 is for.
export const LOOPBACK_IP_APP = '7a1c3e5f-2b4d-4f6a-8c9e-0d1f2a3b4c5d';
// contoso's managed identity (system-assigned; its client id also selects it)
export const MANAGED_IDENTITY = '5e7d9c1b-3a2f-4d6e-8b0a-9c8d7e6f5a4b';
// What the managed identity endpoint expects in X-IDENTITY-HEADER (test data).
export const IDENTITY_HEADER = 'emulator-identity-header';

export const TENANTS = [
  {
    id: '6babcaad-604b-40ac-a9d7-9fd97c0b779f',
    domain: 'contoso.onmicrosoft.com',
    name: 'contoso',
    displayName: 'Contoso',
    defaultMailboxes: 2500,
  },
  {
    id: '0f1e2d3c-4b5a-4697-8877-665544332211',
    domain: 'fabrikam.onmicrosoft.com',
    name: 'fabrikam',
    displayName: 'Fabrikam',
    defaultMailboxes: 50,
  },
];

const [CONTOSO, FABRIKAM] = TENANTS;

// oid values are fixed so tests and cached accounts stay stable across runs.
export const USERS = [
  {
    upn: 'admin@contoso.onmicrosoft.com', tenantId: CONTOSO.id,
    oid: 'a1d2c3b4-0001-4a5b-8c7d-6e5f4a3b2c1d', givenName: 'Contoso', surname: 'Admin',
    mfa: true, disabled: false, roles: ['29232cdf-9323-42fd-ade2-1d097af3e4de'],
  },
  {
    upn: 'user@contoso.onmicrosoft.com', tenantId: CONTOSO.id,
    oid: 'a1d2c3b4-0002-4a5b-8c7d-6e5f4a3b2c1d', givenName: 'Contoso', surname: 'User',
    mfa: false, disabled: false, roles: [],
  },
  {
    upn: 'disabled@contoso.onmicrosoft.com', tenantId: CONTOSO.id,
    oid: 'a1d2c3b4-0003-4a5b-8c7d-6e5f4a3b2c1d', givenName: 'Disabled', surname: 'User',
    mfa: false, disabled: true, roles: [],
  },
  {
    upn: 'admin@fabrikam.onmicrosoft.com', tenantId: FABRIKAM.id,
    oid: 'b2e3d4c5-0001-4b6c-9d8e-7f6a5b4c3d2e', givenName: 'Fabrikam', surname: 'Admin',
    mfa: true, disabled: false, roles: ['29232cdf-9323-42fd-ade2-1d097af3e4de'],
  },
].map((u) => ({ ...u, displayName: `${u.givenName} ${u.surname}`, password: PASSWORD }));

// tenantId null: multi-tenant, usable from every tenant.
export const APPS = [
  {
    appId: EXCHANGE_PUBLIC_CLIENT, tenantId: null, publicClient: true,
    displayName: 'Microsoft Exchange REST API Based Powershell',
    redirectUris: ['http://localhost'],
  },
  {
    appId: LOOPBACK_IP_APP, tenantId: CONTOSO.id, publicClient: true,
    displayName: 'Contoso Admin Scripts',
    redirectUris: ['http://127.0.0.1'],
  },
  {
    appId: CONTOSO_APP, tenantId: CONTOSO.id, publicClient: false,
    displayName: 'ExchangeMfa Emulator App',
    redirectUris: [],
    // test data, published in README.md; never a real secret
    secret: 'emulator-app-secret-1',
    servicePrincipalOid: 'c3f4e5d6-0001-4c7d-8e9f-0a1b2c3d4e5f',
    appRoles: ['Exchange.ManageAsApp'],
    // filled at start with the emulator-made app certificate (X509Certificate)
    certificates: [],
  },
  {
    appId: MANAGED_IDENTITY, tenantId: CONTOSO.id, publicClient: false, managedIdentity: true,
    displayName: 'contoso-automation',
    redirectUris: [],
    servicePrincipalOid: 'd4a5b6c7-0001-4d8e-9fa0-1b2c3d4e5f60',
    appRoles: ['Exchange.ManageAsApp'],
    certificates: [],
  },
];

// Delegated permissions each resource grants; `.default` means all of them.
const EXCHANGE_SCOPES = ['AdminApi.AccessAsUser.All', 'FfoPowerShell.AccessAsUser.All',
  'RemotePowerShell.AccessAsUser.All', 'VivaFeatureAccessPolicy.Manage.All'];
export const RESOURCES = new Map([
  ['https://outlook.office365.com', { scopes: EXCHANGE_SCOPES, exchange: true }],
  ['https://outlook.office.com', { scopes: EXCHANGE_SCOPES, exchange: true }],
  ['https://outlook.office365.us', { scopes: EXCHANGE_SCOPES, exchange: true }],
  ['https://outlook-dod.office365.us', { scopes: EXCHANGE_SCOPES, exchange: true }],
  ['https://webmail.apps.mil', { scopes: EXCHANGE_SCOPES, exchange: true }],
  ['https://partner.outlook.cn', { scopes: EXCHANGE_SCOPES, exchange: true }],
  ['https://outlook.office365.cn', { scopes: EXCHANGE_SCOPES, exchange: true }],
  ['https://graph.microsoft.com', { scopes: ['User.Read', 'openid', 'profile', 'email'], exchange: false }],
]);
// Resource app ids that name the same resource as a URL.
const RESOURCE_ALIASES = new Map([[EXCHANGE_APP_ID, 'https://outlook.office365.com']]);

export const OIDC_SCOPES = new Set(['openid', 'profile', 'offline_access', 'email']);

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isGuid(text) {
  return GUID.test(text);
}

export function tenantById(id) {
  return TENANTS.find((t) => t.id === id) || null;
}

// A tenant GUID or domain -> tenant, else null.
export function findTenant(idOrDomain) {
  const key = String(idOrDomain).toLowerCase();
  return TENANTS.find((t) => t.id === key || t.domain === key) || null;
}

// An authority path segment -> {multi: true, segment} for organizations and
// common, {tenant, segment} for a known tenant, null otherwise.
export function resolveAuthority(segment) {
  const lower = String(segment).toLowerCase();
  if (lower === 'organizations' || lower === 'common') return { multi: true, segment: lower, tenant: null };
  const tenant = findTenant(lower);
  return tenant ? { multi: false, segment, tenant } : null;
}

export function findUser(upn) {
  const key = String(upn || '').toLowerCase();
  return USERS.find((u) => u.upn === key) || null;
}

export function findApp(appId) {
  const key = String(appId || '').toLowerCase();
  return APPS.find((a) => a.appId === key) || null;
}

// A v1-style resource URI (managed identity) -> the canonical resource, or null.
export function resourceFromUri(uri) {
  let resource = String(uri || '').toLowerCase().replace(/\/+$/, '');
  resource = RESOURCE_ALIASES.get(resource) || resource;
  return RESOURCES.has(resource) ? resource : null;
}

// Parses a v2.0 `scope` parameter. Answers {resource, granted, oidc} or
// {error: {kind, scope}} with kind 'missing' | 'invalid' | 'unknownResource'
// | 'multipleResources'. Only OIDC scopes means a Graph token, as AAD does.
export function parseScope(scopeParam) {
  const items = String(scopeParam || '').split(/\s+/).filter(Boolean);
  if (items.length === 0) return { error: { kind: 'missing' } };
  const oidc = new Set();
  const wanted = new Map();
  for (const item of items) {
    if (OIDC_SCOPES.has(item.toLowerCase())) {
      oidc.add(item.toLowerCase());
      continue;
    }
    const slash = item.lastIndexOf('/');
    if (slash <= 0) return { error: { kind: 'invalid', scope: item } };
    let resource = item.slice(0, slash).toLowerCase().replace(/\/+$/, '');
    const permission = item.slice(slash + 1);
    resource = RESOURCE_ALIASES.get(resource) || resource;
    const known = RESOURCES.get(resource);
    if (!known) return { error: { kind: 'unknownResource', scope: resource } };
    if (permission !== '.default' && !known.scopes.includes(permission)) {
      return { error: { kind: 'invalid', scope: item } };
    }
    if (!wanted.has(resource)) wanted.set(resource, new Set());
    wanted.get(resource).add(permission);
  }
  if (wanted.size > 1) return { error: { kind: 'multipleResources' } };
  const [resource, perms] = wanted.size === 1
    ? [...wanted.entries()][0]
    : ['https://graph.microsoft.com', new Set(['User.Read'])];
  const known = RESOURCES.get(resource);
  const granted = perms.has('.default') ? [...known.scopes] : [...perms];
  return { resource, granted, oidc, exchange: known.exchange };
}
