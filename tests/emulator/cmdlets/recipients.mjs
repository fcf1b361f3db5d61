// Get-Recipient, Get-User, Set-User, Get-Group, *-MailContact, *-MailUser,
// and the Set-/Remove- shared by every explicitly stored recipient.
import { EXO } from '../exchange-errors.mjs';
import { kindOf } from '../mailboxes.mjs';
import { recipientOf } from '../views.mjs';
import {
  typeSet, readPredicates, listingResult, arrayListing, concatListings, missing, changesOf, writeChanges,
  unchanged, checkNewRecipient, addressChanges,
} from './common.mjs';
import { mailboxListing, applyToMailbox } from './mailbox.mjs';

// The record of `kind` that params[name] names, or {error}.
export function recordFrom(store, kind, params, name = 'Identity') {
  const identity = params[name];
  if (identity === undefined || identity === null || identity === '') return missing(name);
  const record = store.findIn(kind, identity);
  return record ? { record } : { error: EXO.notFound(identity) };
}

function readRecords(store, kind, params, view = (r) => r.object, extraKeep = () => true) {
  if (params.Identity !== undefined) {
    const found = recordFrom(store, kind, params);
    return found.error ? found : { objects: [view(found.record)] };
  }
  const types = typeSet(params.RecipientTypeDetails);
  const read = readPredicates(params);
  if (read.error) return read;
  const keep = (r) => (!types || types.has(r.object.RecipientTypeDetails.toLowerCase())) && extraKeep(r) && read.test(view(r));
  return listingResult(arrayListing(store.list(kind), view, keep), params);
}

// Set- on a stored recipient: addresses checked, "nothing changed" warned.
export function setRecord(store, kind, params) {
  const found = recordFrom(store, kind, params);
  if (found.error) return found;
  const { record } = found;
  const addressed = addressChanges(store, { kind, record }, record.object, params);
  if (addressed.error) return addressed;
  const { changes, error } = changesOf(record.object, addressed.params);
  if (error) return { error };
  if (Object.keys(changes).length === 0) return unchanged(params.Identity);
  writeChanges(record.object, changes, store.now());
  return { objects: [] };
}

export function removeRecord(store, kind, params) {
  const found = recordFrom(store, kind, params);
  if (found.error) return found;
  store.removeRecord(kind, found.record);
  return { objects: [] };
}

const OTHER_KINDS = ['group', 'unified', 'contact', 'mailUser'];

function getRecipient({ store }, params) {
  if (params.Identity !== undefined) {
    const ref = store.findRecipient(params.Identity);
    return ref ? { objects: [store.recipientView(ref)] } : { error: EXO.notFound(params.Identity) };
  }
  const details = typeSet(params.RecipientTypeDetails);
  const types = typeSet(params.RecipientType);
  const read = readPredicates(params);
  if (read.error) return read;
  const plain = params.Filter === undefined && params.Anr === undefined;
  const typeOk = (type, detail) => (!types || types.has(type.toLowerCase())) && (!details || details.has(detail.toLowerCase()));
  const mailboxes = mailboxListing(store, (i) => recipientOf(store.mailbox(i)), (i) => {
    const fast = i <= store.generated && !store.deltas.has(i);
    const detail = fast ? kindOf(i).type : store.mailbox(i).RecipientTypeDetails;
    return typeOk('UserMailbox', detail) && (plain || read.test(recipientOf(store.mailbox(i))));
  });
  const others = OTHER_KINDS.map((kind) => arrayListing(store.list(kind), (r) => recipientOf(r.object),
    (r) => typeOk(r.object.RecipientType, r.object.RecipientTypeDetails) && read.test(recipientOf(r.object))));
  return listingResult(concatListings([mailboxes, ...others]), params);
}

function mailUserAsUser(record) {
  const o = record.object;
  return {
    Name: o.Name, DisplayName: o.DisplayName, Identity: o.Identity, Guid: o.Guid, 'Guid@odata.type': '#Guid',
    ExternalDirectoryObjectId: o.ExternalDirectoryObjectId, UserPrincipalName: o.UserPrincipalName,
    WindowsEmailAddress: o.PrimarySmtpAddress, FirstName: o.FirstName ?? null, LastName: o.LastName ?? null,
    Title: o.Title ?? null, Department: o.Department ?? null, Office: o.Office ?? null, Company: o.Company ?? null,
    RecipientType: 'MailUser', RecipientTypeDetails: o.RecipientTypeDetails,
  };
}

function getUser({ store }, params) {
  if (params.Identity !== undefined) {
    const position = store.findMailbox(params.Identity, true);
    if (position) return { objects: [store.user(position)] };
    const record = store.findIn('mailUser', params.Identity);
    return record ? { objects: [mailUserAsUser(record)] } : { error: EXO.notFound(params.Identity) };
  }
  const details = typeSet(params.RecipientTypeDetails);
  const read = readPredicates(params);
  if (read.error) return read;
  const plain = !details && params.Filter === undefined && params.Anr === undefined;
  const keep = (user) => (!details || details.has(user.RecipientTypeDetails.toLowerCase())) && read.test(user);
  const users = {
    count: store.mailboxSlots,
    matches: (i) => store.mailboxExists(i, true) && (plain || keep(store.user(i))),
    at: (i) => store.user(i),
  };
  const mailUsers = arrayListing(store.list('mailUser'), mailUserAsUser, (r) => keep(mailUserAsUser(r)));
  return listingResult(concatListings([users, mailUsers]), params);
}

function setUser({ store }, params) {
  if (params.Identity === undefined) return missing('Identity');
  const position = store.findMailbox(params.Identity, true);
  if (!position) {
    const record = store.findIn('mailUser', params.Identity);
    if (!record) return { error: EXO.notFound(params.Identity) };
    return setRecord(store, 'mailUser', params);
  }
  const fields = { ...params };
  if (fields.VIP !== undefined) {
    fields.IsVIP = fields.VIP;
    delete fields.VIP;
  }
  const { changes, error } = changesOf(store.user(position), fields);
  if (error) return { error };
  if (Object.keys(changes).length === 0) return unchanged(params.Identity);
  applyToMailbox(store, position, 'user', changes);
  return { objects: [] };
}

function getGroup({ store }, params) {
  if (params.Identity !== undefined) {
    const ref = store.findRecipient(params.Identity, ['group', 'unified']);
    return ref ? { objects: [ref.record.object] } : { error: EXO.notFound(params.Identity) };
  }
  const read = readPredicates(params);
  if (read.error) return read;
  const keep = (r) => read.test(r.object);
  return listingResult(concatListings([arrayListing(store.list('group'), (r) => r.object, keep),
    arrayListing(store.list('unified'), (r) => r.object, keep)]), params);
}

function getMailContact({ store }, params) {
  return readRecords(store, 'contact', params);
}

function withSmtp(address) {
  return /^smtp:/i.test(address) ? `SMTP:${address.slice(5)}` : `SMTP:${address}`;
}

function newMailContact({ store }, params) {
  if (!params.Name) return missing('Name');
  if (!params.ExternalEmailAddress) return missing('ExternalEmailAddress');
  const external = withSmtp(String(params.ExternalEmailAddress));
  const smtp = params.PrimarySmtpAddress || external.slice(5);
  const conflict = checkNewRecipient(store, params.Name, [smtp]);
  if (conflict) return { error: conflict };
  const record = store.addRecord('contact', store.newRecipientObject('contact', {
    name: params.Name, alias: params.Alias || String(params.Name).replace(/[^A-Za-z0-9._-]/g, ''),
    displayName: params.DisplayName || params.Name, smtp, recipientType: 'MailContact', recipientTypeDetails: 'MailContact',
    extra: { ExternalEmailAddress: external, FirstName: params.FirstName ?? null, LastName: params.LastName ?? null },
  }));
  return { objects: [record.object] };
}

function setMailContact({ store }, params) {
  const fields = { ...params };
  if (fields.ExternalEmailAddress) fields.ExternalEmailAddress = withSmtp(String(fields.ExternalEmailAddress));
  return setRecord(store, 'contact', fields);
}

function newMailUser({ store, tenant }, params) {
  if (!params.Name) return missing('Name');
  if (!params.MicrosoftOnlineServicesID) return missing('MicrosoftOnlineServicesID');
  const alias = params.Alias || String(params.Name).replace(/[^A-Za-z0-9._-]/g, '');
  const smtp = params.PrimarySmtpAddress || `${alias}@${tenant.domain}`;
  const conflict = checkNewRecipient(store, params.Name, [smtp, params.MicrosoftOnlineServicesID]);
  if (conflict) return { error: conflict };
  const record = store.addRecord('mailUser', store.newRecipientObject('mailUser', {
    name: params.Name, alias, displayName: params.DisplayName || params.Name, smtp,
    recipientType: 'MailUser', recipientTypeDetails: 'MailUser',
    extra: {
      ExternalEmailAddress: params.ExternalEmailAddress ? withSmtp(String(params.ExternalEmailAddress)) : null,
      UserPrincipalName: params.MicrosoftOnlineServicesID,
      MicrosoftOnlineServicesID: params.MicrosoftOnlineServicesID,
      FirstName: params.FirstName ?? null,
      LastName: params.LastName ?? null,
    },
  }));
  return { objects: [record.object] };
}

function setMailUser({ store }, params) {
  const fields = { ...params };
  if (fields.ExternalEmailAddress) fields.ExternalEmailAddress = withSmtp(String(fields.ExternalEmailAddress));
  if (fields.MicrosoftOnlineServicesID) fields.UserPrincipalName = fields.MicrosoftOnlineServicesID;
  return setRecord(store, 'mailUser', fields);
}

export const RECIPIENT_CMDLETS = {
  'Get-Recipient': getRecipient,
  'Get-User': getUser,
  'Set-User': setUser,
  'Get-Group': getGroup,
  'Get-DynamicDistributionGroup': (ctx, params) => (params.Identity !== undefined
    ? { error: EXO.notFound(params.Identity) } : { objects: [] }),
  'Get-MailContact': getMailContact,
  'New-MailContact': newMailContact,
  'Set-MailContact': setMailContact,
  'Remove-MailContact': ({ store }, params) => removeRecord(store, 'contact', params),
  'Get-MailUser': ({ store }, params) => readRecords(store, 'mailUser', params),
  'New-MailUser': newMailUser,
  'Set-MailUser': setMailUser,
  'Remove-MailUser': ({ store }, params) => removeRecord(store, 'mailUser', params),
};

