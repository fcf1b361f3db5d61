// Helpers the cmdlet families share: ResultSize, -Filter, -Anr, listings,
// and applying a Set-'s parameters to an object with Exchange's "nothing
// changed" warning.
import { EXO } from '../exchange-errors.mjs';
import { applyMultiValue } from '../values.mjs';
import { compileOpath, OpathSyntaxError } from '../opath.mjs';

// Exchange's answer when -ResultSize is absent.
export const DEFAULT_RESULT_SIZE = 1000;

// Parameters that steer a cmdlet and are never stored as properties.
const CONTROL = new Set(['identity', 'force', 'confirm', 'whatif', 'erroraction', 'warningaction', 'verbose', 'debug',
  'bypasssecuritygroupmanagercheck', 'ignoredefaultscope', 'domaincontroller', 'mailbox', 'alwaysdeleteoutlookrulesblob',
  'forceupgrade', 'password', 'resetpasswordonnextlogon', 'ignorelegalhold', 'groupmailbox']);

// ResultSize: a positive integer (number or digits) or "Unlimited".
export function parseResultSize(value, fallback = DEFAULT_RESULT_SIZE) {
  if (value === undefined || value === null) return { size: fallback };
  if (typeof value === 'string' && value.toLowerCase() === 'unlimited') return { size: Infinity };
  const n = typeof value === 'number' ? value : /^\d+$/.test(String(value)) ? Number(value) : NaN;
  if (!Number.isInteger(n) || n < 1) {
    return { error: EXO.badParameterValue('ResultSize', value, 'expected a positive integer or "Unlimited".') };
  }
  return { size: n };
}

// -Anr: the start of Name, Alias, DisplayName, first/last name or address.
export function anrPredicate(text) {
  const start = String(text).toLowerCase();
  return (object) => [object.Name, object.Alias, object.DisplayName, object.FirstName, object.LastName,
    object.PrimarySmtpAddress].some((v) => v && String(v).toLowerCase().startsWith(start));
}

// -RecipientTypeDetails / -RecipientType as a set of lower-case names.
export function typeSet(value) {
  if (value === undefined || value === null) return null;
  const list = Array.isArray(value) ? value : String(value).split(',');
  return new Set(list.map((t) => String(t).trim().toLowerCase()));
}

// Predicates of the usual read parameters (Filter, Anr); {error} when the
// filter does not parse.
export function readPredicates(params) {
  const tests = [];
  if (params.Filter !== undefined) {
    try {
      tests.push(compileOpath(params.Filter));
    } catch (err) {
      if (!(err instanceof OpathSyntaxError)) throw err;
      return { error: EXO.invalidFilter(params.Filter, err.position, err.message) };
    }
  }
  if (params.Anr !== undefined) tests.push(anrPredicate(params.Anr));
  return { test: (object) => tests.every((t) => t(object)) };
}

// A paged result over an array that may hold nulls (removed entries).
export function arrayListing(items, view, keep = () => true) {
  return {
    count: items.length,
    matches: (i) => items[i - 1] !== null && items[i - 1] !== undefined && keep(items[i - 1]),
    at: (i) => view(items[i - 1]),
  };
}

// Several listings one after the other (Get-Recipient: mailboxes, then groups, ...).
export function concatListings(parts) {
  const bounds = [];
  let count = 0;
  for (const part of parts) {
    bounds.push(count);
    count += part.count;
  }
  const locate = (i) => {
    let k = parts.length - 1;
    while (bounds[k] >= i) k -= 1;
    return [parts[k], i - bounds[k]];
  };
  return {
    count,
    matches: (i) => { const [p, j] = locate(i); return p.matches(j); },
    at: (i) => { const [p, j] = locate(i); return p.at(j); },
  };
}

export function listingResult(listing, params, fallbackSize) {
  const resultSize = parseResultSize(params.ResultSize, fallbackSize);
  if (resultSize.error) return { error: resultSize.error };
  return { listing, resultSize: resultSize.size };
}

export function missing(name) {
  return { error: EXO.missingParameter(name) };
}

function same(a, b) {
  return JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
}

// The properties a Set- would change on `current`: {name: newValue}.
// Multi-valued properties (arrays now, "[]" types, or @{Add/Remove}) are
// edited; `normalize(name, value)` may rewrite a value or answer {error}.
export function changesOf(current, params, normalize = (name, value) => value) {
  const changes = {};
  for (const [name, raw] of Object.entries(params)) {
    if (CONTROL.has(name.toLowerCase())) continue;
    const multi = Array.isArray(current[name]) || Array.isArray(raw)
      || (raw !== null && typeof raw === 'object' && Object.keys(raw).some((k) => /^(add|remove)$/i.test(k)));
    let value = multi ? applyMultiValue(current[name], raw) : raw;
    value = normalize(name, value);
    if (value && value.error) return { error: value.error };
    if (!same(current[name], value)) changes[name] = value;
  }
  return { changes };
}

// Writes changes into a target object (with the collection annotation
// arrays carry) and touches WhenChanged.
export function writeChanges(target, changes, now) {
  for (const [name, value] of Object.entries(changes)) {
    target[name] = value;
    if (Array.isArray(value)) target[`${name}@odata.type`] = '#Collection(String)';
  }
  target.WhenChanged = now;
  target.WhenChangedUTC = now;
}

// Exchange's answer to a Set- that changed nothing: success plus a warning.
export function unchanged(identity) {
  return {
    objects: [],
    warnings: [`The command completed successfully but no settings of '${identity}' have been modified.`],
  };
}

function lower(value) {
  return String(value).trim().toLowerCase();
}

// Exchange's refusal of a new recipient whose name or an address is taken.
export function checkNewRecipient(store, name, addresses) {
  const byName = store.findRecipient(name);
  if (byName && lower(store.objectOf(byName).Name) === lower(name)) return EXO.nameInUse(name);
  for (const address of addresses.filter(Boolean)) {
    const owner = store.addressOwner(address);
    if (owner) return EXO.proxyAddressInUse(address, store.objectOf(owner).Name);
  }
  return null;
}

// EmailAddresses as Exchange keeps them: prefixed ("SMTP:" primary,
// "smtp:" secondary), the primary one first. `primary` (optional) becomes
// the primary address.
export function normalizeAddresses(list, primary) {
  const out = [];
  let chosen = primary ? lower(primary) : null;
  for (const raw of list) {
    const text = String(raw);
    const m = /^([a-z0-9]+):(.*)$/i.exec(text);
    const prefix = m ? m[1] : 'smtp';
    const address = m ? m[2] : text;
    if (!chosen && prefix === 'SMTP') chosen = lower(address);
    if (!out.some((a) => lower(a.replace(/^[a-z0-9]+:/i, '')) === lower(address))) out.push(`${prefix.toLowerCase() === 'smtp' ? 'smtp' : prefix}:${address}`);
  }
  if (primary && !out.some((a) => lower(a.slice(5)) === chosen)) out.unshift(`smtp:${primary}`);
  if (!chosen && out.length > 0) chosen = lower(out[0].replace(/^[a-z0-9]+:/i, ''));
  return out.map((a) => (/^smtp:/i.test(a) && lower(a.slice(5)) === chosen ? `SMTP:${a.slice(5)}` : a))
    .sort((a, b) => (b.startsWith('SMTP:') ? 1 : 0) - (a.startsWith('SMTP:') ? 1 : 0));
}

// The SMTP addresses in `after` that `before` did not have.
export function addedAddresses(before, after) {
  const had = new Set((before || []).map((a) => lower(String(a).replace(/^smtp:/i, ''))));
  return (after || []).filter((a) => /^smtp:/i.test(a)).map((a) => a.slice(5)).filter((a) => !had.has(lower(a)));
}

// Changes to a recipient's addresses: EmailAddresses edits and
// PrimarySmtpAddress folded into one normalized list; {error} when an
// address belongs to another recipient.
// In Exchange Online, -WindowsEmailAddress also sets the primary address.
export function addressChanges(store, ref, current, params) {
  const out = { ...params };
  const primary = params.PrimarySmtpAddress ?? params.WindowsEmailAddress;
  if (params.EmailAddresses === undefined && primary === undefined) return { params: out };
  let list = params.EmailAddresses === undefined ? current.EmailAddresses || []
    : applyMultiValue(current.EmailAddresses, params.EmailAddresses);
  list = normalizeAddresses(list, primary);
  for (const address of addedAddresses(current.EmailAddresses, list)) {
    const owner = store.addressOwner(address);
    if (owner && !store.sameRef(owner, ref)) return { error: EXO.proxyAddressInUse(address, store.objectOf(owner).Name) };
  }
  out.EmailAddresses = list;
  out.PrimarySmtpAddress = list.find((a) => a.startsWith('SMTP:'))?.slice(5) ?? current.PrimarySmtpAddress;
  if ('WindowsEmailAddress' in current && primary !== undefined) out.WindowsEmailAddress = out.PrimarySmtpAddress;
  return { params: out };
}
