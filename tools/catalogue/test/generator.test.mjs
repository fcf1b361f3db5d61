// The generator on small made-up pages: the SYNTAX reader, the type
// mapping, and what it does with irregular pages (reports, never drops).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readSyntaxLine } from '../parse.mjs';
import { buildCommand, mapType } from '../build.mjs';

function page({ applicable = 'Exchange Server SE, Exchange Online', title = 'Get-Widget', syntax, parameters }) {
    return `---\napplicable: ${applicable}\nexternal help file: Microsoft.Exchange.X-Help.xml\n`
        + `online version: https://learn.microsoft.com/powershell/module/exchangepowershell/${title.toLowerCase()}\n`
        + `title: ${title}\n---\n\n# ${title}\n\n## SYNOPSIS\nProse.\n\n## SYNTAX\n\n${syntax}\n\n## DESCRIPTION\nProse.\n\n`
        + `## PARAMETERS\n\n${parameters.join('\n')}\n### CommonParameters\nProse.\n\n## INPUTS\n`;
}

function param(name, { applicable = 'Exchange Server SE, Exchange Online', type = 'String', sets = '(All)', required = 'False',
    position = 'Named', pipeline = 'False', wildcard = 'False', aliases = '', extra = '' } = {}) {
    return `### -${name}\n\n> Applicable: ${applicable}\n\nProse about ${name}.\n\n\`\`\`yaml\nType: ${type}\nParameter Sets: ${sets}\n`
        + `Aliases: ${aliases}\n${extra}\nRequired: ${required}\nPosition: ${position}\nDefault value: None\n`
        + `Accept pipeline input: ${pipeline}\nAccept wildcard characters: ${wildcard}\n\`\`\`\n`;
}

test('the SYNTAX reader tells mandatory, positional, switches and types apart', () => {
    const problems = [];
    const params = readSyntaxLine('Get-Widget [[-Identity] <WidgetIdParameter>] [-Name] <String> -Size <Unlimited<UInt32>> '
        + '[-Tags <String[]>] [-Force] -Switch [<CommonParameters>]', 'Get-Widget', 'S', problems);
    assert.deepEqual(problems, []);
    assert.deepEqual(params, [
        { name: 'Identity', mandatory: false, positional: true, type: 'WidgetIdParameter' },
        { name: 'Name', mandatory: true, positional: true, type: 'String' },
        { name: 'Size', mandatory: true, positional: false, type: 'Unlimited<UInt32>' },
        { name: 'Tags', mandatory: false, positional: false, type: 'String[]' },
        { name: 'Force', mandatory: false, positional: false, type: null },
        { name: 'Switch', mandatory: true, positional: false, type: null },
    ]);
});

test('the SYNTAX reader reports a broken token and reads on', () => {
    const problems = [];
    const params = readSyntaxLine('Get-Widget [[-Address] String>] [-Name <String>]', 'Get-Widget', 'S', problems);
    assert.equal(problems.length, 1);
    assert.match(problems[0], /not understood/);
    assert.deepEqual(params.map((p) => p.name), ['Name']);
});

test('the type mapping follows the contract', () => {
    const cases = {
        String: 'string', 'System.String': 'string', 'String[]': 'string[]', Int32: 'int', UInt32: 'int', Int64: 'long',
        Double: 'double', Boolean: 'bool', 'System.Boolean': 'bool', SwitchParameter: 'switch', DateTime: 'datetime',
        ExDateTime: 'datetime', Guid: 'guid', Hashtable: 'hashtable', 'System.Collections.Hashtable[]': 'hashtable[]',
        'Byte[]': 'byte[]', SecureString: 'securestring', MailboxIdParameter: 'string', 'RecipientIdParameter[]': 'object[]',
        MultiValuedProperty: 'object', PSCredential: 'object', ByteQuantifiedSize: 'object', 'Pattern[]': 'object[]',
    };
    for (const [docs, ours] of Object.entries(cases)) assert.equal(mapType(docs, 'X'), ours, docs);
    assert.equal(mapType('Unlimited', 'ResultSize'), 'unlimited');
    assert.equal(mapType('Microsoft.Exchange.Management.RestApiClient.Unlimited`1[System.UInt32]', 'ResultSize'), 'unlimited');
    assert.equal(mapType('Unlimited', 'MaxSendSize'), 'object');
});

test('a regular page becomes a command with facts only', () => {
    const text = page({
        syntax: '### Identity (Default)\n```\nGet-Widget [[-Identity] <WidgetIdParameter>] [-State <RuleState>] [-ResultSize <Unlimited>] '
            + '[-Server <ServerIdParameter>] [-Confirm] [<CommonParameters>]\n```\n\n### Filter\n```\nGet-Widget -Filter <String> '
            + '[-State <RuleState>] [-ResultSize <Unlimited>] [-Server <ServerIdParameter>] [-Confirm] [<CommonParameters>]\n```',
        parameters: [
            param('Identity', { type: 'WidgetIdParameter', sets: 'Identity', position: '1', pipeline: 'True (ByPropertyName, ByValue)', wildcard: 'True' }),
            param('Filter', { sets: 'Filter', required: 'True' }),
            param('State', { type: 'RuleState', extra: 'Accepted values: Enabled, Disabled', aliases: 'st' }),
            param('ResultSize', { type: 'Unlimited' }),
            param('Server', { type: 'ServerIdParameter', applicable: 'Exchange Server SE' }),
            param('Confirm', { type: 'SwitchParameter', aliases: 'cf' }),
        ],
    });
    const { command, problems } = buildCommand('Get-Widget.md', text);
    assert.deepEqual(problems, []);
    assert.deepEqual(command, {
        name: 'Get-Widget', products: ['ExchangeOnline'], changesState: true, confirmImpact: 'Medium',
        synopsis: 'Gets widget objects (Exchange Online).',
        onlineUri: 'https://learn.microsoft.com/powershell/module/exchangepowershell/get-widget',
        outputType: 'ExchangeMfa.Widget', parameterSets: ['Identity', 'Filter'], defaultParameterSet: 'Identity',
        parameters: [
            { name: 'Identity', type: 'string', typeName: 'WidgetIdParameter', sets: [{ name: 'Identity', mandatory: false, position: 1 }],
                valueFromPipeline: true, pipelineByPropertyName: true, wildcards: true, products: ['ExchangeOnline'] },
            { name: 'Filter', type: 'string', typeName: 'String', sets: [{ name: 'Filter', mandatory: true }], products: ['ExchangeOnline'] },
            { name: 'State', type: 'enum', typeName: 'RuleState', aliases: ['st'], products: ['ExchangeOnline'], values: ['Enabled', 'Disabled'] },
            { name: 'ResultSize', type: 'unlimited', typeName: 'Unlimited', products: ['ExchangeOnline'], default: '1000' },
        ],
    });
});

test('an irregular page is still emitted, with each irregularity reported', () => {
    const text = page({
        title: 'Remove-Widget',
        syntax: '```\nRemove-Widget [-Identity] <String> [-Ghost <String>] [-Broken String>] [-WhatIf] [<CommonParameters>]\n```',
        parameters: [
            param('Identity', { position: '1', required: 'True' }),
            param('Orphan', { sets: 'Nowhere' }),
            param('Identity', { position: '1' }),
            param('WhatIf', { type: 'SwitchParameter', aliases: 'wi' }),
        ],
    });
    const { command, problems } = buildCommand('Remove-Widget.md', text);
    assert.equal(command.name, 'Remove-Widget');
    assert.equal(command.confirmImpact, 'High');
    assert.deepEqual(command.parameters.map((p) => p.name), ['Identity', 'Orphan', 'Ghost']);
    const report = problems.join('\n');
    assert.match(report, /not understood at/);
    assert.match(report, /-Identity: described twice in PARAMETERS/);
    assert.match(report, /-Orphan: described in PARAMETERS, in no SYNTAX set; offered in every set/);
    assert.match(report, /-Ghost: in SYNTAX but not described in PARAMETERS/);
});

test('a page without applicability is reported and left out; an on-premises page is left out quietly', () => {
    const text = page({ syntax: '```\nGet-Widget [<CommonParameters>]\n```', parameters: [] });
    const missing = buildCommand('Get-Widget.md', text.replace(/^applicable: .*\n/m, ''));
    assert.equal(missing.command, null);
    assert.equal(missing.skipped, true);
    assert.match(missing.problems.join('\n'), /no "applicable:"/);
    const onPremises = buildCommand('Get-Widget.md', text.replace('Exchange Server SE, Exchange Online', 'Exchange Server SE'));
    assert.equal(onPremises.command, null);
    assert.deepEqual(onPremises.problems, []);
});
