// The checked-in catalogue (module/Data/ExchangeCommands.json): counts, the
// schema (docs/catalogue.md), a sample of cmdlets checked field by field
// against values read by hand in Microsoft's reference, and (when the
// reference is on this machine) that regenerating gives the same bytes.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { join, resolve, dirname } from 'node:path';
import { tmpdir } from 'node:os';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const CATALOGUE = join(ROOT, 'module/Data/ExchangeCommands.json');
const REPORT = join(ROOT, 'tools/catalogue/irregularities.md');
const REFERENCE = process.env.EXCHANGEMFA_REFERENCE ?? resolve(ROOT, '../shared/reference/exchange-ps');

const document = JSON.parse(readFileSync(CATALOGUE, 'utf8'));
const byName = new Map(document.commands.map((c) => [c.name, c]));
const command = (name) => { assert.ok(byName.has(name), `${name} is in the catalogue`); return byName.get(name); };
const param = (cmd, name) => command(cmd).parameters.find((p) => p.name === name);

const TYPES = new Set(['string', 'string[]', 'int', 'long', 'double', 'bool', 'switch', 'datetime', 'guid', 'hashtable',
    'hashtable[]', 'byte[]', 'securestring', 'unlimited', 'enum', 'object', 'object[]']);
const PRODUCTS = new Set(['ExchangeOnline', 'SecurityCompliance']);
const COMMAND_MEMBERS = new Set(['name', 'products', 'client', 'changesState', 'confirmImpact', 'synopsis', 'onlineUri',
    'outputType', 'defaultParameterSet', 'defaultParameterSetInferred', 'parameterSets', 'parameters']);
const PARAMETER_MEMBERS = new Set(['name', 'type', 'typeName', 'sets', 'mandatory', 'position', 'aliases', 'valueFromPipeline',
    'pipelineByPropertyName', 'wildcards', 'products', 'values', 'default']);

// Every rule of the schema; returns what is wrong with one command.
function schemaErrors(c) {
    const errors = [];
    const check = (ok, what) => { if (!ok) errors.push(what); };
    for (const k of Object.keys(c)) check(COMMAND_MEMBERS.has(k), `unknown member ${k}`);
    check(/^[A-Za-z]+-[A-Za-z0-9]+$/.test(c.name), 'name is Verb-Noun');
    check(Array.isArray(c.products) && c.products.length > 0 && c.products.every((p) => PRODUCTS.has(p)), 'products');
    check(typeof c.changesState === 'boolean', 'changesState');
    const verb = c.name.split('-')[0];
    const impact = !c.changesState ? 'None' : /^(Remove|Disable|Stop|Clear|Revoke)$/.test(verb) ? 'High' : 'Medium';
    check(c.confirmImpact === impact, `confirmImpact ${c.confirmImpact}, expected ${impact}`);
    check(/^[A-Z][^.]*\((Exchange Online|Security & Compliance|Exchange Online, Security & Compliance)\)\.$/.test(c.synopsis), 'synopsis: one sentence');
    check(/^https:\/\/learn\.microsoft\.com\/powershell\/module\/[\w/-]+$/.test(c.onlineUri ?? ''), 'onlineUri');
    check(/^ExchangeMfa\.[A-Za-z0-9]+$/.test(c.outputType), 'outputType');
    check(c.client === undefined || c.client === 'module' || c.client === 'exo', 'client');
    check(Array.isArray(c.parameterSets) && c.parameterSets.length > 0 && new Set(c.parameterSets).size === c.parameterSets.length, 'parameterSets');
    if (c.parameterSets.length > 1) check(c.parameterSets.includes(c.defaultParameterSet), 'defaultParameterSet is one of the sets');
    else check(c.defaultParameterSet === undefined && c.defaultParameterSetInferred === undefined, 'no default with one set');
    check(c.defaultParameterSetInferred === undefined || c.defaultParameterSetInferred === true, 'defaultParameterSetInferred');
    const names = new Set();
    for (const p of c.parameters) {
        const where = `-${p.name}`;
        for (const k of Object.keys(p)) check(PARAMETER_MEMBERS.has(k), `${where}: unknown member ${k}`);
        check(!names.has(p.name.toLowerCase()), `${where}: twice`);
        names.add(p.name.toLowerCase());
        check(!['WhatIf', 'Confirm', 'Verbose', 'ErrorAction'].includes(p.name), `${where}: a common parameter`);
        check(TYPES.has(p.type), `${where}: type ${p.type}`);
        check(typeof p.typeName === 'string' && p.typeName.length > 0, `${where}: typeName`);
        check(p.type !== 'unlimited' || p.name === 'ResultSize', `${where}: unlimited only for ResultSize`);
        check(p.type !== 'enum' || (Array.isArray(p.values) && p.values.length > 0), `${where}: enum has values`);
        check(p.values === undefined || (p.values.length > 0 && p.values.every((v) => typeof v === 'string' && v)), `${where}: values`);
        if (p.sets) {
            check(p.mandatory === undefined && p.position === undefined, `${where}: mandatory/position sit in sets`);
            check(p.sets.length > 0 && p.sets.every((s) => c.parameterSets.includes(s.name) && typeof s.mandatory === 'boolean'
                && (s.position === undefined || Number.isInteger(s.position))), `${where}: sets`);
        } else {
            check(p.mandatory === undefined || p.mandatory === true, `${where}: mandatory only when true`);
            check(p.position === undefined || Number.isInteger(p.position), `${where}: position`);
        }
        check(p.aliases === undefined || (p.aliases.length > 0 && p.aliases.every((a) => typeof a === 'string' && a)), `${where}: aliases`);
        for (const k of ['valueFromPipeline', 'pipelineByPropertyName', 'wildcards']) check(p[k] === undefined || p[k] === true, `${where}: ${k} only when true`);
        check(Array.isArray(p.products) && p.products.length > 0 && p.products.every((x) => c.products.includes(x)), `${where}: products within the command's`);
        check(p.default === undefined || (p.default === '1000' && p.name === 'ResultSize' && verb === 'Get'), `${where}: default`);
    }
    return errors;
}

test('the file is version 2 from the pinned reference commit, sorted by name', () => {
    assert.equal(document.version, 2);
    assert.deepEqual(document.source, { repository: 'MicrosoftDocs/office-docs-powershell',
        commit: '93336da2bca96c31c0fc8acc52658a30ef8a6c94', path: 'exchange/exchange-ps/ExchangePowerShell' });
    const names = document.commands.map((c) => c.name);
    assert.deepEqual(names, [...names].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
    assert.equal(new Set(names).size, names.length);
});

test('counts: about 730 Exchange Online and 275 Security & Compliance cmdlets', () => {
    const eo = document.commands.filter((c) => c.products.includes('ExchangeOnline')).length;
    const sc = document.commands.filter((c) => c.products.includes('SecurityCompliance')).length;
    const both = document.commands.filter((c) => c.products.length === 2).length;
    assert.ok(eo >= 700 && eo <= 800, `Exchange Online ${eo}`);
    assert.ok(sc >= 250 && sc <= 320, `Security & Compliance ${sc}`);
    assert.ok(both >= 40 && both <= 100, `both ${both}`);
    assert.equal(document.commands.length, eo + sc - both);
    const parameters = document.commands.reduce((n, c) => n + c.parameters.length, 0);
    assert.ok(parameters >= 7000 && parameters <= 10000, `parameters ${parameters}`);
});

test('every command is valid against the schema', () => {
    const bad = document.commands.map((c) => ({ name: c.name, errors: schemaErrors(c) })).filter((x) => x.errors.length);
    assert.deepEqual(bad, []);
});

test('the file is compact: one command a line, no prose', () => {
    const text = readFileSync(CATALOGUE, 'utf8');
    assert.equal(text.split('\n').length, document.commands.length + 5);
    assert.ok(!/ {2}"(help|description)"/.test(text));
    assert.ok(text.length < 2_000_000, `${text.length} bytes`);
});

test('client: the connection cmdlets are the module\'s, the nine Get-EXO* run through property sets', () => {
    const module = document.commands.filter((c) => c.client === 'module').map((c) => c.name);
    assert.deepEqual(module, ['Connect-ExchangeOnline', 'Connect-IPPSSession', 'Disconnect-ExchangeOnline', 'Get-ConnectionInformation']);
    const exo = document.commands.filter((c) => c.client === 'exo').map((c) => c.name);
    assert.equal(exo.length, 9);
    const sets = JSON.parse(readFileSync(join(ROOT, 'module/Data/PropertySets.json'), 'utf8'));
    assert.deepEqual(Object.keys(sets.cmdlets).sort(), exo);
    for (const name of exo) assert.ok(byName.has(sets.cmdlets[name].underlying), `${name}'s underlying cmdlet is in the catalogue`);
});

// The values below were read by hand in the reference pages
// (cmdlets/<Name>.md at the pinned commit).
test('Get-Mailbox, as the reference gives it', () => {
    const c = command('Get-Mailbox');
    assert.deepEqual(c.products, ['ExchangeOnline']);
    assert.equal(c.changesState, false);
    assert.equal(c.confirmImpact, 'None');
    assert.equal(c.onlineUri, 'https://learn.microsoft.com/powershell/module/exchangepowershell/get-mailbox');
    assert.equal(c.outputType, 'ExchangeMfa.Mailbox');
    // DatabaseSet and ServerSet exist for their on-premises -Database/-Server only.
    assert.deepEqual(c.parameterSets, ['AnrSet', 'Identity', 'MailboxPlanSet']);
    assert.equal(c.defaultParameterSet, 'Identity');
    assert.equal(c.defaultParameterSetInferred, true);
    assert.deepEqual(c.parameters[0], { name: 'Identity', type: 'string', typeName: 'MailboxIdParameter',
        sets: [{ name: 'Identity', mandatory: false, position: 1 }], valueFromPipeline: true, products: ['ExchangeOnline'] });
    assert.deepEqual(param('Get-Mailbox', 'Anr'), { name: 'Anr', type: 'string', typeName: 'String',
        sets: [{ name: 'AnrSet', mandatory: false }], products: ['ExchangeOnline'] });
    assert.deepEqual(param('Get-Mailbox', 'Archive'), { name: 'Archive', type: 'switch', typeName: 'SwitchParameter', products: ['ExchangeOnline'] });
    assert.deepEqual(param('Get-Mailbox', 'ResultSize'), { name: 'ResultSize', type: 'unlimited', typeName: 'Unlimited',
        products: ['ExchangeOnline'], default: '1000' });
    assert.equal(param('Get-Mailbox', 'RecipientTypeDetails').type, 'object[]');
    for (const onPremises of ['Arbitration', 'AuditLog', 'Database', 'Server', 'DomainController', 'Credential']) {
        assert.equal(param('Get-Mailbox', onPremises), undefined, `-${onPremises} is on-premises only`);
    }
});

test('Set-Mailbox, as the reference gives it', () => {
    const c = command('Set-Mailbox');
    assert.equal(c.changesState, true);
    assert.equal(c.confirmImpact, 'Medium');
    assert.equal(c.defaultParameterSet, 'Identity');
    assert.equal(c.defaultParameterSetInferred, undefined);
    assert.equal(c.parameterSets[0], 'Identity');
    assert.ok(c.parameterSets.includes('RemoveDelayHoldApplied'));
    assert.deepEqual(c.parameters[0], { name: 'Identity', type: 'string', typeName: 'MailboxIdParameter', mandatory: true,
        position: 1, pipelineByPropertyName: true, products: ['ExchangeOnline'] });
    assert.equal(param('Set-Mailbox', 'LitigationHoldEnabled').type, 'bool');
    assert.equal(param('Set-Mailbox', 'AuditOwner').type, 'object');
    assert.deepEqual(param('Set-Mailbox', 'Type'), { name: 'Type', type: 'object', typeName: 'ConvertibleMailboxSubType', products: ['ExchangeOnline'] });
    assert.equal(param('Set-Mailbox', 'ArchiveDatabase'), undefined);
    assert.equal(param('Set-Mailbox', 'WhatIf'), undefined, 'changesState stands for -WhatIf/-Confirm');
});

test('Get-EXOMailbox, as the reference gives it', () => {
    const c = command('Get-EXOMailbox');
    assert.equal(c.client, 'exo');
    assert.equal(c.outputType, 'ExchangeMfa.Mailbox');
    assert.equal(c.synopsis, 'Gets mailbox objects (Exchange Online).');
    assert.deepEqual(c.parameterSets, ['Identity', 'Anr']);
    assert.deepEqual(param('Get-EXOMailbox', 'Identity'), { name: 'Identity', type: 'string', typeName: 'String',
        sets: [{ name: 'Identity', mandatory: false, position: 0 }], valueFromPipeline: true, pipelineByPropertyName: true,
        products: ['ExchangeOnline'] });
    assert.deepEqual(param('Get-EXOMailbox', 'ExternalDirectoryObjectId'), { name: 'ExternalDirectoryObjectId', type: 'guid',
        typeName: 'Guid', sets: [{ name: 'Identity', mandatory: false }], pipelineByPropertyName: true, products: ['ExchangeOnline'] });
    assert.deepEqual(param('Get-EXOMailbox', 'PropertySets'), { name: 'PropertySets', type: 'object[]', typeName: 'PropertySet[]', products: ['ExchangeOnline'] });
    assert.equal(param('Get-EXOMailbox', 'Properties').type, 'string[]');
    assert.equal(param('Get-EXOMailbox', 'ResultSize').default, '1000');
});

test('New-ComplianceSearch, as the reference gives it', () => {
    const c = command('New-ComplianceSearch');
    assert.deepEqual(c.products, ['SecurityCompliance']);
    assert.equal(c.changesState, true);
    assert.equal(c.confirmImpact, 'Medium');
    assert.equal(c.synopsis, 'Creates compliance search objects (Security & Compliance).');
    assert.deepEqual(c.parameterSets, ['__AllParameterSets']);
    assert.equal(c.defaultParameterSet, undefined);
    assert.deepEqual(c.parameters[0], { name: 'Name', type: 'string', typeName: 'String', mandatory: true, position: 1, products: ['SecurityCompliance'] });
    assert.deepEqual(param('New-ComplianceSearch', 'ExchangeLocation'), { name: 'ExchangeLocation', type: 'string[]', typeName: 'String[]',
        valueFromPipeline: true, products: ['SecurityCompliance'] });
    assert.equal(param('New-ComplianceSearch', 'AllowNotFoundExchangeLocationsEnabled').type, 'bool');
    assert.equal(param('New-ComplianceSearch', 'Language').type, 'object');
    assert.equal(param('New-ComplianceSearch', 'LogLevel'), undefined, 'on-premises only');
});

test('Get-MessageTraceV2, as the reference gives it', () => {
    const c = command('Get-MessageTraceV2');
    assert.equal(c.changesState, false);
    assert.equal(c.parameters.length, 13);
    // Every parameter positional, in the docs' order; ResultSize is an Int32 here.
    assert.deepEqual(c.parameters.map((p) => p.position), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]);
    assert.deepEqual(param('Get-MessageTraceV2', 'EndDate'), { name: 'EndDate', type: 'datetime', typeName: 'System.DateTime',
        position: 1, pipelineByPropertyName: true, products: ['ExchangeOnline'] });
    assert.deepEqual(param('Get-MessageTraceV2', 'ResultSize'), { name: 'ResultSize', type: 'int', typeName: 'Int32',
        position: 6, pipelineByPropertyName: true, products: ['ExchangeOnline'] });
    assert.deepEqual(param('Get-MessageTraceV2', 'Status'), { name: 'Status', type: 'object', typeName: 'MultiValuedProperty',
        position: 10, products: ['ExchangeOnline'] });
    assert.equal(param('Get-MessageTraceV2', 'MessageTraceId').type, 'guid');
});

test('Set-MailboxRegionalConfiguration, as the reference gives it', () => {
    const c = command('Set-MailboxRegionalConfiguration');
    // The Default set exists for the on-premises -DomainController only.
    assert.deepEqual(c.parameterSets, ['Identity', 'MailboxLocation']);
    assert.equal(c.defaultParameterSet, 'Identity');
    assert.deepEqual(param('Set-MailboxRegionalConfiguration', 'Identity'), { name: 'Identity', type: 'string', typeName: 'MailboxIdParameter',
        sets: [{ name: 'Identity', mandatory: true, position: 1 }], valueFromPipeline: true, products: ['ExchangeOnline'] });
    assert.deepEqual(param('Set-MailboxRegionalConfiguration', 'Archive').sets, [{ name: 'Identity', mandatory: false }]);
    assert.deepEqual(param('Set-MailboxRegionalConfiguration', 'MailboxLocation').sets, [{ name: 'MailboxLocation', mandatory: false }]);
    assert.deepEqual(param('Set-MailboxRegionalConfiguration', 'UseCustomRouting'), { name: 'UseCustomRouting', type: 'switch',
        typeName: 'SwitchParameter', products: ['ExchangeOnline'] });
    assert.equal(param('Set-MailboxRegionalConfiguration', 'Language').typeName, 'CultureInfo');
    assert.equal(param('Set-MailboxRegionalConfiguration', 'TimeZone').type, 'object');
    assert.equal(param('Set-MailboxRegionalConfiguration', 'DomainController'), undefined);
});

test('Add-MailboxPermission, as the reference gives it', () => {
    const c = command('Add-MailboxPermission');
    assert.equal(c.confirmImpact, 'Medium');
    // Instance exists for the on-premises -Instance only.
    assert.deepEqual(c.parameterSets, ['AccessRights', 'Owner']);
    // MailboxRights[]: the yaml gives no "Accepted values" (the values are in
    // the prose), so no ValidateSet: any value reaches Exchange.
    assert.deepEqual(param('Add-MailboxPermission', 'AccessRights'), { name: 'AccessRights', type: 'object[]', typeName: 'MailboxRights[]',
        sets: [{ name: 'AccessRights', mandatory: true }], products: ['ExchangeOnline'] });
    assert.deepEqual(param('Add-MailboxPermission', 'User').sets, [{ name: 'AccessRights', mandatory: true }]);
    assert.deepEqual(param('Add-MailboxPermission', 'Owner').sets, [{ name: 'Owner', mandatory: true }]);
    assert.equal(param('Add-MailboxPermission', 'Instance'), undefined);
});

test('accepted values make an enum', () => {
    const values = document.commands.flatMap((c) => c.parameters.filter((p) => p.values).map((p) => ({ c: c.name, p })));
    assert.ok(values.length >= 20, `${values.length} parameters with values`);
    const rule = values.find((x) => x.p.typeName === 'RuleState');
    assert.ok(rule, 'a RuleState parameter');
    assert.equal(rule.p.type, 'enum');
    assert.deepEqual(rule.p.values, ['Enabled', 'Disabled']);
});

test('Get-RoleGroup, in both products', () => {
    const c = command('Get-RoleGroup');
    assert.deepEqual(c.products, ['ExchangeOnline', 'SecurityCompliance']);
    assert.equal(c.synopsis, 'Gets role group objects (Exchange Online, Security & Compliance).');
    assert.deepEqual(c.parameters.map((p) => p.name), ['Identity', 'Filter', 'ResultSize', 'ShowPartnerLinked', 'SortBy']);
    assert.deepEqual(c.parameters[0], { name: 'Identity', type: 'string', typeName: 'RoleGroupIdParameter', position: 1,
        valueFromPipeline: true, products: ['ExchangeOnline', 'SecurityCompliance'] });
    // A parameter of one product only.
    assert.deepEqual(param('Get-Group', 'Anr').products, ['ExchangeOnline']);
});

test('the irregularities report is checked in and agrees with the catalogue', () => {
    const text = readFileSync(REPORT, 'utf8');
    const eo = document.commands.filter((c) => c.products.includes('ExchangeOnline')).length;
    assert.match(text, new RegExp(`Commands: ${document.commands.length} \\(Exchange Online ${eo},`));
    assert.match(text, /^## New-Mailbox$/m);
    assert.match(text, /Add-VivaModuleFeaturePolicy/);
});

test('regenerating from the reference gives the same bytes', (t) => {
    if (!existsSync(join(REFERENCE, 'cmdlets'))) {
        t.skip(`no reference at ${REFERENCE} (set EXCHANGEMFA_REFERENCE)`);
        return;
    }
    const out = mkdtempSync(join(tmpdir(), 'catalogue-'));
    try {
        const run = spawnSync(process.execPath, [join(ROOT, 'tools/catalogue/generate.mjs'), '--reference', REFERENCE,
            '--out', out, '--report', join(out, 'irregularities.md')], { encoding: 'utf8' });
        assert.equal(run.status, 0, run.stderr);
        assert.match(run.stderr, /^generate: \d+ commands/m);
        assert.ok(readFileSync(join(out, 'ExchangeCommands.json')).equals(readFileSync(CATALOGUE)), 'ExchangeCommands.json differs: regenerate and commit');
        assert.ok(readFileSync(join(out, 'irregularities.md')).equals(readFileSync(REPORT)), 'irregularities.md differs: regenerate and commit');
    } finally {
        rmSync(out, { recursive: true, force: true });
    }
});
