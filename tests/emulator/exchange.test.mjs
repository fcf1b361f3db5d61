// Self-tests of the Exchange side: the catalogue, the in-memory tenant
// (every cmdlet family), faults, throttling, stats and delegation.
// Run: node --test tests/emulator/
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import https from 'node:https';
import { publicEncrypt, constants } from 'node:crypto';
import { startEmulator, CLIENT_ID, exchangeClient, assertExchangeError } from './harness.mjs';
import { TenantStore } from './tenant-store.mjs';
import { TENANTS } from './directory.mjs';
import { CATALOGUE_FILE } from './catalogue.mjs';

const MAILBOXES = 300;
let dir;
let emu;
let contoso;
let fabrikam;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'exo-emu-'));
  emu = await startEmulator(dir, ['--mailboxes', String(MAILBOXES)]);
  contoso = (await emu.signIn('admin@contoso.onmicrosoft.com')).json.access_token;
  fabrikam = (await emu.signIn('admin@fabrikam.onmicrosoft.com')).json.access_token;
  ({ run, ok, values, readAll } = exchangeClient(emu, contoso));
});

after(async () => {
  await emu.stop();
  rmSync(dir, { recursive: true, force: true });
});

let run;
let ok;
let values;
let readAll;
const assertError = assertExchangeError;

// A SecureString parameter as Microsoft's module sends it: encrypted with
// the service's public key (PKCS#1 v1.5), base64.
function secure(text) {
  const key = readFileSync(emu.info.exoPublicKeyFile);
  return publicEncrypt({ key, padding: constants.RSA_PKCS1_PADDING }, Buffer.from(text)).toString('base64');
}

const HASHTABLE = '#Exchange.GenericHashTable';

test('every catalogue cmdlet is known; unknown parameters and bad values are refused', async () => {
  const catalogue = JSON.parse(readFileSync(CATALOGUE_FILE, 'utf8')).commands;
  assert.ok(catalogue.length >= 60);
  for (const { name, products } of catalogue) {
    const res = await run(name, {});
    // Security & Compliance-only cmdlets are not on the Exchange endpoint.
    const here = !products || products.includes('ExchangeOnline');
    assert.equal(res.headers['x-exceptiontype'] === 'CommandNotFoundException', !here, name);
  }
  assertError(await run('Get-Frobnicator'), 400, 'CommandNotFoundException');
  const bogus = await run('Set-Mailbox', { Identity: 'user00001', Bogus: 1 });
  assertError(bogus, 400, 'ParameterBindingException');
  assert.equal(bogus.json.error.innererror.message, "A parameter cannot be found that matches parameter name 'Bogus'.");
  assertError(await run('Get-Mailbox', { RecipientTypeDetails: ['NoSuchType'] }), 400, 'ParameterBindingException');
  assertError(await run('Get-Mailbox', { Archive: 'yes' }), 400, 'ParameterBindingException');
  assertError(await run('Search-UnifiedAuditLog', { StartDate: 'never', EndDate: '2024-01-01T00:00:00Z' }), 400, 'ParameterBindingException');
  // case-insensitive names, common parameters ignored
  assert.equal((await values('get-mailbox', { identity: 'USER00001', ErrorAction: 'Stop', Verbose: true }))[0].Name, 'user00001');
});

test('mailboxes: New, Get by every identity, duplicates, Set with hashtables, warnings, Remove', async () => {
  const created = (await values('New-Mailbox', { Name: 'Jane Doe', Alias: 'jdoe', MicrosoftOnlineServicesID: 'jdoe@contoso.onmicrosoft.com', Password: secure('x') }))[0];
  assert.equal(created.PrimarySmtpAddress, 'jdoe@contoso.onmicrosoft.com');
  assert.equal(created['Guid@odata.type'], '#Guid');
  for (const id of ['Jane Doe', 'jdoe', 'JDOE@contoso.onmicrosoft.com', created.Guid, created.DistinguishedName]) {
    assert.equal((await values('Get-Mailbox', { Identity: id }))[0].Name, 'Jane Doe', id);
  }
  const all = await readAll('Get-Mailbox', { ResultSize: 'Unlimited' });
  assert.equal(all.objects.length, MAILBOXES + 1);
  assertError(await run('New-Mailbox', { Name: 'Jane Doe' }), 400, 'ADObjectAlreadyExistsException');
  const proxy = await run('New-Mailbox', { Name: 'Other', Alias: 'other', PrimarySmtpAddress: 'user00002@contoso.onmicrosoft.com' });
  assertError(proxy, 400, 'ADObjectAlreadyExistsException');
  assert.match(proxy.json.error.innererror.message, /The proxy address "SMTP:user00002@contoso.onmicrosoft.com" is already being used/);

  const set = await ok('Set-Mailbox', {
    Identity: 'jdoe',
    EmailAddresses: { '@odata.type': HASHTABLE, Add: ['smtp:jane@contoso.onmicrosoft.com'] },
    ProhibitSendQuota: '50GB',
    CustomAttribute1: 'VIP',
  });
  assert.deepEqual(set.value, []);
  assert.deepEqual(set['@adminapi.warnings'], []); // present even when empty, as the service sends it
  const box = (await values('Get-Mailbox', { Identity: 'jane@contoso.onmicrosoft.com' }))[0];
  assert.deepEqual(box.EmailAddresses, ['SMTP:jdoe@contoso.onmicrosoft.com', 'smtp:jane@contoso.onmicrosoft.com']);
  assert.equal(box.ProhibitSendQuota, '50 GB (53,687,091,200 bytes)');
  assert.equal(box.CustomAttribute1, 'VIP');
  const again = await ok('Set-Mailbox', { Identity: 'jdoe', CustomAttribute1: 'VIP' });
  assert.deepEqual(again['@adminapi.warnings'], ["The command completed successfully but no settings of 'jdoe' have been modified."]);
  const taken = await run('Set-Mailbox', { Identity: 'jdoe', EmailAddresses: { '@odata.type': HASHTABLE, Add: 'user00003@contoso.onmicrosoft.com' } });
  assertError(taken, 400, 'ADObjectAlreadyExistsException');
  await ok('Set-Mailbox', { Identity: 'jdoe', EmailAddresses: { '@odata.type': HASHTABLE, Remove: ['smtp:jane@contoso.onmicrosoft.com'] } });
  assertError(await run('Get-Mailbox', { Identity: 'jane@contoso.onmicrosoft.com' }), 404, 'ManagementObjectNotFoundException');
  await ok('Set-Mailbox', { Identity: 'jdoe', WindowsEmailAddress: 'jane.doe@contoso.onmicrosoft.com' });
  const moved = (await values('Get-Mailbox', { Identity: 'jane.doe@contoso.onmicrosoft.com' }))[0];
  assert.equal(moved.PrimarySmtpAddress, 'jane.doe@contoso.onmicrosoft.com');
  assert.ok(moved.EmailAddresses.includes('smtp:jdoe@contoso.onmicrosoft.com'));

  await ok('Set-Mailbox', { Identity: 'user00042', Type: 'Shared' });
  const shared = await readAll('Get-Mailbox', { ResultSize: 'Unlimited', RecipientTypeDetails: ['SharedMailbox'] });
  assert.ok(shared.objects.some((m) => m.Name === 'user00042'));
  assert.equal((await values('Get-Mailbox', { Identity: 'user00043' }))[0].RecipientTypeDetails, 'UserMailbox');

  await ok('Remove-Mailbox', { Identity: 'jdoe', Confirm: false });
  assertError(await run('Get-Mailbox', { Identity: 'jdoe' }), 404, 'ManagementObjectNotFoundException');
  await ok('Remove-Mailbox', { Identity: 'user00299' });
  assert.equal((await readAll('Get-Mailbox', { ResultSize: 'Unlimited' })).objects.length, MAILBOXES - 1);
  assertError(await run('Set-Mailbox', { Identity: 'user00299', DisplayName: 'x' }), 404, 'ManagementObjectNotFoundException');
});

test('Enable-/Disable-Mailbox, archives, statistics and folder statistics', async () => {
  await ok('Disable-Mailbox', { Identity: 'user00011' });
  assertError(await run('Get-Mailbox', { Identity: 'user00011' }), 404, 'ManagementObjectNotFoundException');
  assert.equal((await values('Get-User', { Identity: 'user00011' }))[0].RecipientTypeDetails, 'User');
  await ok('Enable-Mailbox', { Identity: 'user00011' });
  assert.equal((await values('Get-Mailbox', { Identity: 'user00011' }))[0].Name, 'user00011');

  assertError(await run('Get-MailboxStatistics', { Identity: 'user00012', Archive: true }), 400, 'TaskArgumentException');
  const enabled = (await values('Enable-Mailbox', { Identity: 'user00012', Archive: true }))[0];
  assert.equal(enabled.ArchiveStatus, 'Active');
  const archive = (await values('Get-MailboxStatistics', { Identity: 'user00012', Archive: true }))[0];
  assert.equal(archive.IsArchiveMailbox, true);
  const first = (await values('Get-MailboxStatistics', { Identity: 'user00012' }))[0];
  const second = (await values('Get-MailboxStatistics', { Identity: 'user00012' }))[0];
  assert.deepEqual(first, second);
  assert.match(first.TotalItemSize, /^[\d.]+ (B|KB|MB|GB) \([\d,]+ bytes\)$/);
  const folders = await values('Get-MailboxFolderStatistics', { Identity: 'user00012' });
  assert.ok(folders.length >= 12);
  const inbox = await values('Get-MailboxFolderStatistics', { Identity: 'user00012', FolderScope: 'Inbox' });
  assert.deepEqual(inbox.map((f) => f.FolderPath), ['/Inbox']);
  assertError(await run('Get-MailboxStatistics', { Identity: 'nobody' }), 404, 'ManagementObjectNotFoundException');
});

test('recipients and users: Get-Recipient spans every kind; Set-User shows in Get-User and Get-Mailbox', async () => {
  const all = await readAll('Get-Recipient', { ResultSize: 'Unlimited' }, { headers: { prefer: 'odata.maxpagesize=100' } });
  const kinds = new Set(all.objects.map((r) => r.RecipientTypeDetails));
  for (const kind of ['UserMailbox', 'SharedMailbox', 'RoomMailbox', 'MailUniversalDistributionGroup', 'GroupMailbox', 'MailContact', 'GuestMailUser']) {
    assert.ok(kinds.has(kind), kind);
  }
  assert.equal(new Set(all.objects.map((r) => r.Guid)).size, all.objects.length);
  const contacts = await values('Get-Recipient', { RecipientTypeDetails: ['MailContact'] });
  assert.deepEqual(contacts.map((c) => c.Name), ['Partner Contact']);
  await ok('Set-User', { Identity: 'user00005', Department: 'Research', DisplayName: 'Five Research' });
  const user = (await values('Get-User', { Identity: 'user00005' }))[0];
  assert.deepEqual([user.Department, user.DisplayName], ['Research', 'Five Research']);
  assert.equal((await values('Get-Mailbox', { Identity: 'user00005' }))[0].DisplayName, 'Five Research');
  const research = await readAll('Get-User', { ResultSize: 'Unlimited', Filter: "Department -eq 'Research'" });
  assert.deepEqual(research.objects.map((u) => u.Name), ['user00005']);
  const anr = await values('Get-Recipient', { Anr: 'Sales' });
  assert.ok(anr.some((r) => r.Name === 'Sales Team'));
});

test('mailbox, recipient and folder permissions', async () => {
  const added = (await values('Add-MailboxPermission', { Identity: 'user00020', User: 'user00021', AccessRights: ['FullAccess'], InheritanceType: 'All' }))[0];
  assert.equal(added.User, 'user00021@contoso.onmicrosoft.com');
  let perms = await values('Get-MailboxPermission', { Identity: 'user00020' });
  assert.deepEqual(perms.map((p) => p.User), ['NT AUTHORITY\\SELF', 'user00021@contoso.onmicrosoft.com']);
  perms = await values('Get-MailboxPermission', { Identity: 'user00020', User: 'user00021' });
  assert.deepEqual(perms[0].AccessRights, ['FullAccess']);
  await ok('Remove-MailboxPermission', { Identity: 'user00020', User: 'user00021', AccessRights: ['FullAccess'] });
  assert.equal((await values('Get-MailboxPermission', { Identity: 'user00020' })).length, 1);
  const missingAce = await ok('Remove-MailboxPermission', { Identity: 'user00020', User: 'user00021', AccessRights: ['FullAccess'] });
  assert.match(missingAce['@adminapi.warnings'][0], /ACE doesn't exist/);

  await ok('Add-RecipientPermission', { Identity: 'Sales Team', Trustee: 'user00022', AccessRights: ['SendAs'] });
  const sendAs = await values('Get-RecipientPermission', { Identity: 'sales@contoso.onmicrosoft.com' });
  assert.deepEqual(sendAs.map((p) => p.Trustee), ['user00022@contoso.onmicrosoft.com']);
  assert.ok((await values('Get-RecipientPermission', { Trustee: 'user00022' })).length === 1);
  await ok('Remove-RecipientPermission', { Identity: 'Sales Team', Trustee: 'user00022', AccessRights: ['SendAs'] });
  assert.deepEqual(await values('Get-RecipientPermission', { Identity: 'Sales Team' }), []);

  const calendar = 'user00023:\\Calendar';
  const defaults = await values('Get-MailboxFolderPermission', { Identity: calendar });
  assert.deepEqual(defaults.map((p) => [p.User, p.AccessRights[0]]), [['Default', 'AvailabilityOnly'], ['Anonymous', 'None']]);
  await ok('Add-MailboxFolderPermission', { Identity: calendar, User: 'user00024', AccessRights: ['Editor'] });
  assertError(await run('Add-MailboxFolderPermission', { Identity: calendar, User: 'user00024', AccessRights: ['Editor'] }), 400,
    'UserAlreadyExistsInPermissionEntryException');
  await ok('Set-MailboxFolderPermission', { Identity: calendar, User: 'user00024', AccessRights: ['Reviewer'] });
  const one = await values('Get-MailboxFolderPermission', { Identity: calendar, User: 'user00024' });
  assert.deepEqual(one.map((p) => [p.User, p.AccessRights[0]]), [['User 00024', 'Reviewer']]);
  await ok('Remove-MailboxFolderPermission', { Identity: calendar, User: 'user00024' });
  assertError(await run('Set-MailboxFolderPermission', { Identity: calendar, User: 'user00024', AccessRights: ['Owner'] }), 400,
    'UserNotFoundInPermissionEntryException');
  assertError(await run('Get-MailboxFolderPermission', { Identity: 'user00023:\\Nowhere' }), 404, 'ManagementObjectNotFoundException');
});

test('distribution groups and members; unified groups and links', async () => {
  const group = (await values('New-DistributionGroup', { Name: 'Ops', Members: ['user00030', 'user00031'], ManagedBy: ['user00030'], Type: 'Security' }))[0];
  assert.deepEqual([group.RecipientTypeDetails, group.PrimarySmtpAddress], ['MailUniversalSecurityGroup', 'Ops@contoso.onmicrosoft.com']);
  assertError(await run('New-DistributionGroup', { Name: 'Ops' }), 400, 'ADObjectAlreadyExistsException');
  const members = async (id) => (await values('Get-DistributionGroupMember', { Identity: id })).map((m) => m.Name);
  assert.deepEqual(await members('Ops'), ['user00030', 'user00031']);
  await ok('Add-DistributionGroupMember', { Identity: 'ops@contoso.onmicrosoft.com', Member: 'user00032' });
  assertError(await run('Add-DistributionGroupMember', { Identity: 'Ops', Member: 'user00032' }), 400, 'MemberAlreadyExistsException');
  await ok('Remove-DistributionGroupMember', { Identity: 'Ops', Member: 'user00030' });
  assertError(await run('Remove-DistributionGroupMember', { Identity: 'Ops', Member: 'user00030' }), 400, 'MemberNotFoundException');
  assert.deepEqual(await members('Ops'), ['user00031', 'user00032']);
  await ok('Update-DistributionGroupMember', { Identity: 'Ops', Members: ['user00033'] });
  assert.deepEqual(await members('Ops'), ['user00033']);
  await ok('Set-DistributionGroup', { Identity: 'Ops', ManagedBy: { '@odata.type': HASHTABLE, Add: 'user00033' } });
  assert.deepEqual((await values('Get-DistributionGroup', { Identity: 'Ops' }))[0].ManagedBy, ['user00030', 'user00033']);
  assert.deepEqual((await values('Get-DistributionGroup', { ManagedBy: 'user00033' })).map((g) => g.Name), ['Ops']);
  await ok('Remove-Mailbox', { Identity: 'user00033' });
  assert.deepEqual(await members('Ops'), []);
  await ok('Remove-DistributionGroup', { Identity: 'Ops' });
  assertError(await run('Get-DistributionGroup', { Identity: 'Ops' }), 404, 'ManagementObjectNotFoundException');

  const unified = (await values('New-UnifiedGroup', { DisplayName: 'Marketing Crew', Owner: 'user00034', Members: ['user00035'], AccessType: 'Private' }))[0];
  assert.equal(unified.RecipientTypeDetails, 'GroupMailbox');
  const links = async (type) => (await values('Get-UnifiedGroupLinks', { Identity: 'Marketing Crew', LinkType: type })).map((m) => m.Name);
  assert.deepEqual(await links('Members'), ['user00035', 'user00034']);
  assert.deepEqual(await links('Owners'), ['user00034']);
  await ok('Add-UnifiedGroupLinks', { Identity: unified.PrimarySmtpAddress, LinkType: 'Owners', Links: ['user00035'] });
  await ok('Remove-UnifiedGroupLinks', { Identity: 'Marketing Crew', LinkType: 'Members', Links: ['user00034'] });
  assert.deepEqual(await links('Owners'), ['user00034', 'user00035']);
  assert.deepEqual(await links('Members'), ['user00035']);
  await ok('Set-UnifiedGroup', { Identity: 'Marketing Crew', Notes: 'Spring campaign' });
  assert.equal((await values('Get-UnifiedGroup', { Identity: 'Marketing Crew' }))[0].Notes, 'Spring campaign');
  await ok('Remove-UnifiedGroup', { Identity: 'Marketing Crew' });
  assertError(await run('Get-UnifiedGroup', { Identity: 'Marketing Crew' }), 404, 'ManagementObjectNotFoundException');
});

test('CAS mailbox, auto-reply, mobile devices, org config, accepted domains', async () => {
  await ok('Set-CASMailbox', { Identity: 'user00001', PopEnabled: false, ActiveSyncBlockedDeviceIDs: { '@odata.type': HASHTABLE, Add: ['DEV1'] } });
  const cas = (await values('Get-CASMailbox', { Identity: 'user00001' }))[0];
  assert.deepEqual([cas.PopEnabled, cas.ActiveSyncBlockedDeviceIDs], [false, ['DEV1']]);
  const popOff = await readAll('Get-CASMailbox', { ResultSize: 'Unlimited', Filter: 'PopEnabled -eq $false' });
  const popOffNames = popOff.objects.map((c) => c.Name);
  assert.ok(popOffNames.includes('user00001') && popOffNames.includes('user00003') && !popOffNames.includes('user00002'));
  assert.ok(popOff.objects.every((c) => c.PopEnabled === false) && popOff.objects.length > 90);
  await ok('Set-MailboxAutoReplyConfiguration', { Identity: 'user00002', AutoReplyState: 'Enabled', InternalMessage: 'Away' });
  const reply = (await values('Get-MailboxAutoReplyConfiguration', { Identity: 'user00002' }))[0];
  assert.deepEqual([reply.AutoReplyState, reply.InternalMessage], ['Enabled', 'Away']);

  const devices = await values('Get-MobileDevice', { Mailbox: 'user00005' });
  assert.equal(devices.length, 1);
  assert.deepEqual((await values('Get-MobileDevice', { Identity: devices[0].Identity }))[0].DeviceId, devices[0].DeviceId);
  assert.deepEqual(await values('Get-MobileDevice', { Mailbox: 'user00006' }), []);
  const everyDevice = await readAll('Get-MobileDevice', { ResultSize: 'Unlimited' });
  assert.ok(everyDevice.objects.length >= 70);

  const org = (await values('Get-OrganizationConfig'))[0];
  assert.equal(org.Name, 'contoso.onmicrosoft.com');
  const domains = await values('Get-AcceptedDomain');
  assert.deepEqual(domains.map((d) => d.Default), [true, false]);
});

test('mail contacts and mail users', async () => {
  const contact = (await values('New-MailContact', { Name: 'Vendor', ExternalEmailAddress: 'sales@vendor.example' }))[0];
  assert.equal(contact.ExternalEmailAddress, 'SMTP:sales@vendor.example');
  assertError(await run('New-MailContact', { Name: 'Vendor 2', ExternalEmailAddress: 'sales@vendor.example' }), 400, 'ADObjectAlreadyExistsException');
  await ok('Set-MailContact', { Identity: 'Vendor', DisplayName: 'Vendor Inc' });
  assert.equal((await values('Get-MailContact', { Identity: 'sales@vendor.example' }))[0].DisplayName, 'Vendor Inc');
  await ok('Remove-MailContact', { Identity: 'Vendor' });
  assertError(await run('Get-MailContact', { Identity: 'Vendor' }), 404, 'ManagementObjectNotFoundException');

  const user = (await values('New-MailUser', { Name: 'Contractor', MicrosoftOnlineServicesID: 'contractor@contoso.onmicrosoft.com', ExternalEmailAddress: 'c@example.net', Password: secure('x') }))[0];
  assert.equal(user.RecipientTypeDetails, 'MailUser');
  await ok('Set-MailUser', { Identity: 'Contractor', CustomAttribute1: 'temp' });
  assert.equal((await values('Get-MailUser', { Identity: 'Contractor' }))[0].CustomAttribute1, 'temp');
  assert.equal((await values('Get-User', { Identity: 'Contractor' }))[0].RecipientType, 'MailUser');
  await ok('Remove-MailUser', { Identity: 'Contractor' });
  assertError(await run('Get-MailUser', { Identity: 'Contractor' }), 404, 'ManagementObjectNotFoundException');
});

test('inbox rules and transport rules', async () => {
  const rule = (await values('New-InboxRule', { Mailbox: 'user00040', Name: 'Newsletters', SubjectContainsWords: ['newsletter'], MoveToFolder: 'Archive' }))[0];
  assert.equal(rule.Identity, `user00040\\${rule.RuleIdentity}`);
  await values('New-InboxRule', { Mailbox: 'user00040', Name: 'Boss', From: ['user00001'], MarkAsRead: false, Priority: 1 });
  let rules = await values('Get-InboxRule', { Mailbox: 'user00040' });
  assert.deepEqual(rules.map((r) => [r.Name, r.Priority]), [['Boss', 1], ['Newsletters', 2]]);
  await ok('Set-InboxRule', { Identity: rule.Identity, MoveToFolder: 'Deleted Items' });
  await ok('Disable-InboxRule', { Identity: 'Newsletters', Mailbox: 'user00040' });
  const changed = (await values('Get-InboxRule', { Identity: rule.Identity }))[0];
  assert.deepEqual([changed.MoveToFolder, changed.Enabled], ['Deleted Items', false]);
  await ok('Remove-InboxRule', { Identity: 'user00040\\Boss' });
  rules = await values('Get-InboxRule', { Mailbox: 'user00040' });
  assert.deepEqual(rules.map((r) => [r.Name, r.Priority]), [['Newsletters', 1]]);
  assertError(await run('Get-InboxRule', { Identity: 'user00040\\Boss' }), 404, 'ManagementObjectNotFoundException');

  await values('New-TransportRule', { Name: 'Block EXE', AttachmentExtensionMatchesWords: ['exe'], RejectMessageReasonText: 'No executables' });
  await values('New-TransportRule', { Name: 'Tag', PrependSubject: '[EXT] ', Priority: 0, Enabled: false });
  assertError(await run('New-TransportRule', { Name: 'Tag' }), 400, 'ADObjectAlreadyExistsException');
  let transport = await values('Get-TransportRule');
  assert.deepEqual(transport.map((r) => [r.Name, r.Priority, r.State]),
    [['Tag', 0, 'Disabled'], ['External Disclaimer', 1, 'Enabled'], ['Block EXE', 2, 'Enabled']]);
  await ok('Enable-TransportRule', { Identity: 'Tag' });
  await ok('Set-TransportRule', { Identity: 'Block EXE', Priority: 0, Comments: 'security' });
  transport = await values('Get-TransportRule', { State: 'Enabled' });
  assert.deepEqual(transport.map((r) => r.Name), ['Block EXE', 'Tag', 'External Disclaimer']);
  await ok('Remove-TransportRule', { Identity: 'Tag' });
  assert.deepEqual((await values('Get-TransportRule')).map((r) => [r.Name, r.Priority]), [['Block EXE', 0], ['External Disclaimer', 1]]);
});

test('message trace and audit log: generated, deterministic, paged', async () => {
  const end = new Date(Math.floor(Date.now() / 3600000) * 3600000);
  const start = new Date(end.getTime() - 24 * 3600000);
  const window = { StartDate: start.toISOString(), EndDate: end.toISOString() };
  const first = await readAll('Get-MessageTrace', window, { headers: { prefer: 'odata.maxpagesize=100' } });
  const second = await values('Get-MessageTrace', window);
  assert.equal(first.objects.length, 288);
  assert.equal(first.pages, 3);
  assert.deepEqual(first.objects.map((m) => m.MessageTraceId), second.map((m) => m.MessageTraceId));
  const failed = await values('Get-MessageTrace', { ...window, Status: ['Failed'] });
  assert.ok(failed.length > 0 && failed.every((m) => m.Status === 'Failed'));
  const page2 = await values('Get-MessageTrace', { ...window, Page: 2, PageSize: 50 });
  assert.deepEqual(page2.map((m) => m.MessageTraceId), second.slice(50, 100).map((m) => m.MessageTraceId));
  const m = second[0];
  const detail = await values('Get-MessageTraceDetail', { MessageTraceId: m.MessageTraceId, RecipientAddress: m.RecipientAddress });
  assert.equal(detail[0].Event, 'Receive');
  const old = await run('Get-MessageTrace', { StartDate: new Date(Date.now() - 20 * 86400000).toISOString() });
  assertError(old, 400, 'TaskArgumentException');

  const audit = { ...window, SessionId: 'session-1', SessionCommand: 'ReturnLargeSet', ResultSize: 200 };
  const seen = new Set();
  let total = 0;
  for (let call = 0; call < 10; call += 1) {
    const { objects } = await readAll('Search-UnifiedAuditLog', audit, { headers: { prefer: 'odata.maxpagesize=64' } });
    if (objects.length === 0) break;
    for (const r of objects) seen.add(r.Identity);
    total += objects.length;
    assert.equal(objects[0].ResultCount, 720);
  }
  assert.deepEqual([total, seen.size], [720, 720]);
  const logons = await values('Search-UnifiedAuditLog', { ...window, RecordType: 'AzureActiveDirectoryStsLogon', ResultSize: 5000 });
  assert.ok(logons.length > 0 && logons.every((r) => JSON.parse(r.AuditData).Workload === 'AzureActiveDirectory'));
  assertError(await run('Search-UnifiedAuditLog', { StartDate: start.toISOString() }), 400, 'ParameterBindingException');
});

test('changes to generated mailboxes are stored sparsely', () => {
  const store = new TenantStore(TENANTS[0], 100000);
  assert.equal(store.findMailbox('room100000'), 100000);
  assert.equal(store.findMailbox('user99999@contoso.onmicrosoft.com'), 99999);
  assert.equal(store.findMailbox('user100001'), 0);
  store.facetFor(42, 'mailbox', 'CustomAttribute1').CustomAttribute1 = 'x';
  assert.equal(store.deltas.size, 1);
  assert.equal(store.mailbox(42).CustomAttribute1, 'x');
  assert.equal(store.mailbox(43).CustomAttribute1, undefined);
  store.removeMailbox(7);
  assert.equal(store.mailboxExists(7), false);
  assert.equal(store.findMailbox('user00007'), 0);
});

test('partner delegation: contoso admin manages fabrikam; others get 403', async () => {
  const delegated = await readAll('Get-Mailbox', { ResultSize: 'Unlimited' }, { url: '/adminapi/beta/fabrikam.onmicrosoft.com/InvokeCommand' });
  assert.equal(delegated.objects.length, 50);
  assert.ok(delegated.objects[0].PrimarySmtpAddress.endsWith('@fabrikam.onmicrosoft.com'));
  const back = await run('Get-Mailbox', { ResultSize: 1 }, { token: fabrikam });
  assertError(back, 403, 'UnauthorizedAccessException');
  const user = (await emu.token({ grant_type: 'password', client_id: CLIENT_ID, username: 'user@contoso.onmicrosoft.com', password: 'P@ssw0rd!', scope: 'https://outlook.office365.com/.default' })).json.access_token;
  assertError(await run('Get-Mailbox', {}, { token: user, tenant: 'fabrikam.onmicrosoft.com' }), 403, 'UnauthorizedAccessException');
  // each tenant has its own store
  await ok('Set-Mailbox', { Identity: 'user00001', DisplayName: 'Fabrikam One' }, { token: fabrikam, tenant: 'fabrikam.onmicrosoft.com' });
  assert.notEqual((await values('Get-Mailbox', { Identity: 'user00001' }))[0].DisplayName, 'Fabrikam One');
});

test('stats: per-cmdlet counts, state-changing requests, URL tenants; reset of tenants', async () => {
  await emu.control('reset');
  await run('Get-Mailbox', { ResultSize: 1 });
  await run('Get-Mailbox', { ResultSize: 1 }, { tenant: 'fabrikam.onmicrosoft.com' });
  let stats = (await emu.call('GET', '/_emulator/stats')).json;
  assert.deepEqual(stats.cmdletRequests, { 'Get-Mailbox': 2 });
  assert.equal(stats.stateChangingRequests, 0);
  assert.deepEqual(stats.urlTenants, { [emu.info.tenantId]: 1, 'fabrikam.onmicrosoft.com': 1 });
  await run('set-mailbox', { Identity: 'shared00050', DisplayName: 'Fifty' });
  await emu.call('POST', `/adminapi/beta/${emu.info.tenantId}/InvokeCommand`, { json: { CmdletInput: { CmdletName: 'Remove-Mailbox', Parameters: {} } } });
  stats = (await emu.call('GET', '/_emulator/stats')).json;
  assert.equal(stats.stateChangingRequests, 2); // counted even when refused (401)
  assert.equal(stats.cmdletRequests['Set-Mailbox'], 1);
  await emu.control('reset', { tenants: true });
  assert.equal((await values('Get-Mailbox', { Identity: 'shared00050' }))[0].DisplayName, 'Shared 00050');
  assert.equal((await values('Get-Mailbox', { Identity: 'user00042' }))[0].RecipientTypeDetails, 'UserMailbox');
});

async function faults(queue) {
  const res = await emu.control('config', { faults: { exchange: queue } });
  assert.equal(res.status, 200, res.text);
}

test('faults: 429/503/504 with and without Retry-After, plain-text throttle, transient exceptions, 403', async () => {
  const get = () => run('Get-Mailbox', { ResultSize: 1 });
  await faults([
    { kind: 'status', status: 429, retryAfter: 2 },
    { kind: 'status', status: 503, retryAfter: 1 },
    { kind: 'status', status: 503 },
    { kind: 'status', status: 504, retryAfter: 3 },
    { kind: 'status', status: 504 },
    { kind: 'throttle', retryAfter: 5 },
    { kind: 'transient', exception: 'DCOverloadedException' },
    { kind: 'transient', exception: 'ServerInMMException' },
    { kind: 'transient', exception: 'StorageTransientException' },
    { kind: 'transient', exception: 'ADTransientException' },
    { kind: 'forbidden' },
  ]);
  const r429 = await get();
  assert.deepEqual([r429.status, r429.headers['retry-after'], r429.json.error.code], [429, '2', 'TooManyRequests']);
  const r503 = await get();
  assert.deepEqual([r503.status, r503.headers['retry-after'], r503.json.error.code], [503, '1', 'ServiceUnavailable']);
  const r503b = await get();
  assert.deepEqual([r503b.status, r503b.headers['retry-after']], [503, undefined]);
  const r504 = await get();
  assert.deepEqual([r504.status, r504.headers['retry-after'], r504.json.error.code], [504, '3', 'GatewayTimeout']);
  assert.deepEqual([(await get()).status], [504]);
  const text = await get();
  assert.deepEqual([text.status, text.headers['retry-after']], [429, '5']);
  assert.match(text.headers['content-type'], /^text\/plain/);
  assert.match(text.text, /^You have reached the maximum number of concurrent requests per tenant/);
  for (const [exception, ns] of [['DCOverloadedException', 'Directory'], ['ServerInMMException', 'Directory'],
    ['StorageTransientException', 'Storage'], ['ADTransientException', 'Directory']]) {
    const res = await get();
    assertError(res, 500, exception);
    assert.equal(res.json.error.innererror.type, `Microsoft.Exchange.Data.${ns}.${exception}`);
  }
  const denied = await get();
  assertError(denied, 403, 'AccessDeniedException');
  assert.match(denied.json.error.innererror.message, /RBAC role needed to run 'Get-Mailbox'/);
  assert.equal((await get()).status, 200);
});

test('faults aimed at a page and a cmdlet; resuming a reset page loses and repeats nothing', async () => {
  await faults([{ kind: 'reset', afterObjects: 10, page: 3 }, { kind: 'status', status: 503, cmdlet: 'Get-User', repeat: 2 }]);
  const prefer = { prefer: 'odata.maxpagesize=50' };
  let url;
  const names = [];
  let resets = 0;
  for (let page = 1; ; page += 1) {
    let res;
    try {
      res = await run('Get-Mailbox', { ResultSize: 'Unlimited' }, { url, headers: prefer });
    } catch (err) {
      assert.match(String(err), /aborted|ECONNRESET|socket hang up/);
      assert.equal(page, 3);
      resets += 1;
      res = await run('Get-Mailbox', { ResultSize: 'Unlimited' }, { url, headers: prefer }); // same page again
    }
    names.push(...res.json.value.map((m) => m.Name));
    url = res.json['@odata.nextLink'];
    if (!url) break;
  }
  assert.equal(resets, 1);
  assert.equal(names.length, MAILBOXES);
  assert.equal(new Set(names).size, MAILBOXES);
  assert.equal((await run('Get-Mailbox', { ResultSize: 1 })).status, 200); // the Get-User fault waits
  assert.equal((await run('Get-User', { ResultSize: 1 })).status, 503);
  assert.equal((await run('Get-User', { ResultSize: 1 })).status, 503);
  assert.equal((await run('Get-User', { ResultSize: 1 })).status, 200);
  assert.equal((await emu.call('GET', '/_emulator/config')).json.faultsQueued.exchange, 0);
});

test('faults: hang until the client times out; stall mid-body', async () => {
  await faults([{ kind: 'hang' }, { kind: 'stall', afterObjects: 5, ms: 400 }]);
  const body = JSON.stringify({ CmdletInput: { CmdletName: 'Get-Mailbox', Parameters: { ResultSize: 10 } } });
  const started = Date.now();
  await assert.rejects(new Promise((resolve, reject) => {
    const req = https.request(`${emu.info.url}/adminapi/beta/${emu.info.tenantId}/InvokeCommand`, {
      method: 'POST', agent: emu.agent, headers: { authorization: `Bearer ${contoso}`, 'content-type': 'application/json' },
      timeout: 300,
    }, resolve);
    req.on('timeout', () => req.destroy(new Error('client timeout')));
    req.on('error', reject);
    req.end(body);
  }), /client timeout/);
  assert.ok(Date.now() - started < 2000);
  const stalled = Date.now();
  const res = await run('Get-Mailbox', { ResultSize: 10 });
  assert.equal(res.json.value.length, 10);
  assert.ok(Date.now() - stalled >= 390);
});

test('exchangeThrottle: over maxConcurrent answers 429 in plain text with Retry-After', async () => {
  await emu.control('config', { exchangeThrottle: { maxConcurrent: 2, retryAfter: 4 }, pageDelayMs: 300 });
  try {
    const answers = await Promise.all([1, 2, 3].map(() => run('Get-Mailbox', { ResultSize: 1 })));
    const statuses = answers.map((a) => a.status).sort();
    assert.deepEqual(statuses, [200, 200, 429]);
    const refused = answers.find((a) => a.status === 429);
    assert.equal(refused.headers['retry-after'], '4');
    assert.match(refused.text, /maximum number of concurrent requests per tenant/);
    assert.equal((await run('Get-Mailbox', { ResultSize: 1 })).status, 200);
    assert.equal((await emu.control('config', { exchangeThrottle: { bogus: 1 } })).status, 400);
  } finally {
    await emu.control('config', { exchangeThrottle: null, pageDelayMs: 0 });
  }
});

test('exchangeRateLimit: answers say what is left and when it refills; over the budget a 429 until then', async () => {
  await emu.control('reset');
  await emu.control('config', { exchangeRateLimit: { budget: 3, windowSeconds: 2 } });
  try {
    const left = [];
    for (let i = 0; i < 3; i++) {
      const answer = await run('Get-Mailbox', { ResultSize: 1 });
      assert.equal(answer.status, 200);
      left.push(answer.headers['rate-limit-remaining']);
      assert.ok(Number(answer.headers['rate-limit-reset']) >= 1 && Number(answer.headers['rate-limit-reset']) <= 2);
    }
    assert.deepEqual(left, ['2', '1', '0']);
    const refused = await run('Get-Mailbox', { ResultSize: 1 });
    assert.equal(refused.status, 429);
    assert.equal(refused.headers['rate-limit-remaining'], '0');
    assert.equal(refused.headers['retry-after'], refused.headers['rate-limit-reset']);
    await new Promise((resolve) => setTimeout(resolve, Number(refused.headers['rate-limit-reset']) * 1000 + 50));
    const refilled = await run('Get-Mailbox', { ResultSize: 1 });
    assert.equal(refilled.status, 200);
    assert.equal(refilled.headers['rate-limit-remaining'], '2');
    assert.equal((await emu.control('config', { exchangeRateLimit: { budget: 1 } })).status, 400);
    assert.equal((await emu.control('config', { exchangeRateLimit: { budget: -1, windowSeconds: 1 } })).status, 400);
  } finally {
    await emu.control('config', { exchangeRateLimit: null });
  }
  const plain = await run('Get-Mailbox', { ResultSize: 1 });
  assert.equal(plain.headers['rate-limit-remaining'], undefined);
});

test('stats: requests in flight now and at most, state-changing runs per identity', async () => {
  await emu.control('reset');
  await emu.control('config', { pageDelayMs: 200 });
  try {
    const running = Promise.all([1, 2, 3].map(() => run('Get-Mailbox', { ResultSize: 1 })));
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal((await emu.call('GET', '/_emulator/stats')).json.exchangeInFlight, 3);
    await running;
  } finally {
    await emu.control('config', { pageDelayMs: 0 });
  }
  await ok('Set-Mailbox', { Identity: 'user00001', CustomAttribute1: 'a' });
  await ok('Set-Mailbox', { Identity: 'user00001', CustomAttribute1: 'b' });
  await ok('Set-Mailbox', { Identity: 'user00002', CustomAttribute1: 'c' });
  const stats = (await emu.call('GET', '/_emulator/stats')).json;
  assert.equal(stats.exchangeInFlight, 0);
  assert.equal(stats.exchangeMaxInFlight, 3);
  assert.equal(stats.cmdletRequests['Get-Mailbox'], 3);
  assert.deepEqual(stats.stateChangingRuns, { 'Set-Mailbox user00001': 2, 'Set-Mailbox user00002': 1 });
});

test('pageDelayJitterMs: answers take pageDelayMs plus up to the jitter', async () => {
  await emu.control('config', { pageDelayMs: 50, pageDelayJitterMs: 100 });
  try {
    const times = [];
    for (let i = 0; i < 6; i++) {
      const started = Date.now();
      await run('Get-Mailbox', { ResultSize: 1 });
      times.push(Date.now() - started);
    }
    assert.ok(Math.min(...times) >= 45, `fastest ${Math.min(...times)} ms`);
    assert.ok(Math.max(...times) - Math.min(...times) >= 10, `no spread: ${times}`);
    assert.equal((await emu.control('config', { pageDelayJitterMs: -1 })).status, 400);
  } finally {
    await emu.control('config', { pageDelayMs: 0, pageDelayJitterMs: 0 });
  }
});

// Issue 10: the real service's dialect.
test('the real dialect: both annotation styles, warnings after value, error shapes, a non-JSON 403', async () => {
  const page = await run('Get-Mailbox', { ResultSize: 3 });
  assert.equal(page.status, 200);
  const box = page.json.value[0];
  assert.equal(box['ExchangeGuid@odata.type'], '#Guid');
  assert.equal(box['ExchangeGuid@data.type'], 'System.Guid');
  assert.equal(box['WhenCreated@data.type'], 'System.DateTime');
  assert.match(box.ProhibitSendQuota, /^[\d.]+ GB \([\d,]+ bytes\)$/);
  const keys = Object.keys(page.json);
  assert.ok(keys.indexOf('@adminapi.warnings') > keys.indexOf('value'), keys.join());
  assert.equal(page.json['adminapi.warnings@odata.type'], '#Collection(String)');
  assert.match(page.json['@adminapi.warnings'][0], /There are more results available/);

  await faults([
    { kind: 'error', type: 'System.Management.Automation.CommandInvocation.ParameterTransformationException', message: 'bad value', shape: 'internal', header: false },
    { kind: 'error', type: 'System.Management.Automation.AmbiguousParameterSetException', message: 'which set', shape: 'details' },
    { kind: 'noRole' },
  ]);
  const internal = await run('Get-Mailbox');
  assert.equal(internal.status, 400);
  assert.equal(internal.json.error.message, 'Invalid Operation');
  assert.equal(internal.json.error.details, undefined);
  assert.equal(internal.json.error.innererror.internalexception.message, 'bad value');
  assert.equal(internal.headers['x-exceptiontype'], undefined);
  assert.deepEqual(internal.json.error['@adminapi.warnings'], []);
  const details = await run('Get-Mailbox');
  assert.equal(details.json.error.innererror.internalexception, null);
  assert.equal(details.json.error.details[0].message, '|System.Management.Automation.AmbiguousParameterSetException|which set');
  const denied = await run('Get-Mailbox');
  assert.equal(denied.status, 403);
  assert.equal(denied.text, '\0\0\0\0');
});

test('a nextLink expires after the expiry, or when the page loses its affinity', async () => {
  const headers = { prefer: 'odata.maxpagesize=10', 'connection-id': 'c1', 'client-request-id': 'r1' };
  const first = await run('Get-Mailbox', {}, { headers });
  const next = new URL(first.json['@odata.nextLink']);
  const url = next.pathname + next.search;
  assert.equal((await run('Get-Mailbox', {}, { headers, url })).status, 200);
  const moved = await run('Get-Mailbox', {}, { headers: { ...headers, 'client-request-id': 'r2' }, url });
  assert.equal(moved.status, 400);
  assert.match(moved.json.error.details[0].message, /Expired or Invalid pagination request\. Default Expiry time is 00:30:00/);
  await emu.control('config', { paginationExpiryMs: 0 });
  try {
    await new Promise((r) => setTimeout(r, 5));
    assert.equal((await run('Get-Mailbox', {}, { headers, url })).status, 400);
  } finally {
    await emu.control('config', { paginationExpiryMs: null });
  }
});

test('SecureString parameters: only a value encrypted with the service key is taken, and never echoed', async () => {
  const plain = await run('New-MailUser', { Name: 'Plain', MicrosoftOnlineServicesID: 'plain@contoso.onmicrosoft.com', ExternalEmailAddress: 'p@example.net', Password: 'Secret-123' });
  assert.equal(plain.status, 400);
  assert.doesNotMatch(plain.text, /Secret-123/);
  assert.equal((await run('New-MailUser', { Name: 'Sealed', MicrosoftOnlineServicesID: 'sealed@contoso.onmicrosoft.com', ExternalEmailAddress: 's@example.net', Password: secure('Secret-123') })).status, 200);
});

test('fastPages: a listing answered from pages serialized once, the same objects, fresh nextLinks', async () => {
  const asIs = await readAll('Get-Mailbox', { ResultSize: 'Unlimited' }, { headers: { Prefer: 'odata.maxpagesize=100' } });
  assert.equal((await emu.control('config', { fastPages: 'yes' })).status, 400);
  await emu.control('config', { fastPages: true });
  try {
    const first = await readAll('Get-Mailbox', { ResultSize: 'Unlimited' }, { headers: { Prefer: 'odata.maxpagesize=100' } });
    const second = await readAll('Get-Mailbox', { ResultSize: 'Unlimited' }, { headers: { Prefer: 'odata.maxpagesize=100' } });
    assert.equal(first.objects.length, MAILBOXES);
    assert.deepEqual(first.objects, asIs.objects);
    assert.deepEqual(second.objects, asIs.objects);
    assert.equal(second.pages, asIs.pages);
    // A ResultSize that ends inside the cached pages: the same objects and the warning.
    const some = await ok('Get-Mailbox', { ResultSize: 150 }, { headers: { Prefer: 'odata.maxpagesize=100' } });
    assert.equal(some.value.length, 100);
    assert.deepEqual(some.value, asIs.objects.slice(0, 100));
  } finally {
    await emu.control('config', { fastPages: false });
  }
});
