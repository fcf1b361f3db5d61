// *-Mailbox, Get-MailboxStatistics, Get-MailboxFolderStatistics,
// *-CASMailbox, *-MailboxAutoReplyConfiguration, *-MailboxRegionalConfiguration,
// *-CalendarProcessing, *-MailboxJunkEmailConfiguration, *-MobileDevice,
// Get-MobileDeviceStatistics.
// run(ctx, params) with ctx = {store, tenant, firstPage}.
import { EXO } from '../exchange-errors.mjs';
import { kindOf, MAILBOX_DEFAULTS } from '../mailboxes.mjs';
import { stableGuid } from '../tenant-store.mjs';
import {
  statisticsOf, FOLDERS, folderStatisticsOf, hasMobileDevice, mobileDeviceOf, mobileDeviceStatisticsOf, parseSize,
  regionalOf, calendarProcessingOf, junkEmailOf,
} from '../views.mjs';
import {
  typeSet, readPredicates, listingResult, arrayListing, missing, changesOf, unchanged, checkNewRecipient,
  addressChanges,
} from './common.mjs';

const QUOTAS = new Set(['ProhibitSendQuota', 'ProhibitSendReceiveQuota', 'IssueWarningQuota', 'MaxSendSize',
  'MaxReceiveSize', 'RecoverableItemsQuota', 'ArchiveQuota', 'ArchiveWarningQuota']);
const TYPES = { regular: 'UserMailbox', shared: 'SharedMailbox', room: 'RoomMailbox', equipment: 'EquipmentMailbox', workspace: 'WorkspaceMailbox' };
const IDENTITY_KEYS = ['Name', 'Alias', 'DisplayName', 'PrimarySmtpAddress', 'EmailAddresses', 'UserPrincipalName'];

// The position -Identity names, or {error}.
export function mailboxFrom(store, params, name = 'Identity', withDisabled = false) {
  const identity = params[name];
  if (identity === undefined || identity === null || identity === '') return missing(name);
  const position = store.findMailbox(identity, withDisabled);
  return position ? { position } : { error: EXO.notFound(identity) };
}

function typeOf(store, position) {
  if (position <= store.generated && !store.deltas.has(position)) return kindOf(position).type;
  return store.mailbox(position).RecipientTypeDetails;
}

// A listing over every mailbox position, made lazily.
export function mailboxListing(store, view, keep = () => true) {
  return {
    count: store.mailboxSlots,
    matches: (i) => store.mailboxExists(i) && keep(i),
    at: (i) => view(i),
  };
}

// Get-Mailbox-like reads: -Identity, or a listing with RecipientTypeDetails,
// Filter and Anr applied to the view.
function readMailboxes(store, params, view, extraKeep = () => true) {
  if (params.Identity !== undefined) {
    const found = mailboxFrom(store, params);
    if (found.error) return found;
    return { objects: [view(found.position)] };
  }
  const types = typeSet(params.RecipientTypeDetails);
  const read = readPredicates(params);
  if (read.error) return read;
  const plain = params.Filter === undefined && params.Anr === undefined;
  const keep = (i) => (!types || types.has(typeOf(store, i).toLowerCase())) && extraKeep(i)
    && (plain || read.test(view(i)));
  return listingResult(mailboxListing(store, view, keep), params);
}

function getMailbox({ store }, params) {
  if (params.SoftDeletedMailbox || params.InactiveMailboxOnly) return readRemovedMailboxes(store, params);
  const archiveOnly = params.Archive === true ? (i) => store.mailbox(i).ArchiveStatus === 'Active' : () => true;
  return readMailboxes(store, params, (i) => store.mailbox(i), archiveOnly);
}

// Writes a Set-'s changes into the mailbox's delta (facet 'mailbox',
// 'user', 'cas' or 'autoReply'; shared properties go to all views).
export function applyToMailbox(store, position, facet, changes) {
  const now = store.now();
  for (const [name, value] of Object.entries(changes)) {
    const target = store.facetFor(position, facet, name);
    target[name] = value;
    if (Array.isArray(value)) target[`${name}@odata.type`] = '#Collection(String)';
  }
  const common = store.facetFor(position, facet, 'WhenChanged');
  common.WhenChanged = now;
  common.WhenChangedUTC = now;
  if (IDENTITY_KEYS.some((k) => k in changes)) store.indexMailbox(position);
}

function normalizeMailboxValue(name, value) {
  if (QUOTAS.has(name) && value !== null) {
    const size = parseSize(value);
    return size ?? { error: EXO.badParameterValue(name, value, 'expected a size such as "50GB" or "Unlimited".') };
  }
  return value;
}

function setMailbox({ store }, params) {
  const found = mailboxFrom(store, params);
  if (found.error) return found;
  const ref = { kind: 'mailbox', position: found.position };
  const current = store.mailbox(found.position);
  const addressed = addressChanges(store, ref, current, params);
  if (addressed.error) return addressed;
  const fields = addressed.params;
  if (fields.Type !== undefined) {
    const type = TYPES[String(fields.Type).toLowerCase()];
    delete fields.Type;
    fields.RecipientTypeDetails = type;
    fields.IsShared = type === 'SharedMailbox';
    fields.IsResource = type === 'RoomMailbox' || type === 'EquipmentMailbox';
  }
  const { changes, error } = changesOf(current, fields, normalizeMailboxValue);
  if (error) return { error };
  if (Object.keys(changes).length === 0) return unchanged(params.Identity);
  applyToMailbox(store, found.position, 'mailbox', changes);
  return { objects: [] };
}

function newMailbox({ store, tenant }, params) {
  if (!params.Name) return missing('Name');
  const name = String(params.Name);
  const alias = params.Alias || name.replace(/[^A-Za-z0-9._-]/g, '');
  const smtp = params.PrimarySmtpAddress || `${alias}@${tenant.domain}`;
  const upn = params.MicrosoftOnlineServicesID || smtp;
  const conflict = checkNewRecipient(store, name, [smtp, upn]);
  if (conflict) return { error: conflict };
  const type = params.Shared ? 'SharedMailbox' : params.Room ? 'RoomMailbox' : params.Equipment ? 'EquipmentMailbox' : 'UserMailbox';
  const serial = store.serial + 1;
  const object = store.newRecipientObject('mailbox', {
    name, alias, displayName: params.DisplayName || name, smtp, recipientType: 'UserMailbox', recipientTypeDetails: type,
    extra: {
      ExchangeGuid: stableGuid(tenant.id, 'exchangeGuid', name, serial),
      'ExchangeGuid@odata.type': '#Guid',
      UserPrincipalName: upn,
      WindowsEmailAddress: smtp,
      FirstName: params.FirstName ?? null,
      LastName: params.LastName ?? null,
      IsShared: type === 'SharedMailbox',
      IsResource: type === 'RoomMailbox' || type === 'EquipmentMailbox',
      ResourceType: type === 'RoomMailbox' ? 'Room' : type === 'EquipmentMailbox' ? 'Equipment' : null,
      ResourceCapacity: params.ResourceCapacity ?? null,
      Database: 'NAMPR01DG100-db001',
      ServerName: 'nampr01mb1000',
      OrganizationalUnit: `NAMPR01A001.PROD.OUTLOOK.COM/Microsoft Exchange Hosted Organizations/${tenant.domain}`,
      IsMailboxEnabled: true,
      LitigationHoldEnabled: false,
      ArchiveStatus: params.Archive ? 'Active' : 'None',
      ...MAILBOX_DEFAULTS,
    },
  });
  const position = store.addMailbox(object);
  return { objects: [store.mailbox(position)] };
}

// A removed mailbox stays soft-deleted (30 days in Exchange); one on
// litigation hold becomes an inactive mailbox.
function removeMailbox({ store }, params) {
  const found = mailboxFrom(store, params, 'Identity', true);
  if (found.error) return found;
  const box = store.mailbox(found.position);
  const now = store.now();
  store.softDeleted.push({
    ...box,
    IsSoftDeletedByRemove: true,
    IsInactiveMailbox: Boolean(box.LitigationHoldEnabled),
    WhenSoftDeleted: now,
    'WhenSoftDeleted@odata.type': '#DateTimeOffset',
  });
  store.removeMailbox(found.position);
  return { objects: [] };
}

// Get-Mailbox -SoftDeletedMailbox / -InactiveMailboxOnly: the removed ones.
function readRemovedMailboxes(store, params) {
  const keep = params.InactiveMailboxOnly ? (box) => box.IsInactiveMailbox : () => true;
  if (params.Identity !== undefined) {
    const id = String(params.Identity).toLowerCase();
    const found = store.softDeleted.find((box) => keep(box)
      && [box.Name, box.Alias, box.PrimarySmtpAddress, box.UserPrincipalName, box.Guid, box.ExchangeGuid]
        .some((v) => v && String(v).toLowerCase() === id));
    return found ? { objects: [found] } : { error: EXO.notFound(params.Identity) };
  }
  const read = readPredicates(params);
  if (read.error) return read;
  return listingResult(arrayListing(store.softDeleted, (box) => box, (box) => keep(box) && read.test(box)), params);
}

function enableMailbox({ store }, params) {
  const found = mailboxFrom(store, params, 'Identity', true);
  if (found.error) return found;
  const { position } = found;
  if (params.Archive || params.AutoExpandingArchive) {
    const box = store.mailbox(position);
    applyToMailbox(store, position, 'mailbox', {
      ArchiveStatus: 'Active',
      ArchiveName: [params.ArchiveName || `In-Place Archive - ${box.DisplayName}`],
      ArchiveGuid: stableGuid(store.tenant.id, 'archive', position),
      ...(params.AutoExpandingArchive ? { AutoExpandingArchiveEnabled: true } : {}),
    });
  } else if (store.disabled.has(position)) {
    store.disabled.delete(position);
  } else {
    return { error: EXO.invalidArgument(`The user "${params.Identity}" is already mailbox-enabled.`) };
  }
  return { objects: [store.mailbox(position)] };
}

function disableMailbox({ store }, params) {
  const found = mailboxFrom(store, params);
  if (found.error) return found;
  if (params.Archive) {
    if (store.mailbox(found.position).ArchiveStatus !== 'Active') return unchanged(params.Identity);
    applyToMailbox(store, found.position, 'mailbox', { ArchiveStatus: 'None', ArchiveGuid: null });
  } else {
    store.disabled.add(found.position);
  }
  return { objects: [] };
}

function getMailboxStatistics({ store }, params) {
  const found = mailboxFrom(store, params);
  if (found.error) return found;
  const box = store.mailbox(found.position);
  if (params.Archive && box.ArchiveStatus !== 'Active') {
    return { error: EXO.invalidArgument(`The mailbox '${params.Identity}' doesn't have an archive.`) };
  }
  return { objects: [statisticsOf(box, found.position, Boolean(params.Archive))] };
}

function getMailboxFolderStatistics({ store }, params) {
  const found = mailboxFrom(store, params);
  if (found.error) return found;
  const box = store.mailbox(found.position);
  const scope = String(params.FolderScope || 'All').toLowerCase();
  const folders = FOLDERS.map((f, i) => ({ f, i })).filter(({ f }) => scope === 'all' || f[2].toLowerCase() === scope);
  return listingResult(arrayListing(folders, ({ f, i }) => folderStatisticsOf(box, found.position, f, i)), params, Infinity);
}

function getCasMailbox({ store }, params) {
  return readMailboxes(store, params, (i) => store.cas(i));
}

function setOnView(view, facet) {
  return ({ store }, params) => {
    const found = mailboxFrom(store, params);
    if (found.error) return found;
    const { changes, error } = changesOf(view(store, found.position), params);
    if (error) return { error };
    if (Object.keys(changes).length === 0) return unchanged(params.Identity);
    applyToMailbox(store, found.position, facet, changes);
    return { objects: [] };
  };
}

// Get- of a per-mailbox settings view: one object for -Identity.
function getOnView(view) {
  return ({ store }, params) => {
    const found = mailboxFrom(store, params);
    if (found.error) return found;
    return { objects: [view(store, found.position)] };
  };
}

const autoReplyView = (store, i) => store.autoReply(i);
const regionalView = (store, i) => store.facetView(i, 'regional', regionalOf(store.mailbox(i), i));
const calendarView = (store, i) => store.facetView(i, 'calendar', calendarProcessingOf(store.mailbox(i)));
const junkView = (store, i) => store.facetView(i, 'junk', junkEmailOf(store.mailbox(i)));

// Set-MailboxRegionalConfiguration's switch becomes the property it sets.
function setRegional(ctx, params) {
  const { LocalizeDefaultFolderName, ...rest } = params;
  if (LocalizeDefaultFolderName !== undefined) rest.DefaultFolderNameMatchingUserLanguage = LocalizeDefaultFolderName;
  return setOnView(regionalView, 'regional')(ctx, rest);
}

// Device identity: "mailbox\ExchangeActiveSyncDevices\iPhone§<DeviceId>",
// the DeviceId, or the device Guid; the mailbox position is in the DeviceId.
function findDevice(store, identity) {
  const id = String(identity).trim();
  const tail = id.split('§').pop();
  let position = 0;
  if (/^[0-9A-F]{16}$/i.test(tail)) position = parseInt(tail.slice(8), 16);
  else if (/^[0-9a-f-]{36}$/i.test(id)) position = parseInt(id.slice(-8), 16);
  if (!store.mailboxExists(position) || !hasMobileDevice(position) || store.removedDevices.has(position)) return 0;
  const device = mobileDeviceOf(store.mailbox(position), position);
  const lowered = id.toLowerCase();
  return [device.Identity, device.DeviceId, device.Guid, device.Name].some((v) => v.toLowerCase() === lowered) ? position : 0;
}

function getMobileDevice({ store }, params) {
  const view = (i) => mobileDeviceOf(store.mailbox(i), i);
  const present = (i) => hasMobileDevice(i) && !store.removedDevices.has(i);
  if (params.Identity !== undefined) {
    const position = findDevice(store, params.Identity);
    return position ? { objects: [view(position)] } : { error: EXO.notFound(params.Identity) };
  }
  if (params.Mailbox !== undefined) {
    const found = mailboxFrom(store, params, 'Mailbox');
    if (found.error) return found;
    return { objects: present(found.position) ? [view(found.position)] : [] };
  }
  const read = readPredicates(params);
  if (read.error) return read;
  return listingResult(mailboxListing(store, view, (i) => present(i) && read.test(view(i))), params);
}

// Get-MobileDeviceStatistics: -Identity (a device) or -Mailbox.
function getMobileDeviceStatistics({ store }, params) {
  const view = (i) => mobileDeviceStatisticsOf(store.mailbox(i), i);
  if (params.Identity !== undefined) {
    const position = findDevice(store, params.Identity);
    return position ? { objects: [view(position)] } : { error: EXO.notFound(params.Identity) };
  }
  if (params.Mailbox === undefined) return missing('Identity');
  const found = mailboxFrom(store, params, 'Mailbox');
  if (found.error) return found;
  const present = hasMobileDevice(found.position) && !store.removedDevices.has(found.position);
  return { objects: present ? [view(found.position)] : [] };
}

function removeMobileDevice({ store }, params) {
  if (params.Identity === undefined) return missing('Identity');
  const position = findDevice(store, params.Identity);
  if (!position) return { error: EXO.notFound(params.Identity) };
  store.removedDevices.add(position);
  return { objects: [] };
}

export const MAILBOX_CMDLETS = {
  'Get-Mailbox': getMailbox,
  'Set-Mailbox': setMailbox,
  'New-Mailbox': newMailbox,
  'Remove-Mailbox': removeMailbox,
  'Enable-Mailbox': enableMailbox,
  'Disable-Mailbox': disableMailbox,
  'Get-MailboxStatistics': getMailboxStatistics,
  'Get-MailboxFolderStatistics': getMailboxFolderStatistics,
  'Get-CASMailbox': getCasMailbox,
  'Set-CASMailbox': setOnView((store, i) => store.cas(i), 'cas'),
  'Get-MailboxAutoReplyConfiguration': getOnView(autoReplyView),
  'Set-MailboxAutoReplyConfiguration': setOnView(autoReplyView, 'autoReply'),
  'Get-MailboxRegionalConfiguration': getOnView(regionalView),
  'Set-MailboxRegionalConfiguration': setRegional,
  'Get-CalendarProcessing': getOnView(calendarView),
  'Set-CalendarProcessing': setOnView(calendarView, 'calendar'),
  'Get-MailboxJunkEmailConfiguration': getOnView(junkView),
  'Set-MailboxJunkEmailConfiguration': setOnView(junkView, 'junk'),
  'Get-MobileDevice': getMobileDevice,
  'Get-MobileDeviceStatistics': getMobileDeviceStatistics,
  'Remove-MobileDevice': removeMobileDevice,
};
