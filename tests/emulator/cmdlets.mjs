// The Exchange cmdlets the emulator runs: every cmdlet of the module's
// catalogue (catalogue.mjs) plus a few extras, each bound to an
// implementation in cmdlets/<family>.mjs working on the tenant's store.
//
// Catalogue cmdlets without an implementation answer
// CmdletNotModelledException after binding their parameters.
//
// An implementation is run(ctx, params), ctx = {store, tenant, firstPage},
// params = bound values under their catalogue spelling; it answers
//   {error}                              an EXO catalogue entry
//   {objects: [...], warnings?}           a short, complete result
//   {listing: {count, matches(i), at(i)}, resultSize, warnings?}
//                                        a paged result over positions
//                                        1..count, objects made lazily
import { EXO } from './exchange-errors.mjs';
import { loadCatalogue } from './catalogue.mjs';
import { decodeValue, parseDate, isoSeconds, decryptSecureString } from './values.mjs';
import { MAILBOX_CMDLETS } from './cmdlets/mailbox.mjs';
import { RECIPIENT_CMDLETS } from './cmdlets/recipients.mjs';
import { GROUP_CMDLETS } from './cmdlets/groups.mjs';
import { PERMISSION_CMDLETS } from './cmdlets/permissions.mjs';
import { RULE_CMDLETS } from './cmdlets/rules.mjs';
import { REPORT_CMDLETS } from './cmdlets/reports.mjs';
import { ORG_CMDLETS } from './cmdlets/org.mjs';

export { parseResultSize, DEFAULT_RESULT_SIZE } from './cmdlets/common.mjs';

const IMPLEMENTATIONS = {
  ...MAILBOX_CMDLETS, ...RECIPIENT_CMDLETS, ...GROUP_CMDLETS, ...PERMISSION_CMDLETS, ...RULE_CMDLETS,
  ...REPORT_CMDLETS, ...ORG_CMDLETS,
};

// PowerShell's common parameters: accepted and ignored by every cmdlet.
const COMMON = new Set(['erroraction', 'warningaction', 'informationaction', 'progressaction', 'verbose', 'debug',
  'confirm', 'whatif', 'errorvariable', 'warningvariable', 'informationvariable', 'outvariable', 'outbuffer',
  'pipelinevariable']);
const READ_VERBS = new Set(['get', 'search', 'test', 'export']);

// A catalogue cmdlet without an implementation of its own: its parameters
// are bound (so a proxy is exercised end to end), then Exchange's error
// shape says the emulator does not model it (CmdletNotModelledException).
function notModelled(name) {
  return () => ({ error: EXO.notModelled(name) });
}

function buildRegistry() {
  const registry = new Map();
  for (const [key, command] of loadCatalogue()) {
    const run = IMPLEMENTATIONS[command.name];
    registry.set(key, { ...command, modelled: Boolean(run), run: run || notModelled(command.name) });
  }
  // Extras outside the catalogue take any parameter.
  for (const [name, run] of Object.entries(IMPLEMENTATIONS)) {
    const key = name.toLowerCase();
    if (!registry.has(key)) {
      registry.set(key, {
        name, products: ['ExchangeOnline'], changesState: !READ_VERBS.has(name.split('-')[0].toLowerCase()),
        parameters: null, modelled: true, run,
      });
    }
  }
  return registry;
}

// The names of the cmdlets with an implementation.
export const MODELLED = Object.keys(IMPLEMENTATIONS).sort();

export const CMDLETS = buildRegistry();

export function isStateChanging(cmdletName) {
  const cmdlet = CMDLETS.get(String(cmdletName).toLowerCase());
  return cmdlet ? cmdlet.changesState : !READ_VERBS.has(String(cmdletName).split('-')[0].toLowerCase());
}

// Exchange enums the docs list no "Accepted values" for, by the docs' type
// name (an array type takes the same values): a wrong name is refused as
// the service refuses it.
const RECIPIENT_TYPES = ['UserMailbox', 'SharedMailbox', 'RoomMailbox', 'EquipmentMailbox', 'LinkedMailbox',
  'SchedulingMailbox', 'TeamMailbox', 'DiscoveryMailbox', 'GroupMailbox', 'LegacyMailbox', 'MailContact', 'MailUser',
  'GuestMailUser', 'MailUniversalDistributionGroup', 'MailUniversalSecurityGroup', 'MailNonUniversalGroup',
  'DynamicDistributionGroup', 'RoomList', 'PublicFolder', 'User', 'DisabledUser', 'UniversalSecurityGroup',
  'RemoteUserMailbox', 'RemoteSharedMailbox', 'RemoteRoomMailbox', 'RemoteEquipmentMailbox', 'WorkspaceMailbox'];
const ENUM_VALUES = {
  RecipientTypeDetails: RECIPIENT_TYPES,
  RecipientType: ['UserMailbox', 'MailUser', 'MailContact', 'MailUniversalDistributionGroup',
    'MailUniversalSecurityGroup', 'MailNonUniversalGroup', 'DynamicDistributionGroup', 'PublicFolder', 'User',
    'UniversalSecurityGroup', 'Contact'],
};

// One value for a catalogue parameter type: {value} or {error}.
function convert(parameter, raw) {
  const { name, type } = parameter;
  const values = parameter.values || ENUM_VALUES[String(parameter.typeName || '').replace(/\[\]$/, '')];
  const bad = (why) => ({ error: EXO.badParameterValue(name, typeof raw === 'object' ? JSON.stringify(raw) : raw, why) });
  let value;
  try {
    value = decodeValue(raw);
  } catch (err) {
    return bad(err.message);
  }
  switch (type) {
    case 'switch':
      return typeof value === 'boolean' ? { value } : bad('a switch takes true or false.');
    case 'bool':
      if (typeof value === 'boolean') return { value };
      return value === 0 || value === 1 ? { value: value === 1 } : bad('expected true or false.');
    case 'int': {
      const n = typeof value === 'number' ? value : /^-?\d+$/.test(String(value)) ? Number(value) : NaN;
      return Number.isInteger(n) ? { value: n } : bad('expected an integer.');
    }
    case 'datetime': {
      const date = value === null ? null : parseDate(value);
      return date ? { value: isoSeconds(date) } : bad('expected a DateTime such as 2024-05-01T00:00:00.0000000Z.');
    }
    case 'securestring': {
      // As the service: only a value encrypted with its public key.
      const text = decryptSecureString(value);
      // Never echoed: it may be a password sent in the clear.
      return text === null ? { error: EXO.badParameterValue(name, '(SecureString)', 'it must be encrypted with the service\'s public key.') }
        : { value: text };
    }
    case 'guid':
      return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(String(value))
        ? { value: String(value).toLowerCase() } : bad('expected a GUID.');
    default:
      break;
  }
  if (Array.isArray(values) && values.length > 0 && value !== null) {
    const given = Array.isArray(value) ? value : [value];
    const canonical = [];
    for (const v of given) {
      const match = values.find((allowed) => allowed.toLowerCase() === String(v).toLowerCase());
      if (!match) return { error: EXO.notInSet(name, v, values) };
      canonical.push(match);
    }
    return { value: Array.isArray(value) ? canonical : canonical[0] };
  }
  return { value };
}

// Canonical parameter names and decoded values, or {error} for a name the
// cmdlet does not have or a value its type refuses.
export function bindParameters(cmdlet, parameters) {
  const bound = {};
  for (const [key, raw] of Object.entries(parameters || {})) {
    if (key.includes('@odata.')) continue;
    const lower = key.toLowerCase();
    if (COMMON.has(lower)) continue;
    if (!cmdlet.parameters) {
      try {
        bound[key] = decodeValue(raw);
      } catch (err) {
        return { error: EXO.badParameterValue(key, '', err.message) };
      }
      continue;
    }
    const parameter = cmdlet.parameters.get(lower);
    if (!parameter) return { error: EXO.parameterNotFound(key) };
    const converted = convert(parameter, raw);
    if (converted.error) return converted;
    bound[parameter.name] = converted.value;
  }
  return { bound };
}
