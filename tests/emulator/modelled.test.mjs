// Self-tests of what admin scripts lean on: $select, OPATH -Filter through
// the endpoint, the answer for a catalogue cmdlet the emulator does not
// model, the unknown-parameter refusal, and the cmdlets modelled for the
// report scripts (statistics, devices, message trace V2, regional and
// calendar settings, organization config, users, recipient permissions).
// Run: node --test tests/emulator/modelled.test.mjs
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmulator, exchangeClient, assertExchangeError } from './harness.mjs';
import { CMDLETS, MODELLED } from './cmdlets.mjs';

const MAILBOXES = 120;
let dir;
let emu;
let run;
let ok;
let values;
let readAll;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'exo-emu-'));
  emu = await startEmulator(dir, ['--mailboxes', String(MAILBOXES)]);
  const token = (await emu.signIn('admin@contoso.onmicrosoft.com')).json.access_token;
  ({ run, ok, values, readAll } = exchangeClient(emu, token));
});

after(async () => {
  await emu.stop();
  rmSync(dir, { recursive: true, force: true });
});

// Property names without annotations (name@odata.type, ...).
const properties = (object) => Object.keys(object).filter((key) => !key.includes('@'));
const url = (query) => `/adminapi/beta/${emu.info.tenantId}/InvokeCommand${query}`;

test('$select (also %24select) keeps only those properties and their annotations, on every page', async () => {
  for (const query of ['?$select=Name,Guid,PrimarySmtpAddress', '?%24select=name,GUID,PrimarySmtpAddress']) {
    const first = await run('Get-Mailbox', { ResultSize: 'Unlimited' }, {
      url: url(query), headers: { prefer: 'odata.maxpagesize=50' },
    });
    assert.equal(first.status, 200, first.text);
    assert.deepEqual(properties(first.json.value[0]), ['Name', 'Guid', 'PrimarySmtpAddress']);
    assert.equal(first.json.value[0]['Guid@odata.type'], '#Guid', 'annotations of selected properties stay');
    const next = first.json['@odata.nextLink'];
    assert.match(next, /select=/i);
    const all = await readAll('Get-Mailbox', { ResultSize: 'Unlimited' }, { url: url(query), headers: { prefer: 'odata.maxpagesize=50' } });
    assert.equal(all.objects.length, MAILBOXES);
    assert.equal(all.pages, 3);
    assert.ok(all.objects.every((m) => properties(m).length === 3), 'every page is projected');
  }
  const stats = (await ok('Get-MailboxStatistics', { Identity: 'user00001' }, { url: url('?$select=TotalItemSize,ItemCount,LastLogonTime') })).value[0];
  assert.deepEqual(properties(stats), ['ItemCount', 'TotalItemSize', 'LastLogonTime']);
  // Every selected property is listed, null when the object has none.
  const [box] = (await ok('Get-Mailbox', { Identity: 'user00001' }, { url: url('?$select=Name,NoSuchProperty') })).value;
  assert.deepEqual(box, { Name: 'user00001', NoSuchProperty: null });
});

test('-Filter in OPATH through the endpoint; a malformed filter answers a binding error with the position', async () => {
  const filtered = await readAll('Get-Mailbox', {
    ResultSize: 'Unlimited',
    Filter: "{(RecipientTypeDetails -eq 'SharedMailbox' -or RecipientTypeDetails -eq \"RoomMailbox\") -and -not (Name -like 'shared001*')}",
  });
  assert.ok(filtered.objects.length > 0);
  assert.ok(filtered.objects.every((m) => ['SharedMailbox', 'RoomMailbox'].includes(m.RecipientTypeDetails)
    && !m.Name.startsWith('shared001')), JSON.stringify(filtered.objects.map((m) => m.Name)));
  await ok('Set-Mailbox', { Identity: 'user00007', ForwardingSmtpAddress: 'smtp:out@example.com' });
  const forwarding = await readAll('Get-Mailbox', { ResultSize: 'Unlimited', Filter: 'ForwardingSmtpAddress -ne $null' });
  assert.deepEqual(forwarding.objects.map((m) => m.Name), ['user00007']);
  const created = await readAll('Get-Mailbox', { ResultSize: 'Unlimited', Filter: "WhenCreated -gt '01/01/2000' -and IsShared -eq $false" });
  assert.ok(created.objects.length > 100);

  const bad = await run('Get-Mailbox', { Filter: "Name -eq 'x' -and (" });
  assertExchangeError(bad, 400, 'ParameterBindingException');
  assert.match(bad.json.error.innererror.message, /Invalid filter syntax\..*at position 20\./s);
  assert.match(bad.json.error.details[0].message, /\|System\.Management\.Automation\.ParameterBindingException\|Cannot bind parameter 'Filter'/);
});

test('a catalogue cmdlet without a model answers CmdletNotModelledException after binding its parameters', async (t) => {
  const unmodelled = [...CMDLETS.values()].find((c) => !c.modelled && c.products.includes('ExchangeOnline') && c.parameters);
  if (!unmodelled) {
    t.skip('the catalogue has no cmdlet without a model (waits for the v2 catalogue of branch catalogue)');
    return;
  }
  const res = await run(unmodelled.name, {});
  assertExchangeError(res, 400, 'CmdletNotModelledException');
  assert.equal(res.json.error.code, 'BadRequest');
  assert.match(res.json.error.innererror.message, /^The emulator does not model '[\w-]+'\./);
  assert.match(res.json.error.details[0].message, /\|Microsoft\.Exchange\.Emulator\.CmdletNotModelledException\|The emulator does not model/);
  const bogus = await run(unmodelled.name, { NoSuchParameter: 1 });
  assertExchangeError(bogus, 400, 'ParameterBindingException');
  assert.equal(bogus.json.error.innererror.message, "A parameter cannot be found that matches parameter name 'NoSuchParameter'.");
  // A parameter alias of the catalogue binds like its name.
  assertExchangeError(await run('Get-MoveRequest', { MoveStatus: 'Completed' }), 400, 'CmdletNotModelledException');
  assertExchangeError(await run('Get-MoveRequest', { MoveStatusX: 'Completed' }), 400, 'ParameterBindingException');
  // Security & Compliance-only cmdlets are not on the Exchange endpoint.
  assertExchangeError(await run('New-ComplianceCase', { Name: 'x' }), 400, 'CommandNotFoundException');
});

test('the modelled cmdlets include what report scripts call', () => {
  for (const name of ['Get-MailboxStatistics', 'Get-MailboxFolderStatistics', 'Get-MobileDeviceStatistics', 'Get-MessageTraceV2',
    'Get-MessageTraceDetailV2', 'Get-MailboxRegionalConfiguration', 'Set-MailboxRegionalConfiguration', 'Get-CalendarProcessing',
    'Set-CalendarProcessing', 'Get-OrganizationConfig', 'Set-OrganizationConfig', 'Get-User', 'Set-User', 'Get-Recipient',
    'Get-RecipientPermission', 'Get-MailboxPermission', 'Get-CASMailbox']) {
    assert.ok(MODELLED.includes(name), name);
  }
  assert.ok(MODELLED.length >= 85, String(MODELLED.length));
});

test('Get-MailboxStatistics: Exchange size text, counts and logon times, the same on every call', async () => {
  const [a] = await values('Get-MailboxStatistics', { Identity: 'user00003' });
  const [b] = await values('Get-MailboxStatistics', { Identity: 'user00003@contoso.onmicrosoft.com' });
  assert.deepEqual(a, b);
  assert.match(a.TotalItemSize, /^\d+(\.\d+)? (B|KB|MB|GB) \(\d{1,3}(,\d{3})* bytes\)$/);
  assert.ok(Number.isInteger(a.ItemCount) && a.ItemCount > 0);
  assert.ok(Date.parse(a.LastLogonTime) > 0 && Date.parse(a.LastUserActionTime) > 0);
  assert.equal(a['LastLogonTime@odata.type'], '#DateTimeOffset');
  const folders = await values('Get-MailboxFolderStatistics', { Identity: 'user00003', FolderScope: 'Inbox' });
  assert.deepEqual(folders.map((f) => f.FolderPath), ['/Inbox']);
  assertExchangeError(await run('Get-MailboxStatistics', { Identity: 'nobody' }), 404, 'ManagementObjectNotFoundException');
});

test('Get-MobileDeviceStatistics by -Mailbox and by the device identity', async () => {
  const [stats] = await values('Get-MobileDeviceStatistics', { Mailbox: 'user00005' });
  assert.equal(stats.Status, 'DeviceOk');
  assert.ok(Date.parse(stats.LastSuccessSync) > Date.parse(stats.FirstSyncTime));
  assert.deepEqual((await values('Get-MobileDeviceStatistics', { Identity: stats.Identity }))[0], stats);
  assert.deepEqual(await values('Get-MobileDeviceStatistics', { Mailbox: 'user00006' }), []);
  assertExchangeError(await run('Get-MobileDeviceStatistics', { Identity: 'user00006\\ExchangeActiveSyncDevices\\x' }), 404,
    'ManagementObjectNotFoundException');
});

test('Get-MessageTraceV2: 10-day windows within 90 days, ResultSize, continuation with StartingRecipientAddress', async () => {
  const end = new Date(Date.now() - 3600 * 1000);
  const start = new Date(end.getTime() - 3 * 3600 * 1000);
  const window = { StartDate: start.toISOString(), EndDate: end.toISOString() };
  const all = await values('Get-MessageTraceV2', window);
  assert.ok(all.length >= 35 && all.length <= 37, String(all.length));
  assert.ok(all.every((m, i) => i === 0 || Date.parse(m.Received) <= Date.parse(all[i - 1].Received)), 'newest first');
  const first = await ok('Get-MessageTraceV2', { ...window, ResultSize: 10 });
  assert.equal(first.value.length, 10);
  const warning = first['@adminapi.warnings'][0];
  assert.match(warning, /-StartingRecipientAddress "/);
  const last = first.value[9];
  const rest = await values('Get-MessageTraceV2', { ...window, EndDate: last.Received, StartingRecipientAddress: last.RecipientAddress });
  assert.deepEqual([...first.value, ...rest].map((m) => m.MessageTraceId), all.map((m) => m.MessageTraceId));

  const [detail] = await values('Get-MessageTraceDetailV2', { MessageTraceId: all[0].MessageTraceId, RecipientAddress: all[0].RecipientAddress });
  assert.equal(detail.Event, 'Receive');
  const old = { StartDate: new Date(Date.now() - 95 * 86400000).toISOString(), EndDate: new Date(Date.now() - 94 * 86400000).toISOString() };
  assertExchangeError(await run('Get-MessageTraceV2', old), 400, 'TaskArgumentException');
  const wide = { StartDate: new Date(Date.now() - 20 * 86400000).toISOString(), EndDate: new Date().toISOString() };
  assertExchangeError(await run('Get-MessageTraceV2', wide), 400, 'TaskArgumentException');
});

test('regional configuration and calendar processing: Set- shows in Get-, no change warns', async () => {
  const [regional] = await values('Get-MailboxRegionalConfiguration', { Identity: 'user00002' });
  assert.ok(regional.Language && regional.TimeZone);
  await ok('Set-MailboxRegionalConfiguration', {
    Identity: 'user00002', Language: 'fr-FR', DateFormat: 'dd/MM/yyyy', TimeZone: 'Romance Standard Time', LocalizeDefaultFolderName: true,
  });
  const [changed] = await values('Get-MailboxRegionalConfiguration', { Identity: 'user00002' });
  assert.deepEqual([changed.Language, changed.DateFormat, changed.TimeZone, changed.DefaultFolderNameMatchingUserLanguage],
    ['fr-FR', 'dd/MM/yyyy', 'Romance Standard Time', true]);

  await ok('New-Mailbox', { Name: 'Board Room', Room: true });
  const [room] = await values('Get-CalendarProcessing', { Identity: 'Board Room' });
  const [person] = await values('Get-CalendarProcessing', { Identity: 'user00001' });
  assert.deepEqual([room.AutomateProcessing, person.AutomateProcessing], ['AutoAccept', 'AutoUpdate']);
  await ok('Set-CalendarProcessing', { Identity: 'user00001', AutomateProcessing: 'AutoAccept', BookingWindowInDays: 365, ResourceDelegates: ['user00002'] });
  const [after] = await values('Get-CalendarProcessing', { Identity: 'user00001' });
  assert.deepEqual([after.AutomateProcessing, after.BookingWindowInDays, after.ResourceDelegates], ['AutoAccept', 365, ['user00002']]);
  const same = await ok('Set-CalendarProcessing', { Identity: 'user00001', BookingWindowInDays: 365 });
  assert.match(same['@adminapi.warnings'][0], /no settings of 'user00001' have been modified/);
});

test('organization config, users and recipient permissions as report scripts read them', async () => {
  await ok('Set-OrganizationConfig', { AuditDisabled: true });
  assert.equal((await values('Get-OrganizationConfig'))[0].AuditDisabled, true);
  await ok('Set-User', { Identity: 'user00004', Department: 'Research' });
  const research = await readAll('Get-User', { ResultSize: 'Unlimited', Filter: "Department -eq 'research'" });
  assert.deepEqual(research.objects.map((u) => u.Name), ['user00004']);
  await ok('Add-RecipientPermission', { Identity: 'user00008', Trustee: 'user00009', AccessRights: ['SendAs'] });
  const sendAs = await values('Get-RecipientPermission', { Identity: 'user00008' });
  assert.ok(sendAs.some((p) => /user00009/.test(p.Trustee) && p.AccessRights.includes('SendAs')), JSON.stringify(sendAs));
  const recipients = await readAll('Get-Recipient', { ResultSize: 'Unlimited', Filter: "RecipientTypeDetails -eq 'MailUniversalDistributionGroup'" });
  assert.ok(recipients.objects.length >= 1);
});

test('removed mailboxes: -SoftDeletedMailbox lists them, -InactiveMailboxOnly those on litigation hold', async () => {
  assert.deepEqual(await values('Get-Mailbox', { InactiveMailboxOnly: true }), []);
  await ok('Set-Mailbox', { Identity: 'user00030', LitigationHoldEnabled: true });
  await ok('Remove-Mailbox', { Identity: 'user00030' });
  await ok('Remove-Mailbox', { Identity: 'user00031' });
  const deleted = await values('Get-Mailbox', { SoftDeletedMailbox: true });
  assert.deepEqual(deleted.map((m) => [m.Name, m.IsInactiveMailbox, m.IsSoftDeletedByRemove]),
    [['user00030', true, true], ['user00031', false, true]]);
  assert.ok(Date.parse(deleted[0].WhenSoftDeleted) > 0);
  const inactive = await values('Get-Mailbox', { InactiveMailboxOnly: true });
  assert.deepEqual(inactive.map((m) => m.Name), ['user00030']);
  assert.equal((await values('Get-Mailbox', { InactiveMailboxOnly: true, Identity: 'user00030@contoso.onmicrosoft.com' }))[0].Name, 'user00030');
  assertExchangeError(await run('Get-Mailbox', { InactiveMailboxOnly: true, Identity: 'user00031' }), 404, 'ManagementObjectNotFoundException');
});

test('junk e-mail settings: Set- with @{Add=...} shows in Get-', async () => {
  const [before] = await values('Get-MailboxJunkEmailConfiguration', { Identity: 'user00012' });
  assert.deepEqual([before.Enabled, before.TrustedSendersAndDomains], [true, []]);
  await ok('Set-MailboxJunkEmailConfiguration', {
    Identity: 'user00012', TrustedSendersAndDomains: { '@odata.type': '#Exchange.GenericHashTable', Add: ['partner.example'] },
  });
  const [after] = await values('Get-MailboxJunkEmailConfiguration', { Identity: 'user00012' });
  assert.deepEqual(after.TrustedSendersAndDomains, ['partner.example']);
});

test('tenant-wide reads: role groups and members, retention policy, remote domain, connectors', async () => {
  const groups = await values('Get-RoleGroup');
  assert.ok(groups.some((g) => g.Name === 'Organization Management'));
  assert.match(groups[0].Guid, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  assert.deepEqual((await values('Get-RoleGroup', { Filter: "Name -like '*Management' -and Members -ne $null" })).map((g) => g.Name),
    ['Organization Management', 'Compliance Management']);
  const members = await values('Get-RoleGroupMember', { Identity: 'organization management' });
  assert.deepEqual(members.map((m) => m.WindowsLiveID), ['admin@contoso.onmicrosoft.com']);
  assertExchangeError(await run('Get-RoleGroupMember', { Identity: 'No Such Group' }), 404, 'ManagementObjectNotFoundException');
  assert.equal((await values('Get-RetentionPolicy'))[0].IsDefault, true);
  assert.equal((await values('Get-RemoteDomain', { Identity: 'Default' }))[0].AutoForwardEnabled, true);
  assert.deepEqual(await values('Get-InboundConnector'), []);
  assert.deepEqual(await values('Get-OutboundConnector'), []);
});
