// Get-MessageTrace(V2), Get-MessageTraceDetail(V2), Search-UnifiedAuditLog: history
// made up from fixed time slots (a message every 5 minutes, an audit record
// every 2 minutes, counted from the Unix epoch), so a window always holds
// the same records whenever it is asked for.
import { EXO } from '../exchange-errors.mjs';
import { mailboxName } from '../mailboxes.mjs';
import { mix } from '../views.mjs';
import { parseDate, isoSeconds } from '../values.mjs';
import { arrayListing, missing } from './common.mjs';

const TRACE_SLOT_MS = 5 * 60 * 1000;
const AUDIT_SLOT_MS = 2 * 60 * 1000;
const DAY_MS = 24 * 3600 * 1000;
const MAX_AUDIT_SLOTS = 100000;
const STATUSES = ['Delivered', 'Delivered', 'Delivered', 'Delivered', 'Delivered', 'Delivered', 'Delivered',
  'Failed', 'FilteredAsSpam', 'Quarantined', 'Pending', 'Expanded'];

function seedOf(tenant) {
  let h = 0;
  for (const ch of tenant.id) h = mix(h ^ ch.charCodeAt(0));
  return h;
}

function hex(value, digits) {
  return (value >>> 0).toString(16).padStart(8, '0').slice(8 - digits);
}

function list(value) {
  if (value === undefined || value === null) return [];
  return (Array.isArray(value) ? value : String(value).split(',')).map((v) => String(v).trim()).filter(Boolean);
}

function wildcardTest(patterns) {
  if (patterns.length === 0) return () => true;
  const tests = patterns.map((p) => new RegExp(`^${p.replace(/[.+^${}()|[\]\\?]/g, '\\$&').replace(/\*/g, '.*')}$`, 'i'));
  return (value) => tests.some((t) => t.test(String(value)));
}

// {start, end} Dates from -StartDate/-EndDate with defaults, or {error}.
function windowOf(params, defaultDays, required) {
  for (const name of required) if (params[name] === undefined) return missing(name);
  const now = Date.now();
  const end = params.EndDate === undefined ? new Date(now) : parseDate(params.EndDate);
  const start = params.StartDate === undefined ? new Date(now - defaultDays * DAY_MS) : parseDate(params.StartDate);
  if (!end) return { error: EXO.badParameterValue('EndDate', params.EndDate, 'not a valid DateTime.') };
  if (!start) return { error: EXO.badParameterValue('StartDate', params.StartDate, 'not a valid DateTime.') };
  if (end <= start) return { error: EXO.invalidArgument('The EndDate value must be later than the StartDate value.') };
  return { start: start.getTime(), end: end.getTime() };
}

// ---- message trace ------------------------------------------------------

function traceIdOf(h, slot) {
  return `${hex(h, 8)}-${hex(h >>> 8, 4)}-4${hex(h >>> 4, 3)}-a${hex(h >>> 12, 3)}-${slot.toString(16).padStart(12, '0')}`;
}

function messageAt(store, slot) {
  const { tenant } = store;
  const h = mix(slot ^ seedOf(tenant));
  const count = Math.max(store.generated, 1);
  const internal = (x) => `${mailboxName(1 + (x % count))}@${tenant.domain}`;
  const inbound = h % 3 === 0;
  const sender = inbound ? `news${h % 50}@example.com` : internal(h >>> 3);
  const recipient = inbound || h % 5 === 1 ? internal(h >>> 7) : `partner${h % 40}@example.org`;
  const received = slot * TRACE_SLOT_MS + (h % 240) * 1000;
  return {
    Organization: tenant.domain,
    MessageId: `<${hex(h, 8)}${slot.toString(16)}@${sender.split('@')[1]}>`,
    Received: isoSeconds(received),
    'Received@odata.type': '#DateTimeOffset',
    SenderAddress: sender,
    RecipientAddress: recipient,
    Subject: ['Quarterly report', 'Meeting notes', 'Invoice', 'Newsletter', 'Re: project plan', 'Welcome'][h % 6],
    Status: STATUSES[(h >>> 8) % STATUSES.length],
    ToIP: inbound ? null : `203.0.113.${h % 250}`,
    FromIP: inbound ? `198.51.100.${h % 250}` : `10.0.${(h >>> 4) % 250}.${h % 250}`,
    Size: 2000 + (h % 200000),
    MessageTraceId: traceIdOf(h, slot),
    'MessageTraceId@odata.type': '#Guid',
  };
}

function getMessageTrace({ store }, params) {
  const window = windowOf(params, 2, []);
  if (window.error) return window;
  if (window.start < Date.now() - 10 * DAY_MS - 60000) {
    return { error: EXO.invalidArgument("Invalid StartDate value. The StartDate can't be greater than 10 days from today.") };
  }
  const page = params.Page === undefined ? 1 : Number(params.Page);
  const pageSize = params.PageSize === undefined ? 1000 : Number(params.PageSize);
  if (!(Number.isInteger(page) && page >= 1 && page <= 1000)) return { error: EXO.badParameterValue('Page', params.Page, 'expected 1..1000.') };
  if (!(Number.isInteger(pageSize) && pageSize >= 1 && pageSize <= 5000)) {
    return { error: EXO.badParameterValue('PageSize', params.PageSize, 'expected 1..5000.') };
  }
  const senders = wildcardTest(list(params.SenderAddress));
  const recipients = wildcardTest(list(params.RecipientAddress));
  const statuses = new Set(list(params.Status).map((s) => s.toLowerCase()));
  const ids = new Set(list(params.MessageId).map((s) => s.toLowerCase()));
  const traceId = params.MessageTraceId === undefined ? null : String(params.MessageTraceId).toLowerCase();
  const matches = [];
  for (let slot = Math.ceil(window.end / TRACE_SLOT_MS); slot >= Math.floor(window.start / TRACE_SLOT_MS); slot -= 1) {
    const m = messageAt(store, slot);
    const time = Date.parse(m.Received);
    if (time < window.start || time > window.end) continue;
    if (!senders(m.SenderAddress) || !recipients(m.RecipientAddress)) continue;
    if (statuses.size > 0 && !statuses.has(m.Status.toLowerCase())) continue;
    if (ids.size > 0 && !ids.has(m.MessageId.toLowerCase())) continue;
    if (traceId && m.MessageTraceId !== traceId) continue;
    if (params.FromIP !== undefined && m.FromIP !== params.FromIP) continue;
    if (params.ToIP !== undefined && m.ToIP !== params.ToIP) continue;
    matches.push(m);
  }
  const slice = matches.slice((page - 1) * pageSize, page * pageSize).map((m, i) => ({
    ...m, StartDate: isoSeconds(window.start), EndDate: isoSeconds(window.end), Index: (page - 1) * pageSize + i,
  }));
  return { listing: arrayListing(slice, (m) => m), resultSize: Infinity };
}

// Get-MessageTraceV2: at most 10 days per query within the last 90 days,
// newest first, ResultSize 1..5000 (default 1000). More than ResultSize
// records: a warning naming the next query (-EndDate of the last record
// and -StartingRecipientAddress), as the service does; that query starts
// after that record.
function getMessageTraceV2({ store }, params) {
  const window = windowOf(params, 2, []);
  if (window.error) return window;
  if (window.start < Date.now() - 90 * DAY_MS - 60000) {
    return { error: EXO.invalidArgument('Invalid StartDate value. The StartDate can\'t be older than 90 days from today.') };
  }
  if (window.end - window.start > 10 * DAY_MS + 60000) {
    return { error: EXO.invalidArgument('The time range between StartDate and EndDate can\'t be more than 10 days.') };
  }
  const size = params.ResultSize === undefined ? 1000 : Number(params.ResultSize);
  if (!(Number.isInteger(size) && size >= 1 && size <= 5000)) {
    return { error: EXO.badParameterValue('ResultSize', params.ResultSize, 'expected 1..5000.') };
  }
  const senders = wildcardTest(list(params.SenderAddress));
  const recipients = wildcardTest(list(params.RecipientAddress));
  const statuses = new Set(list(params.Status).map((v) => v.toLowerCase()));
  const ids = new Set(list(params.MessageId).map((v) => v.toLowerCase()));
  const traceId = params.MessageTraceId === undefined ? null : String(params.MessageTraceId).toLowerCase();
  const subject = params.Subject === undefined ? null : String(params.Subject).toLowerCase();
  const subjectTest = {
    startswith: (v) => v.startsWith(subject), endswith: (v) => v.endsWith(subject), contains: (v) => v.includes(subject),
  }[String(params.SubjectFilterType || 'Contains').toLowerCase()] || ((v) => v.includes(subject));
  const after = params.StartingRecipientAddress === undefined ? null : String(params.StartingRecipientAddress).toLowerCase();
  const matches = [];
  for (let slot = Math.ceil(window.end / TRACE_SLOT_MS); slot >= Math.floor(window.start / TRACE_SLOT_MS); slot -= 1) {
    const { Organization, ...m } = messageAt(store, slot);
    const time = Date.parse(m.Received);
    if (time < window.start || time > window.end) continue;
    if (after !== null && time === window.end && m.RecipientAddress.toLowerCase() <= after) continue;
    if (!senders(m.SenderAddress) || !recipients(m.RecipientAddress)) continue;
    if (statuses.size > 0 && !statuses.has(m.Status.toLowerCase())) continue;
    if (ids.size > 0 && !ids.has(m.MessageId.toLowerCase())) continue;
    if (traceId && m.MessageTraceId !== traceId) continue;
    if (params.FromIP !== undefined && m.FromIP !== params.FromIP) continue;
    if (params.ToIP !== undefined && m.ToIP !== params.ToIP) continue;
    if (subject !== null && !subjectTest(m.Subject.toLowerCase())) continue;
    matches.push(m);
    if (matches.length > size) break;
  }
  const result = { listing: arrayListing(matches.slice(0, size), (m) => m), resultSize: Infinity };
  if (matches.length > size) {
    const last = matches[size - 1];
    result.warnings = ['There are more results, use the following command to get more results: Get-MessageTraceV2 '
      + `-StartDate "${isoSeconds(window.start)}" -EndDate "${last.Received}" -StartingRecipientAddress "${last.RecipientAddress}"`
      + ' -ResultSize ' + size];
  }
  return result;
}

const EVENTS = {
  Delivered: ['Deliver', 'The message was successfully delivered.'],
  Failed: ['Fail', '550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup'],
  FilteredAsSpam: ['Spam', 'The message was marked as spam.'],
  Quarantined: ['Quarantine', 'The message was quarantined.'],
  Pending: ['Defer', 'The message was deferred and will be retried.'],
  Expanded: ['Expand', 'The distribution group was expanded.'],
};

function getMessageTraceDetail({ store }, params) {
  if (params.MessageTraceId === undefined) return missing('MessageTraceId');
  if (params.RecipientAddress === undefined) return missing('RecipientAddress');
  const id = String(params.MessageTraceId).toLowerCase();
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(id)) {
    return { error: EXO.badParameterValue('MessageTraceId', params.MessageTraceId, 'not a valid Guid.') };
  }
  const m = messageAt(store, parseInt(id.slice(24), 16));
  if (m.MessageTraceId !== id || m.RecipientAddress.toLowerCase() !== String(params.RecipientAddress).toLowerCase()) {
    return { objects: [] };
  }
  const received = Date.parse(m.Received);
  const [event, detail] = EVENTS[m.Status];
  const base = { Organization: m.Organization, MessageId: m.MessageId, MessageTraceId: m.MessageTraceId, 'MessageTraceId@odata.type': '#Guid' };
  const events = [
    { ...base, Date: isoSeconds(received), Event: 'Receive', Action: null, Detail: `Message received by: ${m.RecipientAddress.split('@')[1]}`, Data: '' },
    { ...base, Date: isoSeconds(received + 2000), Event: event, Action: null, Detail: detail, Data: '' },
  ];
  const wanted = list(params.Event).map((e) => e.toLowerCase());
  return { objects: events.filter((e) => wanted.length === 0 || wanted.includes(e.Event.toLowerCase())) };
}

// ---- unified audit log ----------------------------------------------------

const AUDIT_KINDS = [
  ['ExchangeAdmin', 1, 'Exchange', ['Set-Mailbox', 'Add-MailboxPermission', 'New-InboxRule', 'Set-TransportRule']],
  ['ExchangeItem', 2, 'Exchange', ['Send', 'Update', 'MoveToDeletedItems', 'HardDelete']],
  ['AzureActiveDirectoryStsLogon', 15, 'AzureActiveDirectory', ['UserLoggedIn', 'UserLoginFailed']],
  ['SharePointFileOperation', 6, 'SharePoint', ['FileAccessed', 'FileModified', 'FileDownloaded']],
  ['ExchangeItemAggregated', 50, 'Exchange', ['MailItemsAccessed']],
];

function auditAt(store, slot) {
  const { tenant } = store;
  const h = mix((slot * 2654435761) ^ seedOf(tenant));
  const [recordType, typeNumber, workload, operations] = AUDIT_KINDS[h % AUDIT_KINDS.length];
  const operation = operations[(h >>> 5) % operations.length];
  const user = `${mailboxName(1 + ((h >>> 9) % Math.max(store.generated, 1)))}@${tenant.domain}`;
  const created = isoSeconds(slot * AUDIT_SLOT_MS + (h % 100) * 1000);
  const id = `${hex(h, 8)}-${hex(h >>> 16, 4)}-4${hex(h >>> 3, 3)}-b${hex(h >>> 7, 3)}-${slot.toString(16).padStart(12, '0')}`;
  const clientIp = `198.51.100.${h % 250}`;
  const objectId = recordType === 'SharePointFileOperation'
    ? `https://${tenant.name}.sharepoint.com/sites/team/Shared Documents/file${h % 500}.docx` : user;
  const auditData = {
    CreationTime: created.replace(/Z$/, ''), Id: id, Operation: operation, OrganizationId: tenant.id,
    RecordType: typeNumber, ResultStatus: operation === 'UserLoginFailed' ? 'Failed' : 'Succeeded', UserKey: user,
    UserType: 0, Version: 1, Workload: workload, ClientIP: clientIp, ObjectId: objectId, UserId: user,
  };
  return {
    RecordType: recordType,
    CreationDate: created,
    'CreationDate@odata.type': '#DateTimeOffset',
    UserIds: user,
    Operations: operation,
    AuditData: JSON.stringify(auditData),
    Identity: id,
    IsValid: true,
    ObjectState: 'Unchanged',
    clientIp,
    objectId,
  };
}

// Every record of the window that passes the filters, newest first.
function auditMatches(store, params, window) {
  const types = new Set(list(params.RecordType).map((t) => t.toLowerCase()));
  const operations = new Set(list(params.Operations).map((t) => t.toLowerCase()));
  const users = new Set(list(params.UserIds).map((t) => t.toLowerCase()));
  const objects = new Set(list(params.ObjectIds).map((t) => t.toLowerCase()));
  const ips = new Set(list(params.IPAddresses));
  const text = params.FreeText === undefined ? null : String(params.FreeText).toLowerCase();
  const out = [];
  const last = Math.floor(window.end / AUDIT_SLOT_MS);
  const first = Math.max(Math.floor(window.start / AUDIT_SLOT_MS), last - MAX_AUDIT_SLOTS);
  for (let slot = last; slot >= first; slot -= 1) {
    const r = auditAt(store, slot);
    const time = Date.parse(r.CreationDate);
    if (time < window.start || time >= window.end) continue;
    if (types.size > 0 && !types.has(r.RecordType.toLowerCase())) continue;
    if (operations.size > 0 && !operations.has(r.Operations.toLowerCase())) continue;
    if (users.size > 0 && !users.has(r.UserIds.toLowerCase())) continue;
    if (objects.size > 0 && !objects.has(r.objectId.toLowerCase())) continue;
    if (ips.size > 0 && !ips.has(r.clientIp)) continue;
    if (text && !r.AuditData.toLowerCase().includes(text)) continue;
    out.push(r);
  }
  return out;
}

// Without -SessionId: the first ResultSize records. With it, each call
// continues where the previous call of that session stopped (the follow-up
// OData pages of one call repeat that call's start), until the set is done
// (50,000 for ReturnLargeSet, 5,000 for previews): then an empty answer.
function searchUnifiedAuditLog({ store, firstPage }, params) {
  const window = windowOf(params, 0, ['StartDate', 'EndDate']);
  if (window.error) return window;
  const size = params.ResultSize === undefined ? 100 : Number(params.ResultSize);
  if (!(Number.isInteger(size) && size >= 1 && size <= 5000)) {
    return { error: EXO.badParameterValue('ResultSize', params.ResultSize, 'expected 1..5000.') };
  }
  const matches = auditMatches(store, params, window);
  let start = 0;
  let limit = matches.length;
  if (params.SessionId !== undefined) {
    const large = String(params.SessionCommand || 'ReturnLargeSet').toLowerCase() === 'returnlargeset';
    limit = Math.min(matches.length, large ? 50000 : 5000);
    const key = String(params.SessionId);
    const session = store.auditSessions.get(key) || { next: 0, start: 0 };
    if (firstPage) {
      session.start = session.next;
      session.next = Math.min(limit, session.next + size);
    }
    store.auditSessions.set(key, session);
    start = session.start;
  }
  const records = matches.slice(start, Math.min(limit, start + size)).map((r, i) => {
    // clientIp and objectId only serve the filters; the service does not show them.
    const { clientIp, objectId, ...shown } = r;
    return { ...shown, ResultIndex: start + i + 1, ResultCount: limit };
  });
  return { listing: arrayListing(records, (r) => r), resultSize: Infinity };
}

export const REPORT_CMDLETS = {
  'Get-MessageTrace': getMessageTrace,
  'Get-MessageTraceDetail': getMessageTraceDetail,
  'Get-MessageTraceV2': getMessageTraceV2,
  'Get-MessageTraceDetailV2': getMessageTraceDetail,
  'Search-UnifiedAuditLog': searchUnifiedAuditLog,
};
