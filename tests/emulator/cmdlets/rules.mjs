// *-InboxRule (per mailbox) and *-TransportRule (per tenant). Rules keep
// every parameter they were given, so a Set- shows in the next Get-.
import { EXO } from '../exchange-errors.mjs';
import { transportRuleObject } from '../tenant-store.mjs';
import { readPredicates, listingResult, arrayListing, missing, changesOf, unchanged } from './common.mjs';
import { mailboxFrom } from './mailbox.mjs';

const NOT_STORED = new Set(['identity', 'mailbox', 'force', 'confirm', 'whatif', 'alwaysdeleteoutlookrulesblob',
  'enabled', 'priority']);

function stored(params) {
  return Object.fromEntries(Object.entries(params).filter(([k]) => !NOT_STORED.has(k.toLowerCase())));
}

function sameText(a, b) {
  return String(a).toLowerCase() === String(b).toLowerCase();
}

function annotate(object) {
  for (const [key, value] of Object.entries(object)) {
    if (Array.isArray(value) && !key.includes('@')) object[`${key}@odata.type`] = '#Collection(String)';
  }
  return object;
}

// Rules ordered 1..n (inbox) or 0..n-1 (transport) after a move.
function renumber(rules, first) {
  rules.sort((a, b) => a.Priority - b.Priority);
  rules.forEach((rule, i) => { rule.Priority = first + i; });
}

// Moves `rule` to `priority` (others shift), as Exchange does.
function place(rules, rule, priority, first) {
  const others = rules.filter((r) => r !== rule);
  const at = Math.max(0, Math.min(others.length, Number(priority) - first));
  others.splice(at, 0, rule);
  others.forEach((r, i) => { r.Priority = first + i; });
  rules.length = 0;
  rules.push(...others);
}

// ---- inbox rules --------------------------------------------------------

// The mailbox of an inbox-rule command (-Mailbox, or the part of
// -Identity before "\") and the rule text after it.
function inboxTarget(store, params, needRule) {
  const identity = params.Identity === undefined ? null : String(params.Identity);
  const cut = identity ? identity.lastIndexOf('\\') : -1;
  const mailbox = params.Mailbox ?? (cut >= 0 ? identity.slice(0, cut) : undefined);
  if (mailbox === undefined) return missing('Mailbox');
  const found = mailboxFrom(store, { Mailbox: mailbox }, 'Mailbox');
  if (found.error) return found;
  const rules = store.inboxRules.get(found.position) || [];
  if (!needRule) return { position: found.position, rules };
  if (identity === null) return missing('Identity');
  const ruleText = cut >= 0 ? identity.slice(cut + 1) : identity;
  const rule = rules.find((r) => sameText(r.RuleIdentity, ruleText) || sameText(r.Name, ruleText));
  if (!rule) return { error: EXO.notFound(identity) };
  return { position: found.position, rules, rule };
}

function getInboxRule({ store }, params) {
  const target = inboxTarget(store, params, params.Identity !== undefined);
  if (target.error) return target;
  if (target.rule) return { objects: [target.rule] };
  return { objects: target.rules.slice().sort((a, b) => a.Priority - b.Priority) };
}

function newInboxRule({ store }, params) {
  if (!params.Name) return missing('Name');
  const target = inboxTarget(store, params, false);
  if (target.error) return target;
  const box = store.mailbox(target.position);
  const ruleIdentity = String(BigInt(store.nextSerial()) * 9007199254740881n + 1000000000000000000n);
  const rule = annotate({
    Name: params.Name,
    Identity: `${box.Name}\\${ruleIdentity}`,
    RuleIdentity: ruleIdentity,
    MailboxOwnerId: box.Name,
    Enabled: params.Enabled ?? true,
    Priority: target.rules.length + 1,
    InError: false,
    Description: `If the message matches the conditions of '${params.Name}'`,
    StopProcessingRules: false,
    ...stored(params),
  });
  target.rules.push(rule);
  if (params.Priority !== undefined) place(target.rules, rule, params.Priority, 1);
  store.inboxRules.set(target.position, target.rules);
  return { objects: [rule] };
}

function setInboxRule({ store }, params) {
  const target = inboxTarget(store, params, true);
  if (target.error) return target;
  const { changes, error } = changesOf(target.rule, stored(params));
  if (error) return { error };
  const moves = params.Priority !== undefined && Number(params.Priority) !== target.rule.Priority;
  if (Object.keys(changes).length === 0 && !moves) return unchanged(params.Identity);
  Object.assign(target.rule, annotate(changes));
  if (moves) place(target.rules, target.rule, params.Priority, 1);
  return { objects: [] };
}

function removeInboxRule({ store }, params) {
  const target = inboxTarget(store, params, true);
  if (target.error) return target;
  target.rules.splice(target.rules.indexOf(target.rule), 1);
  renumber(target.rules, 1);
  return { objects: [] };
}

function enableInboxRule(enabled) {
  return ({ store }, params) => {
    const target = inboxTarget(store, params, true);
    if (target.error) return target;
    target.rule.Enabled = enabled;
    return { objects: [] };
  };
}

// ---- transport rules ----------------------------------------------------

function liveRules(store) {
  return store.transportRules.filter(Boolean).sort((a, b) => a.Priority - b.Priority);
}

function transportRuleFrom(store, params) {
  if (params.Identity === undefined) return missing('Identity');
  const id = String(params.Identity);
  const rule = store.transportRules.find((r) => r && (sameText(r.Name, id) || sameText(r.Guid, id) || sameText(r.Identity, id)));
  return rule ? { rule } : { error: EXO.notFound(params.Identity) };
}

function getTransportRule({ store }, params) {
  if (params.Identity !== undefined) {
    const found = transportRuleFrom(store, params);
    return found.error ? found : { objects: [found.rule] };
  }
  const read = readPredicates(params);
  if (read.error) return read;
  const keep = (r) => (params.State === undefined || sameText(r.State, params.State)) && read.test(r);
  return listingResult(arrayListing(liveRules(store), (r) => r, keep), params);
}

function newTransportRule({ store }, params) {
  if (!params.Name) return missing('Name');
  if (liveRules(store).some((r) => sameText(r.Name, params.Name))) return { error: EXO.nameInUse(params.Name) };
  const rule = annotate(transportRuleObject(store, {
    ...stored(params),
    Name: params.Name,
    Identity: params.Name,
    State: params.Enabled === false ? 'Disabled' : 'Enabled',
    Priority: liveRules(store).length,
  }));
  store.transportRules.push(rule);
  if (params.Priority !== undefined) {
    const rules = liveRules(store);
    place(rules, rule, params.Priority, 0);
  }
  return { objects: [rule] };
}

function setTransportRule({ store }, params) {
  const found = transportRuleFrom(store, params);
  if (found.error) return found;
  const { rule } = found;
  if (params.Name !== undefined && !sameText(params.Name, rule.Name)
    && liveRules(store).some((r) => sameText(r.Name, params.Name))) {
    return { error: EXO.nameInUse(params.Name) };
  }
  const { changes, error } = changesOf(rule, stored(params));
  if (error) return { error };
  const moves = params.Priority !== undefined && Number(params.Priority) !== rule.Priority;
  if (Object.keys(changes).length === 0 && !moves) return unchanged(params.Identity);
  Object.assign(rule, annotate(changes));
  if (changes.Name) rule.Identity = changes.Name;
  rule.WhenChanged = store.now();
  if (moves) place(liveRules(store), rule, params.Priority, 0);
  return { objects: [] };
}

function removeTransportRule({ store }, params) {
  const found = transportRuleFrom(store, params);
  if (found.error) return found;
  store.transportRules[store.transportRules.indexOf(found.rule)] = null;
  renumber(liveRules(store), 0);
  return { objects: [] };
}

function stateTransportRule(state) {
  return ({ store }, params) => {
    const found = transportRuleFrom(store, params);
    if (found.error) return found;
    found.rule.State = state;
    if (params.Mode !== undefined) found.rule.Mode = params.Mode;
    return { objects: [] };
  };
}

export const RULE_CMDLETS = {
  'Get-InboxRule': getInboxRule,
  'New-InboxRule': newInboxRule,
  'Set-InboxRule': setInboxRule,
  'Remove-InboxRule': removeInboxRule,
  'Enable-InboxRule': enableInboxRule(true),
  'Disable-InboxRule': enableInboxRule(false),
  'Get-TransportRule': getTransportRule,
  'New-TransportRule': newTransportRule,
  'Set-TransportRule': setTransportRule,
  'Remove-TransportRule': removeTransportRule,
  'Enable-TransportRule': stateTransportRule('Enabled'),
  'Disable-TransportRule': stateTransportRule('Disabled'),
};
