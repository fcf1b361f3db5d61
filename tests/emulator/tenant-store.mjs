// One tenant's Exchange data, in memory. Mailboxes 1..N are generated on
// demand (mailboxes.mjs) and only what cmdlets change is stored: a delta per
// changed mailbox, sets of removed/disabled positions, so 100,000 mailboxes
// stay cheap. Mailboxes made by New-Mailbox take positions N+1, N+2, ...
// Groups, contacts, mail users and rules are small explicit lists; removed
// entries leave a null so positions (and paging tokens) stay stable.
//
// A recipient reference ("ref") is {kind:'mailbox', position} or
// {kind:'group'|'unified'|'contact'|'mailUser', record}, record = {object, ...links}.
import { createHash } from 'node:crypto';
import { mailboxAt, identityCandidates, matchesIdentity, organizationIdOf } from './mailboxes.mjs';
import { recipientOf, userOf, casOf, autoReplyOf } from './views.mjs';
import { isoSeconds } from './values.mjs';

// Properties every view of a mailbox shows: a change through one cmdlet
// (Set-Mailbox, Set-User, ...) shows through all.
const COMMON = new Set(['Name', 'Alias', 'DisplayName', 'PrimarySmtpAddress', 'EmailAddresses', 'UserPrincipalName',
  'WindowsEmailAddress', 'HiddenFromAddressListsEnabled', 'RecipientTypeDetails', 'Office', 'FirstName', 'LastName',
  'WhenChanged', 'WhenChangedUTC']);
const EXPLICIT_KINDS = ['group', 'unified', 'contact', 'mailUser'];
const DC_PATH = 'OU=Microsoft Exchange Hosted Organizations,DC=NAMPR01A001,DC=PROD,DC=OUTLOOK,DC=COM';

export function stableGuid(...parts) {
  const h = createHash('sha1').update(parts.join('/')).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${'89ab'[parseInt(h[16], 16) & 3]}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

function lower(value) {
  return String(value).trim().toLowerCase();
}

export class TenantStore {
  constructor(tenant, generated) {
    this.tenant = tenant;
    this.generated = generated;
    this.created = [];
    this.deltas = new Map();
    this.removed = new Set();
    this.disabled = new Set();
    // lower-case identity -> position, for created or renamed mailboxes
    this.names = new Map();
    this.lists = { group: [], unified: [], contact: [], mailUser: [] };
    this.transportRules = [];
    this.mailboxPermissions = new Map();
    this.recipientPermissions = new Map();
    this.folderPermissions = new Map();
    this.inboxRules = new Map();
    this.removedDevices = new Set();
    this.orgChanges = {};
    // Removed mailboxes as Get-Mailbox -SoftDeletedMailbox shows them.
    this.softDeleted = [];
    this.auditSessions = new Map();
    this.serial = 0;
  }

  now() {
    return isoSeconds(Date.now());
  }

  nextSerial() {
    this.serial += 1;
    return this.serial;
  }

  // ---- mailboxes -------------------------------------------------------

  get mailboxSlots() {
    return this.generated + this.created.length;
  }

  // true for a position holding a mailbox (a disabled one only when asked).
  mailboxExists(position, withDisabled = false) {
    if (position < 1 || position > this.mailboxSlots) return false;
    if (position > this.generated) {
      if (this.created[position - this.generated - 1] === null) return false;
    } else if (this.removed.has(position)) {
      return false;
    }
    return withDisabled || !this.disabled.has(position);
  }

  mailboxBase(position) {
    return position > this.generated ? this.created[position - this.generated - 1] : mailboxAt(this.tenant, position);
  }

  delta(position) {
    let delta = this.deltas.get(position);
    if (!delta) {
      delta = { common: {}, mailbox: {}, user: {}, cas: {}, autoReply: {} };
      this.deltas.set(position, delta);
    }
    return delta;
  }

  // facet: the delta part a cmdlet family writes ('mailbox', 'user', ...);
  // shared properties go to 'common'.
  facetFor(position, facet, property) {
    const delta = this.delta(position);
    if (COMMON.has(property)) return delta.common;
    if (!delta[facet]) delta[facet] = {};
    return delta[facet];
  }

  // A derived view (regional settings, calendar processing, ...) with the
  // changes Set- cmdlets wrote into its facet.
  facetView(position, facet, view) {
    const changes = this.deltas.get(position)?.[facet];
    return changes ? { ...view, ...changes } : view;
  }

  mailbox(position) {
    const base = this.mailboxBase(position);
    const delta = this.deltas.get(position);
    return delta ? { ...base, ...delta.common, ...delta.mailbox } : base;
  }

  user(position) {
    const delta = this.deltas.get(position);
    const view = userOf(this.mailbox(position), position, this.disabled.has(position));
    return delta ? { ...view, ...delta.user } : view;
  }

  cas(position) {
    const delta = this.deltas.get(position);
    const view = casOf(this.mailbox(position), position);
    return delta ? { ...view, ...delta.cas } : view;
  }

  autoReply(position) {
    const delta = this.deltas.get(position);
    const view = autoReplyOf(this.mailbox(position));
    return delta ? { ...view, ...delta.autoReply } : view;
  }

  // Remembers identity-bearing values of a changed or new mailbox, so
  // lookups by the new name or address find it.
  indexMailbox(position) {
    const box = this.mailbox(position);
    const keys = [box.Name, box.Alias, box.DisplayName, box.PrimarySmtpAddress, box.UserPrincipalName,
      box.Guid, box.ExternalDirectoryObjectId, box.DistinguishedName,
      ...(box.EmailAddresses || []).map((a) => String(a).replace(/^smtp:/i, ''))];
    for (const key of keys) if (key) this.names.set(lower(key), position);
  }

  // Identity -> position of a mailbox, or 0.
  findMailbox(identity, withDisabled = false) {
    const id = lower(identity);
    const tries = new Set(identityCandidates(this.tenant, id));
    const named = this.names.get(id);
    if (named) tries.add(named);
    for (const position of tries) {
      if (this.mailboxExists(position, withDisabled) && matchesIdentity(this.mailbox(position), id)) return position;
    }
    return 0;
  }

  addMailbox(object) {
    this.created.push(object);
    const position = this.mailboxSlots;
    this.indexMailbox(position);
    return position;
  }

  removeMailbox(position) {
    if (position > this.generated) this.created[position - this.generated - 1] = null;
    else this.removed.add(position);
    this.deltas.delete(position);
    this.disabled.delete(position);
    this.mailboxPermissions.delete(position);
    this.recipientPermissions.delete(`m${position}`);
    this.inboxRules.delete(position);
    for (const key of [...this.folderPermissions.keys()]) {
      if (key.startsWith(`${position}:`)) this.folderPermissions.delete(key);
    }
  }

  // ---- other recipients -------------------------------------------------

  list(kind) {
    return this.lists[kind];
  }

  findIn(kind, identity) {
    const id = lower(identity);
    return this.lists[kind].find((r) => r && matchesIdentity(r.object, id)) || null;
  }

  // Identity -> ref among the kinds asked (mailboxes: 'mailbox'), or null.
  findRecipient(identity, kinds = ['mailbox', ...EXPLICIT_KINDS]) {
    if (identity === undefined || identity === null || String(identity).trim() === '') return null;
    for (const kind of kinds) {
      if (kind === 'mailbox') {
        const position = this.findMailbox(identity);
        if (position) return { kind, position };
      } else {
        const record = this.findIn(kind, identity);
        if (record) return { kind, record };
      }
    }
    return null;
  }

  exists(ref) {
    return ref.kind === 'mailbox' ? this.mailboxExists(ref.position) : !ref.record.removed;
  }

  objectOf(ref) {
    return ref.kind === 'mailbox' ? this.mailbox(ref.position) : ref.record.object;
  }

  recipientView(ref) {
    return recipientOf(this.objectOf(ref));
  }

  sameRef(a, b) {
    return a.kind === b.kind && (a.kind === 'mailbox' ? a.position === b.position : a.record === b.record);
  }

  // The recipient already using an address (SMTP, any case), or null.
  addressOwner(address) {
    const bare = lower(String(address).replace(/^smtp:/i, ''));
    const ref = this.findRecipient(bare);
    if (!ref) return null;
    const object = this.objectOf(ref);
    const addresses = [object.PrimarySmtpAddress, ...(object.EmailAddresses || [])]
      .filter(Boolean).map((a) => lower(String(a).replace(/^smtp:/i, '')));
    return addresses.includes(bare) ? ref : null;
  }

  // The base object of a new recipient, shaped like the generated mailboxes.
  newRecipientObject(kind, { name, alias, displayName, smtp, recipientType, recipientTypeDetails, extra = {} }) {
    const guid = stableGuid(this.tenant.id, kind, name, this.nextSerial());
    const now = this.now();
    return {
      Name: name,
      Alias: alias,
      DisplayName: displayName,
      Identity: name,
      Id: name,
      DistinguishedName: `CN=${name},OU=${this.tenant.domain},${DC_PATH}`,
      Guid: guid,
      'Guid@odata.type': '#Guid',
      ExternalDirectoryObjectId: stableGuid(this.tenant.id, 'directory', guid),
      ExchangeObjectId: guid,
      'ExchangeObjectId@odata.type': '#Guid',
      PrimarySmtpAddress: smtp,
      EmailAddresses: smtp ? [`SMTP:${smtp}`] : [],
      'EmailAddresses@odata.type': '#Collection(String)',
      RecipientType: recipientType,
      RecipientTypeDetails: recipientTypeDetails,
      HiddenFromAddressListsEnabled: false,
      OrganizationId: organizationIdOf(this.tenant),
      ExchangeVersion: '0.20 (15.0.0.0)',
      ...extra,
      WhenCreated: now,
      'WhenCreated@odata.type': '#DateTimeOffset',
      WhenCreatedUTC: now,
      'WhenCreatedUTC@odata.type': '#DateTimeOffset',
      WhenChanged: now,
      'WhenChanged@odata.type': '#DateTimeOffset',
      WhenChangedUTC: now,
      'WhenChangedUTC@odata.type': '#DateTimeOffset',
    };
  }

  addRecord(kind, object, links = {}) {
    const record = { object, ...links };
    this.lists[kind].push(record);
    return record;
  }

  removeRecord(kind, record) {
    const list = this.lists[kind];
    list[list.indexOf(record)] = null;
    record.removed = true;
  }
}

function mailboxRefs(store, from, to) {
  const refs = [];
  for (let i = from; i <= to; i += 1) if (store.mailboxExists(i)) refs.push({ kind: 'mailbox', position: i });
  return refs;
}

// The data a fresh tenant starts with (besides its generated mailboxes).
function seed(store) {
  const { domain, name } = store.tenant;
  const group = (groupName, alias, details, members) => store.addRecord('group', store.newRecipientObject('group', {
    name: groupName, alias, displayName: groupName, smtp: `${alias}@${domain}`,
    recipientType: details, recipientTypeDetails: details,
    extra: { ManagedBy: [], 'ManagedBy@odata.type': '#Collection(String)', GroupType: details.includes('Security') ? 'Universal, SecurityEnabled' : 'Universal',
      MemberJoinRestriction: 'Closed', MemberDepartRestriction: 'Closed', RequireSenderAuthenticationEnabled: true, Notes: '' },
  }), { members: members });
  if (name === 'contoso') {
    group('All Staff', 'allstaff', 'MailUniversalDistributionGroup', mailboxRefs(store, 1, 20));
    group('Sales Team', 'sales', 'MailUniversalDistributionGroup', mailboxRefs(store, 2, 4));
    group('IT Admins', 'itadmins', 'MailUniversalSecurityGroup', mailboxRefs(store, 1, 1));
    store.addRecord('unified', store.newRecipientObject('unified', {
      name: 'ProjectX_1a2b3c', alias: 'projectx', displayName: 'Project X', smtp: `projectx@${domain}`,
      recipientType: 'MailUniversalDistributionGroup', recipientTypeDetails: 'GroupMailbox',
      extra: { AccessType: 'Private', Notes: 'Project X team', ManagedBy: [], 'ManagedBy@odata.type': '#Collection(String)' },
    }), { members: mailboxRefs(store, 1, 3), owners: mailboxRefs(store, 1, 1), subscribers: [], aggregators: [], eventsubscribers: [] });
    store.addRecord('mailUser', store.newRecipientObject('mailUser', {
      name: 'guest01', alias: 'guest01', displayName: 'Guest 01', smtp: `guest01@${domain}`,
      recipientType: 'MailUser', recipientTypeDetails: 'GuestMailUser',
      extra: { ExternalEmailAddress: 'SMTP:guest01@example.net', UserPrincipalName: `guest01_example.net#EXT#@${domain}` },
    }));
    store.transportRules.push(transportRuleObject(store, { Name: 'External Disclaimer', Priority: 0,
      ApplyHtmlDisclaimerText: '<p>External message</p>', FromScope: 'NotInOrganization' }));
  } else {
    group(`${store.tenant.displayName} Staff`, 'staff', 'MailUniversalDistributionGroup', mailboxRefs(store, 1, 10));
  }
  store.addRecord('contact', store.newRecipientObject('contact', {
    name: 'Partner Contact', alias: 'partnercontact', displayName: 'Partner Contact', smtp: 'partner@example.com',
    recipientType: 'MailContact', recipientTypeDetails: 'MailContact',
    extra: { ExternalEmailAddress: 'SMTP:partner@example.com' },
  }));
}

export function transportRuleObject(store, fields) {
  const guid = stableGuid(store.tenant.id, 'transportRule', fields.Name, store.nextSerial());
  return {
    Name: fields.Name,
    Identity: fields.Name,
    Guid: guid,
    'Guid@odata.type': '#Guid',
    ImmutableId: guid,
    Priority: 0,
    State: 'Enabled',
    Mode: 'Enforce',
    Comments: '',
    Description: `If the message matches the conditions of '${fields.Name}'`,
    WhenChanged: store.now(),
    'WhenChanged@odata.type': '#DateTimeOffset',
    ...fields,
  };
}

// The store of a tenant, made on first use.
export function storeFor(emu, tenant) {
  let store = emu.tenantStores.get(tenant.id);
  if (!store) {
    store = new TenantStore(tenant, emu.mailboxCounts.get(tenant.id) || 0);
    seed(store);
    emu.tenantStores.set(tenant.id, store);
  }
  return store;
}

// Forgets every change: the next request sees fresh tenants.
export function resetTenantStores(emu) {
  emu.tenantStores.clear();
  emu.fastPages?.clear();
}
