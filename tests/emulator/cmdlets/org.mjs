// Get-OrganizationConfig, Set-OrganizationConfig, Get-AcceptedDomain, and
// the tenant-wide settings report scripts read: role groups and their
// members, retention policies, remote domains (auto-forwarding), mail
// connectors (a new tenant has none).
import { EXO } from '../exchange-errors.mjs';
import { stableGuid } from '../tenant-store.mjs';
import { organizationIdOf } from '../mailboxes.mjs';
import { changesOf, writeChanges, unchanged, readPredicates, arrayListing, listingResult } from './common.mjs';

function organizationConfig(store) {
  const { tenant } = store;
  return {
    Name: tenant.domain,
    DisplayName: tenant.displayName,
    Identity: tenant.domain,
    Guid: tenant.id,
    'Guid@odata.type': '#Guid',
    ExchangeObjectId: tenant.id,
    OrganizationId: organizationIdOf(tenant),
    IsDehydrated: false,
    OAuth2ClientProfileEnabled: true,
    AuditDisabled: false,
    CustomerLockboxEnabled: false,
    FocusedInboxOn: true,
    MailTipsAllTipsEnabled: true,
    SmtpClientAuthenticationDisabled: true,
    ...store.orgChanges,
  };
}

function acceptedDomains(tenant) {
  return [
    { Name: tenant.domain, DomainName: tenant.domain, Identity: tenant.domain, DomainType: 'Authoritative', Default: true },
    { Name: `${tenant.name}.mail.onmicrosoft.com`, DomainName: `${tenant.name}.mail.onmicrosoft.com`,
      Identity: `${tenant.name}.mail.onmicrosoft.com`, DomainType: 'Authoritative', Default: false },
  ];
}

function setOrganizationConfig({ store }, params) {
  const current = organizationConfig(store);
  const { changes, error } = changesOf(current, params);
  if (error) return { error };
  if (Object.keys(changes).length === 0) return unchanged(store.tenant.domain);
  writeChanges(store.orgChanges, changes, store.now());
  return { objects: [] };
}

function getAcceptedDomain({ tenant }, params) {
  const domains = acceptedDomains(tenant);
  if (params.Identity === undefined) return { objects: domains };
  const id = String(params.Identity).toLowerCase();
  const found = domains.find((d) => d.Name.toLowerCase() === id);
  return found ? { objects: [found] } : { error: EXO.notFound(params.Identity) };
}

// Built-in role groups: [name, roles, member UPNs].
const ROLE_GROUPS = [
  ['Organization Management', ['Organization Configuration', 'Role Management', 'Mail Recipients', 'Audit Logs'], ['admin']],
  ['Recipient Management', ['Mail Recipients', 'Distribution Groups', 'Move Mailboxes'], []],
  ['View-Only Organization Management', ['View-Only Configuration', 'View-Only Recipients'], []],
  ['Compliance Management', ['Audit Logs', 'Retention Management', 'Data Loss Prevention'], ['admin']],
  ['Help Desk', ['Reset Password', 'User Options', 'View-Only Recipients'], []],
  ['Records Management', ['Retention Management', 'Message Tracking'], []],
  ['Security Administrator', ['Security Admin'], []],
  ['Discovery Management', ['Legal Hold', 'Mailbox Search'], []],
];

function roleGroups(tenant) {
  return ROLE_GROUPS.map(([name, roles, members]) => ({
    Name: name,
    DisplayName: name,
    Identity: name,
    Guid: stableGuid(tenant.id, 'roleGroup', name),
    'Guid@odata.type': '#Guid',
    RoleGroupType: 'Standard',
    Roles: roles,
    'Roles@odata.type': '#Collection(String)',
    Members: members.map((m) => `${m}@${tenant.domain}`),
    'Members@odata.type': '#Collection(String)',
    ManagedBy: [],
    'ManagedBy@odata.type': '#Collection(String)',
    Capabilities: [],
    'Capabilities@odata.type': '#Collection(String)',
  }));
}

// A fixed list answered as Exchange does: -Identity (Name or Identity, any
// case) gives one object or 404; otherwise Filter and ResultSize apply.
function fixedList(make) {
  return ({ store }, params) => {
    const items = make(store.tenant);
    if (params.Identity !== undefined) {
      const id = String(params.Identity).toLowerCase();
      const found = items.find((item) => [item.Name, item.Identity, item.Guid].some((v) => v && String(v).toLowerCase() === id));
      return found ? { objects: [found] } : { error: EXO.notFound(params.Identity) };
    }
    const read = readPredicates(params);
    if (read.error) return read;
    return listingResult(arrayListing(items, (item) => item, read.test), params);
  };
}

function getRoleGroupMember({ tenant }, params) {
  if (params.Identity === undefined) return { error: EXO.missingParameter('Identity') };
  const id = String(params.Identity).toLowerCase();
  const group = roleGroups(tenant).find((g) => g.Name.toLowerCase() === id);
  if (!group) return { error: EXO.notFound(params.Identity) };
  return {
    objects: group.Members.map((upn) => ({
      Name: upn.split('@')[0], DisplayName: upn.split('@')[0], Identity: upn.split('@')[0],
      RecipientType: 'User', RecipientTypeDetails: 'User', WindowsLiveID: upn, PrimarySmtpAddress: upn,
    })),
  };
}

const retentionPolicies = () => [{
  Name: 'Default MRM Policy',
  Identity: 'Default MRM Policy',
  IsDefault: true,
  IsDefaultArbitrationMailbox: false,
  RetentionPolicyTagLinks: ['1 Month Delete', '1 Week Delete', '1 Year Delete', '5 Year Delete', 'Default 2 year move to archive',
    'Deleted Items', 'Never Delete', 'Personal 1 year move to archive', 'Recoverable Items 14 days move to archive'],
  'RetentionPolicyTagLinks@odata.type': '#Collection(String)',
}];

const remoteDomains = () => [{
  Name: 'Default',
  Identity: 'Default',
  DomainName: '*',
  AutoForwardEnabled: true,
  AutoReplyEnabled: true,
  DeliveryReportEnabled: true,
  NDREnabled: true,
  AllowedOOFType: 'External',
  TNEFEnabled: null,
  ContentType: 'MimeHtmlText',
  IsInternal: false,
}];

export const ORG_CMDLETS = {
  'Get-RoleGroup': fixedList(roleGroups),
  'Get-RoleGroupMember': getRoleGroupMember,
  'Get-RetentionPolicy': fixedList(retentionPolicies),
  'Get-RemoteDomain': fixedList(remoteDomains),
  'Get-InboundConnector': fixedList(() => []),
  'Get-OutboundConnector': fixedList(() => []),
  'Get-OrganizationConfig': ({ store }) => ({ objects: [organizationConfig(store)] }),
  'Set-OrganizationConfig': setOrganizationConfig,
  'Get-AcceptedDomain': getAcceptedDomain,
};
