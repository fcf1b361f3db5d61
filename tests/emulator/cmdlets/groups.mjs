// *-DistributionGroup, *-DistributionGroupMember, *-UnifiedGroup,
// *-UnifiedGroupLinks. Members and links are recipient refs; a removed
// recipient drops out of every group.
import { EXO } from '../exchange-errors.mjs';
import {
  typeSet, readPredicates, listingResult, arrayListing, missing, checkNewRecipient,
} from './common.mjs';
import { recordFrom, setRecord, removeRecord } from './recipients.mjs';

function list(value) {
  if (value === undefined || value === null) return [];
  return Array.isArray(value) ? value : [value];
}

// Identities -> refs, or {error} for the first one not found.
function resolveAll(store, identities, kinds) {
  const refs = [];
  for (const identity of list(identities)) {
    const ref = store.findRecipient(identity, kinds);
    if (!ref) return { error: EXO.notFound(identity) };
    if (!refs.some((r) => store.sameRef(r, ref))) refs.push(ref);
  }
  return { refs };
}

function nameOf(store, ref) {
  return store.objectOf(ref).Name;
}

function aliasFrom(text) {
  return String(text).replace(/[^A-Za-z0-9._-]/g, '');
}

// The paged members (or links) of a record.
function membersResult(store, refs, params) {
  return listingResult(arrayListing(refs, (ref) => store.recipientView(ref), (ref) => store.exists(ref)), params);
}

function getDistributionGroup({ store }, params) {
  if (params.Identity !== undefined) {
    const found = recordFrom(store, 'group', params);
    return found.error ? found : { objects: [found.record.object] };
  }
  const types = typeSet(params.RecipientTypeDetails);
  const read = readPredicates(params);
  if (read.error) return read;
  let manager = null;
  if (params.ManagedBy !== undefined) {
    const ref = store.findRecipient(params.ManagedBy);
    if (!ref) return { error: EXO.notFound(params.ManagedBy) };
    manager = nameOf(store, ref).toLowerCase();
  }
  const keep = (r) => (!types || types.has(r.object.RecipientTypeDetails.toLowerCase()))
    && (!manager || r.object.ManagedBy.some((m) => m.toLowerCase() === manager)) && read.test(r.object);
  return listingResult(arrayListing(store.list('group'), (r) => r.object, keep), params);
}

function newDistributionGroup({ store, tenant }, params) {
  if (!params.Name) return missing('Name');
  const alias = params.Alias || aliasFrom(params.Name);
  const smtp = params.PrimarySmtpAddress || `${alias}@${tenant.domain}`;
  const conflict = checkNewRecipient(store, params.Name, [smtp]);
  if (conflict) return { error: conflict };
  const members = resolveAll(store, params.Members);
  if (members.error) return members;
  const managers = resolveAll(store, params.ManagedBy);
  if (managers.error) return managers;
  const security = String(params.Type || '').toLowerCase() === 'security';
  const details = params.RoomList ? 'RoomList' : security ? 'MailUniversalSecurityGroup' : 'MailUniversalDistributionGroup';
  const record = store.addRecord('group', store.newRecipientObject('group', {
    name: params.Name, alias, displayName: params.DisplayName || params.Name, smtp,
    recipientType: security ? 'MailUniversalSecurityGroup' : 'MailUniversalDistributionGroup', recipientTypeDetails: details,
    extra: {
      ManagedBy: managers.refs.map((r) => nameOf(store, r)),
      'ManagedBy@odata.type': '#Collection(String)',
      GroupType: security ? 'Universal, SecurityEnabled' : 'Universal',
      MemberJoinRestriction: params.MemberJoinRestriction || 'Closed',
      MemberDepartRestriction: params.MemberDepartRestriction || 'Closed',
      RequireSenderAuthenticationEnabled: params.RequireSenderAuthenticationEnabled ?? true,
      Notes: params.Notes ?? '',
    },
  }), { members: members.refs });
  return { objects: [record.object] };
}

function setDistributionGroup({ store }, params) {
  const fields = { ...params };
  if (params.ManagedBy !== undefined && params.Identity !== undefined) {
    const found = recordFrom(store, 'group', params);
    if (found.error) return found;
    const edit = params.ManagedBy;
    const isEdit = edit && typeof edit === 'object' && !Array.isArray(edit);
    const named = isEdit ? Object.values(edit).flat() : list(edit);
    const resolved = resolveAll(store, named);
    if (resolved.error) return resolved;
    const canonical = (identity) => nameOf(store, store.findRecipient(identity));
    fields.ManagedBy = isEdit
      ? Object.fromEntries(Object.entries(edit).map(([k, v]) => [k, list(v).map(canonical)]))
      : named.map(canonical);
  }
  return setRecord(store, 'group', fields);
}

function groupMembers(store, params) {
  const found = recordFrom(store, 'group', params);
  if (found.error) return found;
  return { record: found.record };
}

// Add-/Remove-DistributionGroupMember's common part: the group, the
// -Member recipient, and where it stands in the members (-1: not there).
function memberOf(store, params) {
  const group = groupMembers(store, params);
  if (group.error) return group;
  if (params.Member === undefined) return missing('Member');
  const ref = store.findRecipient(params.Member);
  if (!ref) return { error: EXO.notFound(params.Member) };
  const { record } = group;
  const index = record.members.findIndex((m) => store.exists(m) && store.sameRef(m, ref));
  return { record, ref, index };
}

function addMember({ store }, params) {
  const found = memberOf(store, params);
  if (found.error) return found;
  const { record, ref, index } = found;
  if (index >= 0) return { error: EXO.memberExists(params.Member, record.object.Name) };
  record.members.push(ref);
  return { objects: [] };
}

function removeMember({ store }, params) {
  const found = memberOf(store, params);
  if (found.error) return found;
  const { record, index } = found;
  if (index < 0) return { error: EXO.notMember(params.Member, record.object.Name) };
  record.members.splice(index, 1);
  return { objects: [] };
}

function updateMembers({ store }, params) {
  const group = groupMembers(store, params);
  if (group.error) return group;
  const members = resolveAll(store, params.Members);
  if (members.error) return members;
  group.record.members = members.refs;
  return { objects: [] };
}

const LINK_TYPES = ['members', 'owners', 'subscribers', 'aggregators', 'eventsubscribers'];

function linkType(params) {
  if (params.LinkType === undefined) return missing('LinkType');
  const type = String(params.LinkType).toLowerCase();
  if (!LINK_TYPES.includes(type)) return { error: EXO.notInSet('LinkType', params.LinkType, ['Members', 'Owners', 'Subscribers', 'Aggregators', 'EventSubscribers']) };
  return { type };
}

function newUnifiedGroup({ store, tenant }, params) {
  if (!params.DisplayName) return missing('DisplayName');
  const alias = params.Alias || aliasFrom(params.DisplayName).toLowerCase();
  const name = params.Name || alias;
  const smtp = params.PrimarySmtpAddress || `${alias}@${tenant.domain}`;
  const conflict = checkNewRecipient(store, name, [smtp]);
  if (conflict) return { error: conflict };
  const owners = resolveAll(store, params.Owner, ['mailbox']);
  if (owners.error) return owners;
  const members = resolveAll(store, params.Members, ['mailbox']);
  if (members.error) return members;
  for (const owner of owners.refs) if (!members.refs.some((m) => store.sameRef(m, owner))) members.refs.push(owner);
  const record = store.addRecord('unified', store.newRecipientObject('unified', {
    name, alias, displayName: params.DisplayName, smtp,
    recipientType: 'MailUniversalDistributionGroup', recipientTypeDetails: 'GroupMailbox',
    extra: {
      AccessType: params.AccessType || 'Public',
      Notes: params.Notes ?? '',
      Language: params.Language || 'en-US',
      ManagedBy: owners.refs.map((r) => nameOf(store, r)),
      'ManagedBy@odata.type': '#Collection(String)',
    },
  }), { members: members.refs, owners: owners.refs, subscribers: [], aggregators: [], eventsubscribers: [] });
  return { objects: [record.object] };
}

function getLinks({ store }, params) {
  const found = recordFrom(store, 'unified', params);
  if (found.error) return found;
  const type = linkType(params);
  if (type.error) return type;
  return membersResult(store, found.record[type.type], params);
}

function editLinks(adding) {
  return ({ store }, params) => {
    const found = recordFrom(store, 'unified', params);
    if (found.error) return found;
    const type = linkType(params);
    if (type.error) return type;
    if (params.Links === undefined) return missing('Links');
    const links = resolveAll(store, params.Links, ['mailbox', 'mailUser']);
    if (links.error) return links;
    const { record } = found;
    const current = record[type.type];
    for (const ref of links.refs) {
      const index = current.findIndex((r) => store.sameRef(r, ref));
      if (adding && index < 0) current.push(ref);
      if (!adding && index >= 0) current.splice(index, 1);
    }
    if (type.type === 'owners') record.object.ManagedBy = record.owners.filter((r) => store.exists(r)).map((r) => nameOf(store, r));
    return { objects: [] };
  };
}

export const GROUP_CMDLETS = {
  'Get-DistributionGroup': getDistributionGroup,
  'New-DistributionGroup': newDistributionGroup,
  'Set-DistributionGroup': setDistributionGroup,
  'Remove-DistributionGroup': ({ store }, params) => removeRecord(store, 'group', params),
  'Get-DistributionGroupMember': ({ store }, params) => {
    const group = groupMembers(store, params);
    return group.error ? group : membersResult(store, group.record.members, params);
  },
  'Add-DistributionGroupMember': addMember,
  'Remove-DistributionGroupMember': removeMember,
  'Update-DistributionGroupMember': updateMembers,
  'Get-UnifiedGroup': ({ store }, params) => {
    if (params.Identity !== undefined) {
      const found = recordFrom(store, 'unified', params);
      return found.error ? found : { objects: [found.record.object] };
    }
    const read = readPredicates(params);
    if (read.error) return read;
    return listingResult(arrayListing(store.list('unified'), (r) => r.object, (r) => read.test(r.object)), params);
  },
  'New-UnifiedGroup': newUnifiedGroup,
  'Set-UnifiedGroup': ({ store }, params) => setRecord(store, 'unified', params),
  'Remove-UnifiedGroup': ({ store }, params) => removeRecord(store, 'unified', params),
  'Get-UnifiedGroupLinks': getLinks,
  'Add-UnifiedGroupLinks': editLinks(true),
  'Remove-UnifiedGroupLinks': editLinks(false),
};
