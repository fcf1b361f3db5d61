// Security & Compliance PowerShell's admin REST endpoint (Connect-IPPSSession),
// in the same InvokeCommand dialect as Exchange's but on its own host and
// with its own token resource, as the real service has (docs/compliance.md):
//
//   real:      https://ps.compliance.protection.outlook.com/adminapi/beta/{tenant}/InvokeCommand
//              token audience https://ps.compliance.protection.outlook.com
//   emulator:  https://localhost:PORT/adminapi/beta/{tenant}/InvokeCommand
//              (the server certificate covers localhost; 127.0.0.1 stays Exchange)
//
// A token for Exchange is refused here and a token for this resource is
// refused by Exchange (bearer.mjs checks the audience's product).
import { randomUUID } from 'node:crypto';
import { RESOURCES, findTenant } from './directory.mjs';
import { checkBearer, challengeHeaders } from './bearer.mjs';
import { EXO, sendExchangeError, exchangeHeaders } from './exchange-errors.mjs';
import { readBody, parseJson, sendJson } from './http.mjs';

export const COMPLIANCE_HOST = 'localhost';
export const COMPLIANCE_RESOURCE = 'https://ps.compliance.protection.outlook.com';

// The S&C token resources per cloud. Registered with the directory here, so
// that the identity platform issues tokens for them, and only this endpoint
// accepts them (`compliance`, not `exchange`).
const COMPLIANCE_SCOPES = ['AdminApi.AccessAsUser.All'];
for (const resource of [COMPLIANCE_RESOURCE, 'https://ps.compliance.protection.office365.us',
  'https://l5.ps.compliance.protection.office365.us', 'https://ps.compliance.protection.partner.outlook.cn']) {
  RESOURCES.set(resource, { scopes: COMPLIANCE_SCOPES, exchange: false, compliance: true });
}

const PATH = /^\/adminapi\/(beta|v1\.0)\/([^/]+)\/InvokeCommand$/i;

// tenant id -> { searches: Map(name -> search), actions: Map(name -> action) }
const stores = new WeakMap();

function storeOf(emu, tenant) {
  let byTenant = stores.get(emu);
  if (!byTenant) {
    byTenant = new Map();
    stores.set(emu, byTenant);
  }
  if (!byTenant.has(tenant.id)) byTenant.set(tenant.id, { searches: new Map(), actions: new Map() });
  return byTenant.get(tenant.id);
}

const now = () => new Date().toISOString();

function fixedPolicies(tenant) {
  return {
    retention: [
      { Name: 'Mailbox retention 7 years', Guid: '0b6e5f0a-2f39-4c8e-9d57-7a0a1c3d5e01', Enabled: true, Mode: 'Enforce',
        ExchangeLocation: ['All'], DistributionStatus: 'Success', Workload: 'Exchange' },
      { Name: 'Teams chats 1 year', Guid: '0b6e5f0a-2f39-4c8e-9d57-7a0a1c3d5e02', Enabled: true, Mode: 'Enforce',
        ExchangeLocation: [], DistributionStatus: 'Success', Workload: 'Skype' },
    ],
    dlp: [
      { Name: 'U.S. Financial Data', Guid: '5a1c7e3f-93d2-4c4b-8e6a-2b1f0d9c8a01', Mode: 'Enable', Enabled: true,
        ExchangeLocation: ['All'], Workload: 'Exchange, SharePoint, OneDriveForBusiness', Priority: 0 },
    ],
    labels: [
      { Name: 'Public', DisplayName: 'Public', ImmutableId: '7d2f0c3e-6a1b-4e8d-9c5f-3b2a1d0e9f01', Priority: 0,
        ContentType: 'File, Email', Disabled: false, Tooltip: `Public information of ${tenant.displayName}` },
      { Name: 'Confidential', DisplayName: 'Confidential', ImmutableId: '7d2f0c3e-6a1b-4e8d-9c5f-3b2a1d0e9f02',
        Priority: 1, ContentType: 'File, Email', Disabled: false, Tooltip: 'Internal use only' },
    ],
  };
}

// Get-X [-Identity name-or-guid]: the list, or the one object, or NotFound.
function pick(list, identity, idField = 'Guid') {
  if (identity === undefined) return { objects: list };
  const id = String(identity).toLowerCase();
  const found = list.filter((o) => o.Name.toLowerCase() === id || String(o[idField]).toLowerCase() === id);
  return found.length ? { objects: found } : { error: EXO.notFound(identity) };
}

const asArray = (v) => (v === undefined ? [] : Array.isArray(v) ? v.map(String) : [String(v)]);

// Searches finish by the time they are read again after a start.
function readSearch(search) {
  if (search.Status === 'InProgress') {
    search.Status = 'Completed';
    search.JobEndTime = now();
    search.Items = 42 * Math.max(1, search.ExchangeLocation.length);
    search.Size = search.Items * 18000;
  }
  return { ...search };
}

const CMDLETS = {
  'Get-ComplianceSearch': ({ store }, p) => pick([...store.searches.values()].map(readSearch), p.Identity, 'Identity'),
  'New-ComplianceSearch': ({ store, tenant, runBy }, p) => {
    if (p.Name === undefined) return { error: EXO.badRequest("Cannot process command because of one or more missing mandatory parameters: Name.") };
    const name = String(p.Name);
    if (store.searches.has(name.toLowerCase())) {
      return { error: EXO.badRequest(`A compliance search with the name '${name}' already exists.`) };
    }
    const search = {
      Name: name, Identity: randomUUID(), RunBy: runBy, TenantId: tenant.id,
      ContentMatchQuery: p.ContentMatchQuery === undefined ? '' : String(p.ContentMatchQuery),
      ExchangeLocation: asArray(p.ExchangeLocation), Description: p.Description === undefined ? '' : String(p.Description),
      Status: 'NotStarted', Items: 0, Size: 0, CreatedTime: now(), JobStartTime: null, JobEndTime: null,
    };
    store.searches.set(name.toLowerCase(), search);
    return { objects: [{ ...search }] };
  },
  'Start-ComplianceSearch': ({ store }, p) => {
    const search = store.searches.get(String(p.Identity ?? '').toLowerCase());
    if (!search) return { error: EXO.notFound(p.Identity) };
    Object.assign(search, { Status: 'InProgress', JobStartTime: now(), JobEndTime: null });
    return { objects: [] };
  },
  'Get-ComplianceSearchAction': ({ store }, p) => pick([...store.actions.values()], p.Identity, 'Identity'),
  'New-ComplianceSearchAction': ({ store, runBy }, p) => {
    const search = store.searches.get(String(p.SearchName ?? '').toLowerCase());
    if (!search) return { error: EXO.notFound(p.SearchName) };
    if (readSearch(search).Status !== 'Completed') {
      return { error: EXO.badRequest(`The search '${search.Name}' has not completed. Run Start-ComplianceSearch first.`) };
    }
    const kind = ['Preview', 'Purge', 'Export'].find((k) => p[k] === true || p[k] === 'true');
    if (!kind) return { error: EXO.badRequest('Specify one of -Preview, -Purge or -Export.') };
    const action = {
      Name: `${search.Name}_${kind}`, Identity: randomUUID(), SearchName: search.Name, Action: kind, RunBy: runBy,
      Status: 'Completed', PurgeType: kind === 'Purge' ? String(p.PurgeType ?? 'SoftDelete') : null,
      Results: `Item count: ${search.Items}`, CreatedTime: now(), JobEndTime: now(),
    };
    store.actions.set(action.Name.toLowerCase(), action);
    return { objects: [{ ...action }] };
  },
  'Get-RetentionCompliancePolicy': ({ tenant }, p) => pick(fixedPolicies(tenant).retention, p.Identity),
  'Get-DlpCompliancePolicy': ({ tenant }, p) => pick(fixedPolicies(tenant).dlp, p.Identity),
  'Get-Label': ({ tenant }, p) => pick(fixedPolicies(tenant).labels, p.Identity, 'ImmutableId'),
};
const BY_NAME = new Map(Object.entries(CMDLETS).map(([name, run]) => [name.toLowerCase(), { name, run }]));

// Answers true when it handled the request: InvokeCommand on the S&C host.
export async function handleCompliance(emu, req, res, url) {
  const match = PATH.exec(url.pathname);
  if (!match || String(req.headers.host || '').split(':')[0].toLowerCase() !== COMPLIANCE_HOST) return false;
  emu.stats.complianceRequests = (emu.stats.complianceRequests || 0) + 1;
  const body = await readBody(req);
  if (req.method !== 'POST') {
    sendExchangeError(req, res, EXO.methodNotAllowed(), { Allow: 'POST' });
    return true;
  }
  const auth = checkBearer(emu, req.headers.authorization, 'compliance');
  if (auth.reason) {
    emu.stats.unauthorized += 1;
    res.writeHead(401, { ...challengeHeaders(emu, auth.reason), 'Content-Length': 0 });
    res.end();
    return true;
  }
  const urlTenant = decodeURIComponent(match[2]);
  const tenant = findTenant(urlTenant);
  if (!tenant) {
    sendExchangeError(req, res, EXO.tenantNotFound(urlTenant));
    return true;
  }
  if (tenant.id !== auth.tenant.id) {
    sendExchangeError(req, res, EXO.tenantMismatch(auth.claims.tid, urlTenant));
    return true;
  }
  const input = parseJson(body)?.CmdletInput;
  if (typeof input?.CmdletName !== 'string' || (input.Parameters !== undefined && typeof input.Parameters !== 'object')) {
    sendExchangeError(req, res, EXO.badRequest('The request body must be {"CmdletInput":{"CmdletName":...,"Parameters":{...}}}.'));
    return true;
  }
  const cmdlet = BY_NAME.get(input.CmdletName.toLowerCase());
  if (!cmdlet) {
    sendExchangeError(req, res, EXO.commandNotFound(input.CmdletName));
    return true;
  }
  emu.stats.cmdletRequests[cmdlet.name] = (emu.stats.cmdletRequests[cmdlet.name] || 0) + 1;
  const runBy = String(auth.claims.upn || auth.claims.app_displayname || auth.claims.appid || '');
  const result = cmdlet.run({ store: storeOf(emu, tenant), tenant, runBy }, input.Parameters || {});
  if (result.error) {
    sendExchangeError(req, res, result.error);
    return true;
  }
  const context = `https://${req.headers.host}/adminapi/${match[1]}/${encodeURIComponent(urlTenant)}/$metadata#Collection(Exchange.GenericHashTable)`;
  sendJson(res, 200, { '@odata.context': context, value: result.objects }, {
    ...exchangeHeaders(req),
    'OData-Version': '4.0',
  });
  return true;
}
