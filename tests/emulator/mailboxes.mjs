// Generated mailboxes, made on demand from their index (1..N): nothing is
// stored, so 100,000 mailboxes cost no memory. Every 200th is a RoomMailbox
// (room00200), every other 50th a SharedMailbox (shared00050), the rest
// UserMailbox (user00001). GUIDs are derived from (tenant, kind, index) and
// carry the index (masked) in their last group, so a GUID lookup is O(1).

const SEEDS = { guid: 0x1b873593, exchangeGuid: 0x85ebca6b, directory: 0xc2b2ae35 };
const BASE_TIME = Date.UTC(2020, 0, 6, 9, 0, 0);
const DB_COUNT = 40;

// murmur3's finaliser: a cheap, well-mixed 32-bit hash.
function mix(x) {
  let h = x >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

function hex(value, digits) {
  return (value >>> 0).toString(16).padStart(8, '0').slice(8 - digits);
}

function tenantSeed(tenant) {
  let h = 0;
  for (const ch of tenant.id) h = mix(h ^ ch.charCodeAt(0));
  return h;
}

function guidMask(seed) {
  return { lo: mix(seed ^ 0x5bd1e995), hi: mix(seed ^ 0x27d4eb2f) & 0xffff };
}

function guidFor(tenant, kind, index) {
  const seed = mix(tenantSeed(tenant) ^ SEEDS[kind]);
  const a = mix(seed ^ Math.imul(index, 0x9e3779b1));
  const b = mix(a ^ index);
  const mask = guidMask(seed);
  const last = hex(mask.hi, 4) + hex((index ^ mask.lo) >>> 0, 8);
  return `${hex(a, 8)}-${hex(b, 4)}-4${hex(b >>> 16, 3)}-${'89ab'[a & 3]}${hex(a >>> 8, 3)}-${last}`;
}

// The index a GUID of this kind was made from, or 0.
function indexFromGuid(tenant, kind, guid) {
  const seed = mix(tenantSeed(tenant) ^ SEEDS[kind]);
  const mask = guidMask(seed);
  const last = guid.slice(24);
  if (parseInt(last.slice(0, 4), 16) !== mask.hi) return 0;
  return (parseInt(last.slice(4), 16) ^ mask.lo) >>> 0;
}

export function kindOf(index) {
  if (index % 200 === 0) return { prefix: 'room', type: 'RoomMailbox' };
  if (index % 50 === 0) return { prefix: 'shared', type: 'SharedMailbox' };
  return { prefix: 'user', type: 'UserMailbox' };
}

export function mailboxName(index) {
  return `${kindOf(index).prefix}${String(index).padStart(5, '0')}`;
}

// The quotas, limits and settings a mailbox has until Set-Mailbox changes
// them: the same for generated mailboxes and New-Mailbox's.
// Exchange's OrganizationId of a tenant's objects and of its configuration.
export function organizationIdOf(tenant) {
  return `NAMPR01A001.PROD.OUTLOOK.COM/Microsoft Exchange Hosted Organizations/${tenant.domain} - `
    + `NAMPR01A001.PROD.OUTLOOK.COM/ConfigurationUnits/${tenant.domain}/Configuration`;
}

export const MAILBOX_DEFAULTS = Object.freeze({
  UsageLocation: 'United States',
  ProhibitSendQuota: '99 GB (106,300,440,576 bytes)',
  ProhibitSendReceiveQuota: '100 GB (107,374,182,400 bytes)',
  IssueWarningQuota: '98 GB (105,226,698,752 bytes)',
  MaxSendSize: '35 MB (36,700,160 bytes)',
  MaxReceiveSize: '36 MB (37,748,736 bytes)',
  RetentionPolicy: 'Default MRM Policy',
  ForwardingSmtpAddress: null,
  DeliverToMailboxAndForward: false,
});

function titleCase(text) {
  return text[0].toUpperCase() + text.slice(1);
}

// One mailbox as the admin REST API returns it (a subset of the ~250
// properties, with the @odata.type annotations the service adds).
export function mailboxAt(tenant, index) {
  const { prefix, type } = kindOf(index);
  const name = mailboxName(index);
  const smtp = `${name}@${tenant.domain}`;
  const guid = guidFor(tenant, 'guid', index);
  const created = new Date(BASE_TIME + index * 421000).toISOString().replace('.000Z', 'Z');
  const changed = new Date(BASE_TIME + index * 421000 + (index % 97) * 86400000).toISOString().replace('.000Z', 'Z');
  const dn = `CN=${name},OU=${tenant.domain},OU=Microsoft Exchange Hosted Organizations,DC=NAMPR01A001,DC=PROD,DC=OUTLOOK,DC=COM`;
  const db = `NAMPR01DG${String(100 + (index % DB_COUNT)).padStart(3, '0')}-db${String(index % 997).padStart(3, '0')}`;
  const shared = type === 'SharedMailbox';
  const room = type === 'RoomMailbox';
  return {
    Name: name,
    Alias: name,
    DisplayName: `${titleCase(prefix)} ${String(index).padStart(5, '0')}`,
    Identity: name,
    Id: name,
    DistinguishedName: dn,
    Guid: guid,
    'Guid@odata.type': '#Guid',
    ExchangeGuid: guidFor(tenant, 'exchangeGuid', index),
    'ExchangeGuid@odata.type': '#Guid',
    ExternalDirectoryObjectId: guidFor(tenant, 'directory', index),
    ExchangeObjectId: guid,
    'ExchangeObjectId@odata.type': '#Guid',
    PrimarySmtpAddress: smtp,
    UserPrincipalName: smtp,
    WindowsEmailAddress: smtp,
    EmailAddresses: [`SMTP:${smtp}`, `smtp:${name}@${tenant.name}.mail.onmicrosoft.com`],
    'EmailAddresses@odata.type': '#Collection(String)',
    RecipientType: 'UserMailbox',
    RecipientTypeDetails: type,
    IsShared: shared,
    IsResource: room,
    ResourceType: room ? 'Room' : null,
    Database: db,
    ServerName: `nampr01mb${String(1000 + (index % 5000)).padStart(4, '0')}`,
    OrganizationalUnit: `NAMPR01A001.PROD.OUTLOOK.COM/Microsoft Exchange Hosted Organizations/${tenant.domain}`,
    OrganizationId: organizationIdOf(tenant),
    ExchangeVersion: '0.20 (15.0.0.0)',
    IsMailboxEnabled: true,
    HiddenFromAddressListsEnabled: room,
    LitigationHoldEnabled: index % 25 === 0,
    ArchiveStatus: index % 10 === 0 ? 'Active' : 'None',
    ...MAILBOX_DEFAULTS,
    WhenCreated: created,
    'WhenCreated@odata.type': '#DateTimeOffset',
    WhenCreatedUTC: created,
    'WhenCreatedUTC@odata.type': '#DateTimeOffset',
    WhenChanged: changed,
    'WhenChanged@odata.type': '#DateTimeOffset',
    WhenChangedUTC: changed,
    'WhenChangedUTC@odata.type': '#DateTimeOffset',
  };
}

const NAME = /^(user|shared|room)(\d{5,})$/;
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

// True when id (lower case) names this object: Name, Alias, DisplayName,
// UPN, any SMTP address, GUIDs or DN, as Exchange's -Identity accepts.
export function matchesIdentity(object, id) {
  const candidates = [object.Name, object.Alias, object.DisplayName, object.Identity, object.PrimarySmtpAddress,
    object.UserPrincipalName, object.Guid, object.ExchangeGuid, object.ExternalDirectoryObjectId,
    object.DistinguishedName, object.ExternalEmailAddress?.replace(/^smtp:/i, ''),
    ...(object.EmailAddresses || []).map((a) => String(a).replace(/^smtp:/i, ''))];
  return candidates.some((c) => c !== undefined && c !== null && String(c).toLowerCase() === id);
}

// Indexes of generated mailboxes id (lower case) may name, found from the
// name or GUID alone; callers confirm with matchesIdentity.
export function identityCandidates(tenant, id) {
  const tries = new Set();
  if (GUID.test(id)) {
    for (const kind of Object.keys(SEEDS)) tries.add(indexFromGuid(tenant, kind, id));
  } else {
    const local = id.replace(/^smtp:/, '').replace(/^cn=/, '').split(/[@,]/)[0];
    const byName = NAME.exec(local);
    if (byName) tries.add(Number(byName[2]));
    const byDisplay = /^(user|shared|room) (\d{5,})$/.exec(id);
    if (byDisplay) tries.add(Number(byDisplay[2]));
  }
  return tries;
}

// Identity (name, alias, display name, UPN, SMTP address, GUID, DN) -> the
// generated mailbox as made, or null.
export function findMailbox(tenant, count, identity) {
  const id = String(identity).trim().toLowerCase();
  for (const index of identityCandidates(tenant, id)) {
    if (index >= 1 && index <= count) {
      const box = mailboxAt(tenant, index);
      if (matchesIdentity(box, id)) return box;
    }
  }
  return null;
}
