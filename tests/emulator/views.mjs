// What the other Get- cmdlets show of a mailbox (Get-User, Get-CASMailbox,
// Get-Recipient, Get-MailboxStatistics, Get-MailboxFolderStatistics,
// Get-MobileDevice, Get-MailboxAutoReplyConfiguration). Derived values come
// from the mailbox's position, so they are the same on every call.
import { isoSeconds } from './values.mjs';

const STATS_BASE = Date.UTC(2024, 5, 1, 8, 0, 0);

// murmur3's finaliser, as in mailboxes.mjs: cheap, deterministic spread.
export function mix(x) {
  let h = x >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

// Exchange's ByteQuantifiedSize text: "1.432 GB (1,537,598,208 bytes)".
export function formatSize(bytes) {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  const shown = unit === 0 ? String(bytes) : String(Number(value.toFixed(3)));
  return `${shown} ${units[unit]} (${bytes.toLocaleString('en-US')} bytes)`;
}

// "50GB", "50 GB", "1.5 MB", "Unlimited", or Exchange's own text -> its
// ByteQuantifiedSize text; null when it does not parse.
export function parseSize(text) {
  const value = String(text).trim();
  if (/^unlimited$/i.test(value)) return 'Unlimited';
  if (/^[\d.]+ \w+ \([\d,]+ bytes\)$/.test(value)) return value;
  const m = /^([\d.]+)\s*(B|KB|MB|GB|TB)?$/i.exec(value);
  if (!m) return null;
  const power = ['B', 'KB', 'MB', 'GB', 'TB'].indexOf((m[2] || 'B').toUpperCase());
  return formatSize(Math.round(Number(m[1]) * 1024 ** power));
}

function pick(object, names) {
  const out = {};
  for (const name of names) {
    if (object[name] !== undefined) out[name] = object[name];
    const annotation = `${name}@odata.type`;
    if (object[annotation] !== undefined) out[annotation] = object[annotation];
  }
  return out;
}

const IDENTITY_PROPS = ['Name', 'Alias', 'DisplayName', 'Identity', 'Id', 'DistinguishedName', 'Guid',
  'OrganizationId', 'ExchangeVersion',
  'ExternalDirectoryObjectId', 'ExchangeObjectId', 'PrimarySmtpAddress', 'EmailAddresses', 'RecipientType',
  'RecipientTypeDetails', 'HiddenFromAddressListsEnabled', 'WhenCreated', 'WhenCreatedUTC', 'WhenChanged',
  'WhenChangedUTC'];

// Get-Recipient's view of any recipient object.
export function recipientOf(object) {
  return pick(object, [...IDENTITY_PROPS, 'ExternalEmailAddress', 'Office', 'Department', 'City', 'Company',
    'ArchiveStatus', 'CustomAttribute1']);
}

// The identity properties Get-User and Get-CASMailbox lead with.
// (Object literals, and Object.assign rather than spreads: these views are
// made 100,000 times a read, and a spread first makes a slow object.)
function viewIdentity(box) {
  return {
    Name: box.Name,
    DisplayName: box.DisplayName,
    Identity: box.Identity,
    Id: box.Id,
    DistinguishedName: box.DistinguishedName,
    Guid: box.Guid,
    'Guid@odata.type': '#Guid',
    ExternalDirectoryObjectId: box.ExternalDirectoryObjectId,
  };
}

// Get-User's defaults of a mailbox's user; `facet` holds Set-User's changes.
export function userOf(box, position, disabled) {
  const [first, ...rest] = String(box.DisplayName).split(' ');
  const type = disabled ? 'User' : box.RecipientTypeDetails;
  return Object.assign(viewIdentity(box), {
    UserPrincipalName: box.UserPrincipalName,
    WindowsEmailAddress: box.WindowsEmailAddress,
    WhenCreated: box.WhenCreated,
    'WhenCreated@odata.type': '#DateTimeOffset',
    WhenChanged: box.WhenChanged,
    'WhenChanged@odata.type': '#DateTimeOffset',
    FirstName: box.FirstName ?? first,
    LastName: box.LastName ?? rest.join(' '),
    Initials: '',
    Title: ['Engineer', 'Manager', 'Analyst', 'Director', 'Consultant'][position % 5],
    Department: ['Sales', 'Engineering', 'Finance', 'Marketing', 'Support', 'Legal'][position % 6],
    Company: 'Contoso Ltd',
    Office: box.Office ?? `Building ${1 + (position % 9)}`,
    Phone: `+1 425 555 ${String(position % 10000).padStart(4, '0')}`,
    MobilePhone: '',
    StreetAddress: '',
    City: ['Redmond', 'Seattle', 'London', 'Berlin', 'Tokyo'][position % 5],
    StateOrProvince: '',
    PostalCode: '',
    CountryOrRegion: ['United States', 'United States', 'United Kingdom', 'Germany', 'Japan'][position % 5],
    Manager: null,
    Notes: '',
    IsVIP: false,
    AccountDisabled: box.RecipientTypeDetails !== 'UserMailbox',
    RecipientType: disabled ? 'User' : 'UserMailbox',
    RecipientTypeDetails: type,
  });
}

// Get-CASMailbox's defaults of a mailbox.
export function casOf(box, position) {
  return Object.assign(viewIdentity(box), {
    PrimarySmtpAddress: box.PrimarySmtpAddress,
    EmailAddresses: box.EmailAddresses,
    'EmailAddresses@odata.type': '#Collection(String)',
    ServerName: box.ServerName,
    ServerLegacyDN: `/o=ExchangeLabs/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Configuration/cn=Servers/cn=${box.ServerName}`,
    OrganizationId: box.OrganizationId,
    ExchangeVersion: box.ExchangeVersion,
    ActiveSyncEnabled: true,
    ECPEnabled: true,
    OWAEnabled: true,
    OWAforDevicesEnabled: true,
    PopEnabled: position % 3 !== 0,
    ImapEnabled: position % 3 !== 0,
    MAPIEnabled: true,
    EwsEnabled: true,
    UniversalOutlookEnabled: true,
    OutlookMobileEnabled: true,
    SmtpClientAuthenticationDisabled: null,
    PopUseProtocolDefaults: true,
    ImapUseProtocolDefaults: true,
    ActiveSyncMailboxPolicy: 'Default',
    OwaMailboxPolicy: 'OwaMailboxPolicy-Default',
    ActiveSyncAllowedDeviceIDs: [],
    'ActiveSyncAllowedDeviceIDs@odata.type': '#Collection(String)',
    ActiveSyncBlockedDeviceIDs: [],
    'ActiveSyncBlockedDeviceIDs@odata.type': '#Collection(String)',
    EwsAllowList: null,
    EwsBlockList: null,
  });
}

// Get-MailboxStatistics: sizes and counts made from the position.
export function statisticsOf(box, position, archive) {
  const h = mix(position * 2654435761 + (archive ? 7 : 0));
  const items = archive ? h % 3000 : 200 + (h % 40000);
  const bytes = items * (30000 + (h % 70000));
  const deleted = Math.floor(items / 20);
  const logon = isoSeconds(STATS_BASE - (h % (90 * 24 * 3600)) * 1000);
  return {
    DisplayName: box.DisplayName,
    MailboxGuid: archive ? box.ArchiveGuid || box.ExchangeGuid : box.ExchangeGuid,
    'MailboxGuid@odata.type': '#Guid',
    Identity: box.ExchangeGuid,
    IsArchiveMailbox: Boolean(archive),
    ItemCount: items,
    DeletedItemCount: deleted,
    AssociatedItemCount: 40 + (h % 60),
    TotalItemSize: formatSize(bytes),
    TotalDeletedItemSize: formatSize(deleted * 25000),
    LastLogonTime: archive ? null : logon,
    'LastLogonTime@odata.type': '#DateTimeOffset',
    LastUserActionTime: archive ? null : logon,
    'LastUserActionTime@odata.type': '#DateTimeOffset',
    MailboxTypeDetail: box.RecipientTypeDetails,
    Database: box.Database,
    ServerName: box.ServerName,
    StorageLimitStatus: 'BelowLimit',
    SystemMessageSize: formatSize(1024 * (100 + (h % 900))),
  };
}

// The folders every mailbox has: [name, FolderType, FolderScope].
export const FOLDERS = [
  ['Top of Information Store', 'Root', 'NonIpmRoot'], ['Inbox', 'Inbox', 'Inbox'], ['Sent Items', 'SentItems', 'SentItems'],
  ['Deleted Items', 'DeletedItems', 'DeletedItems'], ['Drafts', 'Drafts', 'Drafts'], ['Junk Email', 'JunkEmail', 'JunkEmail'],
  ['Archive', 'Archive', 'Archive'], ['Outbox', 'Outbox', 'Outbox'], ['Calendar', 'Calendar', 'Calendar'],
  ['Contacts', 'Contacts', 'Contacts'], ['Tasks', 'Tasks', 'Tasks'], ['Notes', 'Notes', 'Notes'],
  ['Conversation History', 'ConversationHistory', 'ConversationHistory'], ['Journal', 'Journal', 'Journal'],
  ['Recoverable Items', 'RecoverableItemsRoot', 'RecoverableItems'],
];

export function folderStatisticsOf(box, position, [name, type], index) {
  const h = mix(position * 31 + index * 7919);
  const items = type === 'Root' ? 0 : h % 5000;
  const path = type === 'Root' ? '/' : `/${name}`;
  return {
    Name: name,
    FolderPath: path,
    FolderType: type,
    Identity: `${box.Name}\\${name}`,
    FolderId: `LgAAAAD${(h >>> 0).toString(36).toUpperCase()}${position.toString(36).toUpperCase()}AQ${index}`,
    ItemsInFolder: items,
    ItemsInFolderAndSubfolders: items,
    DeletedItemsInFolder: Math.floor(items / 50),
    FolderSize: formatSize(items * (20000 + (h % 30000))),
    FolderAndSubfolderSize: formatSize(items * (20000 + (h % 30000))),
    VisibleItemsInFolder: items,
    HiddenItemsInFolder: 0,
    CreationTime: box.WhenCreated,
    'CreationTime@odata.type': '#DateTimeOffset',
  };
}

// Mobile devices: every 4th mailbox (positions 1, 5, 9, ...) has an iPhone.
export function hasMobileDevice(position) {
  return position % 4 === 1;
}

export function mobileDeviceOf(box, position) {
  const h = mix(position * 97 + 13);
  const deviceId = `${h.toString(16).toUpperCase().padStart(8, '0')}${position.toString(16).toUpperCase().padStart(8, '0')}`;
  const first = isoSeconds(STATS_BASE - (h % (400 * 86400)) * 1000);
  return {
    Identity: `${box.Name}\\ExchangeActiveSyncDevices\\iPhone§${deviceId}`,
    Name: `iPhone§${deviceId}`,
    DeviceId: deviceId,
    DeviceType: 'iPhone',
    DeviceModel: 'iPhone15C2',
    DeviceOS: 'iOS 17.5.1 21F90',
    FriendlyName: `${box.DisplayName}'s iPhone`,
    UserDisplayName: box.Name,
    DeviceAccessState: 'Allowed',
    DeviceAccessStateReason: 'Global',
    ClientType: 'EAS',
    FirstSyncTime: first,
    'FirstSyncTime@odata.type': '#DateTimeOffset',
    Guid: `${deviceId.slice(0, 8).toLowerCase()}-${deviceId.slice(8, 12).toLowerCase()}-4d00-8a00-${deviceId.slice(4).toLowerCase().padEnd(12, '0')}`,
    'Guid@odata.type': '#Guid',
  };
}

export function autoReplyOf(box) {
  return {
    Identity: box.Name,
    MailboxOwnerId: box.Name,
    AutoReplyState: 'Disabled',
    InternalMessage: null,
    ExternalMessage: null,
    ExternalAudience: 'All',
    StartTime: null,
    EndTime: null,
  };
}

// Get-MobileDeviceStatistics: the device of mobileDeviceOf plus its sync history.
export function mobileDeviceStatisticsOf(box, position) {
  const device = mobileDeviceOf(box, position);
  const h = mix(position * 131 + 7);
  const lastSync = isoSeconds(STATS_BASE - (h % (60 * 86400)) * 1000);
  return {
    Identity: device.Identity,
    Guid: device.Guid,
    'Guid@odata.type': '#Guid',
    DeviceID: device.DeviceId,
    DeviceType: device.DeviceType,
    DeviceModel: device.DeviceModel,
    DeviceOS: device.DeviceOS,
    DeviceFriendlyName: device.FriendlyName,
    DeviceUserAgent: 'Apple-iPhone15C2/2105.90',
    DeviceAccessState: device.DeviceAccessState,
    DeviceAccessStateReason: device.DeviceAccessStateReason,
    ClientType: device.ClientType,
    Status: 'DeviceOk',
    FirstSyncTime: device.FirstSyncTime,
    'FirstSyncTime@odata.type': '#DateTimeOffset',
    LastPolicyUpdateTime: lastSync,
    'LastPolicyUpdateTime@odata.type': '#DateTimeOffset',
    LastSyncAttemptTime: lastSync,
    'LastSyncAttemptTime@odata.type': '#DateTimeOffset',
    LastSuccessSync: lastSync,
    'LastSuccessSync@odata.type': '#DateTimeOffset',
    NumberOfFoldersSynced: 6 + (h % 10),
    DevicePolicyApplied: 'Default',
    DevicePolicyApplicationStatus: 'AppliedInFull',
    IsRemoteWipeSupported: true,
    DeviceWipeStatus: null,
  };
}

// Get-MailboxRegionalConfiguration: what the mailbox's owner chose in
// Outlook (a mailbox nobody signed in to has none).
export function regionalOf(box, position) {
  const [language, dateFormat, timeFormat, timeZone] = [
    ['en-US', 'M/d/yyyy', 'h:mm tt', 'Pacific Standard Time'],
    ['en-GB', 'dd/MM/yyyy', 'HH:mm', 'GMT Standard Time'],
    ['de-DE', 'dd.MM.yyyy', 'HH:mm', 'W. Europe Standard Time'],
    ['ja-JP', 'yyyy/MM/dd', 'H:mm', 'Tokyo Standard Time'],
  ][position % 4];
  const unset = box.RecipientTypeDetails !== 'UserMailbox';
  return {
    Identity: box.Name,
    MailboxOwnerId: box.Name,
    Language: unset ? null : language,
    DateFormat: unset ? null : dateFormat,
    TimeFormat: unset ? null : timeFormat,
    TimeZone: unset ? null : timeZone,
    DefaultFolderNameMatchingUserLanguage: false,
  };
}

// Get-CalendarProcessing: resources accept on their own, people's
// mailboxes only update requests.
export function calendarProcessingOf(box) {
  const resource = box.RecipientTypeDetails === 'RoomMailbox' || box.RecipientTypeDetails === 'EquipmentMailbox';
  return {
    Identity: box.Name,
    MailboxOwnerId: box.Name,
    AutomateProcessing: resource ? 'AutoAccept' : 'AutoUpdate',
    AllowConflicts: false,
    AllowRecurringMeetings: true,
    BookingType: 'Standard',
    BookingWindowInDays: 180,
    MaximumDurationInMinutes: 1440,
    MinimumDurationInMinutes: 0,
    MaximumConflictInstances: 0,
    ConflictPercentageAllowed: 0,
    EnforceSchedulingHorizon: true,
    ScheduleOnlyDuringWorkHours: false,
    AllBookInPolicy: true,
    AllRequestInPolicy: false,
    AllRequestOutOfPolicy: false,
    BookInPolicy: [],
    'BookInPolicy@odata.type': '#Collection(String)',
    RequestInPolicy: [],
    'RequestInPolicy@odata.type': '#Collection(String)',
    RequestOutOfPolicy: [],
    'RequestOutOfPolicy@odata.type': '#Collection(String)',
    ResourceDelegates: [],
    'ResourceDelegates@odata.type': '#Collection(String)',
    ForwardRequestsToDelegates: true,
    DeleteAttachments: true,
    DeleteComments: true,
    DeleteSubject: true,
    AddOrganizerToSubject: true,
    DeleteNonCalendarItems: true,
    RemovePrivateProperty: true,
    RemoveOldMeetingMessages: true,
    ProcessExternalMeetingMessages: false,
    AddAdditionalResponse: false,
    AdditionalResponse: null,
    EnableResponseDetails: true,
    OrganizerInfo: true,
  };
}

// Get-MailboxJunkEmailConfiguration: the junk filter on, empty lists.
export function junkEmailOf(box) {
  return {
    Identity: box.Name,
    MailboxOwnerId: box.Name,
    Enabled: true,
    TrustedListsOnly: false,
    ContactsTrusted: true,
    TrustedSendersAndDomains: [],
    'TrustedSendersAndDomains@odata.type': '#Collection(String)',
    BlockedSendersAndDomains: [],
    'BlockedSendersAndDomains@odata.type': '#Collection(String)',
    TrustedRecipientsAndDomains: [],
    'TrustedRecipientsAndDomains@odata.type': '#Collection(String)',
  };
}
