// *-MailboxPermission, *-RecipientPermission, *-MailboxFolderPermission.
// Every mailbox starts with Exchange's defaults (SELF; Default/Anonymous on
// folders); explicit entries are stored per mailbox (or folder) only once a
// cmdlet adds one.
import { EXO } from '../exchange-errors.mjs';
import { FOLDERS } from '../views.mjs';
import { listingResult, arrayListing, missing } from './common.mjs';
import { mailboxFrom } from './mailbox.mjs';

const SELF = 'NT AUTHORITY\\SELF';

function list(value) {
  if (value === undefined || value === null) return [];
  return Array.isArray(value) ? value : [value];
}

function sameText(a, b) {
  return String(a).toLowerCase() === String(b).toLowerCase();
}

// The trustee params[name] names: {ref, label}, or {error}.
function trusteeFrom(store, params, name) {
  const identity = params[name];
  if (identity === undefined || identity === null || identity === '') return missing(name);
  if (sameText(identity, SELF)) return { ref: null, label: SELF };
  const ref = store.findRecipient(identity);
  if (!ref) return { error: EXO.notFound(identity) };
  const object = store.objectOf(ref);
  return { ref, label: object.UserPrincipalName || object.PrimarySmtpAddress || object.Name };
}

function matchesTrustee(entry, trustee) {
  return sameText(entry.label, trustee.label);
}

// ---- mailbox permissions ------------------------------------------------

function mailboxPermissionObject(box, entry) {
  return {
    Identity: box.Name,
    User: entry.label,
    AccessRights: entry.rights,
    'AccessRights@odata.type': '#Collection(String)',
    IsInherited: false,
    Deny: entry.deny,
    InheritanceType: entry.inheritance,
    IsValid: true,
  };
}

function mailboxEntries(store, position) {
  return [{ label: SELF, rights: ['FullAccess', 'ReadPermission'], deny: false, inheritance: 'All', builtIn: true },
    ...(store.mailboxPermissions.get(position) || [])];
}

function getMailboxPermission({ store }, params) {
  const found = mailboxFrom(store, params);
  if (found.error) return found;
  const box = store.mailbox(found.position);
  let entries = mailboxEntries(store, found.position);
  if (params.User !== undefined) {
    const trustee = trusteeFrom(store, params, 'User');
    if (trustee.error) return trustee;
    entries = entries.filter((e) => matchesTrustee(e, trustee));
  }
  if (params.Owner) return { objects: [{ Identity: box.Name, Owner: `${box.Name}` }] };
  return listingResult(arrayListing(entries, (e) => mailboxPermissionObject(box, e)), params, Infinity);
}

function addMailboxPermission({ store }, params) {
  const found = mailboxFrom(store, params);
  if (found.error) return found;
  const trustee = trusteeFrom(store, params, 'User');
  if (trustee.error) return trustee;
  const rights = list(params.AccessRights);
  if (rights.length === 0) return missing('AccessRights');
  const deny = Boolean(params.Deny);
  const entries = store.mailboxPermissions.get(found.position) || [];
  let entry = entries.find((e) => matchesTrustee(e, trustee) && e.deny === deny);
  if (!entry) {
    entry = { label: trustee.label, rights: [], deny, inheritance: params.InheritanceType || 'All' };
    entries.push(entry);
  }
  for (const right of rights) if (!entry.rights.some((r) => sameText(r, right))) entry.rights.push(right);
  store.mailboxPermissions.set(found.position, entries);
  return { objects: [mailboxPermissionObject(store.mailbox(found.position), entry)] };
}

function aceMissing(identity, user) {
  return {
    objects: [],
    warnings: [`Can't remove the access control entry on the object "${identity}" for account "${user}" because the ACE doesn't exist on the object.`],
  };
}

function removeMailboxPermission({ store }, params) {
  const found = mailboxFrom(store, params);
  if (found.error) return found;
  const trustee = trusteeFrom(store, params, 'User');
  if (trustee.error) return trustee;
  const rights = list(params.AccessRights);
  const entries = store.mailboxPermissions.get(found.position) || [];
  const entry = entries.find((e) => matchesTrustee(e, trustee) && e.deny === Boolean(params.Deny));
  if (!entry || !rights.some((right) => entry.rights.some((r) => sameText(r, right)))) {
    return aceMissing(params.Identity, params.User);
  }
  entry.rights = entry.rights.filter((r) => !rights.some((right) => sameText(r, right)));
  if (entry.rights.length === 0) entries.splice(entries.indexOf(entry), 1);
  return { objects: [] };
}

// ---- recipient permissions (SendAs) ------------------------------------

function refKey(ref) {
  return ref.kind === 'mailbox' ? `m${ref.position}` : `r${ref.record.object.Guid}`;
}

function recipientPermissionObject(object, entry) {
  return {
    Identity: object.Name,
    Trustee: entry.label,
    AccessControlType: 'Allow',
    AccessRights: entry.rights,
    'AccessRights@odata.type': '#Collection(String)',
    IsInherited: false,
    InheritanceType: 'None',
  };
}

function recipientTarget(store, params) {
  if (params.Identity === undefined) return missing('Identity');
  const ref = store.findRecipient(params.Identity);
  return ref ? { ref } : { error: EXO.notFound(params.Identity) };
}

function getRecipientPermission({ store }, params) {
  let trustee = null;
  if (params.Trustee !== undefined) {
    trustee = trusteeFrom(store, params, 'Trustee');
    if (trustee.error) return trustee;
  }
  const keep = (row) => (!trustee || matchesTrustee(row.entry, trustee));
  let rows;
  if (params.Identity !== undefined) {
    const target = recipientTarget(store, params);
    if (target.error) return target;
    const object = store.objectOf(target.ref);
    const stored = store.recipientPermissions.get(refKey(target.ref))?.entries || [];
    const builtIn = target.ref.kind === 'mailbox' ? [{ label: SELF, rights: ['SendAs'] }] : [];
    rows = [...builtIn, ...stored].map((entry) => ({ object, entry }));
  } else {
    // Without -Identity: the explicit entries of the whole tenant.
    rows = [];
    for (const { ref, entries } of store.recipientPermissions.values()) {
      if (store.exists(ref)) for (const entry of entries) rows.push({ object: store.objectOf(ref), entry });
    }
  }
  return listingResult(arrayListing(rows, (row) => recipientPermissionObject(row.object, row.entry), keep), params);
}

function editRecipientPermission(adding) {
  return ({ store }, params) => {
    const target = recipientTarget(store, params);
    if (target.error) return target;
    const trustee = trusteeFrom(store, params, 'Trustee');
    if (trustee.error) return trustee;
    const key = refKey(target.ref);
    const slot = store.recipientPermissions.get(key) || { ref: target.ref, entries: [] };
    const entry = slot.entries.find((e) => matchesTrustee(e, trustee));
    const object = store.objectOf(target.ref);
    if (adding) {
      if (entry) return { objects: [recipientPermissionObject(object, entry)] };
      const added = { label: trustee.label, rights: ['SendAs'] };
      slot.entries.push(added);
      store.recipientPermissions.set(key, slot);
      return { objects: [recipientPermissionObject(object, added)] };
    }
    if (!entry) return aceMissing(params.Identity, params.Trustee);
    slot.entries.splice(slot.entries.indexOf(entry), 1);
    return { objects: [] };
  };
}

// ---- folder permissions -------------------------------------------------

// "mailbox:\Folder" -> {position, folder name}, or {error}.
function folderFrom(store, params) {
  if (params.Identity === undefined) return missing('Identity');
  const text = String(params.Identity);
  const cut = text.indexOf(':\\');
  const mailbox = cut < 0 ? text : text.slice(0, cut);
  const path = cut < 0 ? '' : text.slice(cut + 2).replace(/\\+$/, '');
  const position = store.findMailbox(mailbox);
  const folder = path === '' ? FOLDERS[0] : FOLDERS.find((f) => sameText(f[0], path) || sameText(f[1], path));
  if (!position || !folder) return { error: EXO.notFound(params.Identity) };
  return { position, folder: folder[0], key: `${position}:${folder[0].toLowerCase()}` };
}

function folderEntries(store, target) {
  let entries = store.folderPermissions.get(target.key);
  if (!entries) {
    const defaults = target.folder === 'Calendar' ? 'AvailabilityOnly' : 'None';
    entries = [{ label: 'Default', rights: [defaults], flags: null }, { label: 'Anonymous', rights: ['None'], flags: null }];
  }
  return entries;
}

function folderPermissionObject(store, target, entry) {
  const box = store.mailbox(target.position);
  return {
    Identity: `${box.Name}:\\${target.folder}`,
    FolderName: target.folder === FOLDERS[0][0] ? 'Top of Information Store' : target.folder,
    User: entry.label,
    AccessRights: entry.rights,
    'AccessRights@odata.type': '#Collection(String)',
    SharingPermissionFlags: entry.flags,
    IsValid: true,
  };
}

// The folder trustee: Default, Anonymous, or a recipient (by display name).
function folderUser(store, params) {
  const identity = params.User;
  if (identity === undefined || identity === null || identity === '') return missing('User');
  if (sameText(identity, 'Default') || sameText(identity, 'Anonymous')) {
    return { label: sameText(identity, 'Default') ? 'Default' : 'Anonymous' };
  }
  const ref = store.findRecipient(identity);
  if (!ref) return { error: EXO.notFound(identity) };
  return { label: store.objectOf(ref).DisplayName };
}

function getFolderPermission({ store }, params) {
  const target = folderFrom(store, params);
  if (target.error) return target;
  let entries = folderEntries(store, target);
  if (params.User !== undefined) {
    const user = folderUser(store, params);
    if (user.error) return user;
    entries = entries.filter((e) => sameText(e.label, user.label));
    if (entries.length === 0) return { error: EXO.permissionEntryMissing(params.User) };
  }
  return { objects: entries.map((e) => folderPermissionObject(store, target, e)) };
}

function editFolderPermission(mode) {
  return ({ store }, params) => {
    const target = folderFrom(store, params);
    if (target.error) return target;
    const user = folderUser(store, params);
    if (user.error) return user;
    const entries = folderEntries(store, target).slice();
    const index = entries.findIndex((e) => sameText(e.label, user.label));
    if (mode === 'add' && index >= 0) return { error: EXO.permissionEntryExists(user.label) };
    if (mode !== 'add' && index < 0) return { error: EXO.permissionEntryMissing(user.label) };
    if (mode === 'remove') {
      entries.splice(index, 1);
      store.folderPermissions.set(target.key, entries);
      return { objects: [] };
    }
    const rights = list(params.AccessRights);
    if (rights.length === 0) return missing('AccessRights');
    const entry = { label: user.label, rights, flags: params.SharingPermissionFlags ?? null };
    if (mode === 'add') entries.push(entry);
    else entries[index] = entry;
    store.folderPermissions.set(target.key, entries);
    return { objects: mode === 'add' ? [folderPermissionObject(store, target, entry)] : [] };
  };
}

export const PERMISSION_CMDLETS = {
  'Get-MailboxPermission': getMailboxPermission,
  'Add-MailboxPermission': addMailboxPermission,
  'Remove-MailboxPermission': removeMailboxPermission,
  'Get-RecipientPermission': getRecipientPermission,
  'Add-RecipientPermission': editRecipientPermission(true),
  'Remove-RecipientPermission': editRecipientPermission(false),
  'Get-MailboxFolderPermission': getFolderPermission,
  'Add-MailboxFolderPermission': editFolderPermission('add'),
  'Set-MailboxFolderPermission': editFolderPermission('set'),
  'Remove-MailboxFolderPermission': editFolderPermission('remove'),
};
