// tools/catalogue/build.mjs - parsed reference pages -> catalogue v2 commands
// (/work/coord/CATALOGUE-V2.md, docs/catalogue.md). Facts only; what the docs
// leave unclear is reported, never guessed silently.

import { parsePage } from './parse.mjs';

export const PRODUCTS = { 'Exchange Online': 'ExchangeOnline', 'Security & Compliance': 'SecurityCompliance' };
const OTHER_PRODUCTS = /^(Exchange Server (2010|2013|2016|2019|SE)|Built-in security add-on for on-premises mailboxes)$/;

// PowerShell's own common parameters: the module supplies them (-WhatIf and
// -Confirm through SupportsShouldProcess when changesState is true).
const COMMON = new Set(['Confirm', 'WhatIf', 'Verbose', 'Debug', 'ErrorAction', 'WarningAction',
    'InformationAction', 'ProgressAction', 'ErrorVariable', 'WarningVariable', 'InformationVariable',
    'OutVariable', 'OutBuffer', 'PipelineVariable']);

// The four connection cmdlets of Microsoft's module that ExchangeMfa
// implements itself; the help file names the client-side module.
const MODULE_HELP = /^(ExchangeOnlineManagement-help\.xml|Microsoft\.Exchange\.Management\.ExoPowershellGalleryModule\.dll-Help\.xml)$/;
const REST_CLIENT_HELP = 'Microsoft.Exchange.Management.RestApiClient.dll-Help.xml';

// The docs' type -> our type vocabulary (the contract's mapping rule).
const SIMPLE_TYPES = {
    String: 'string', 'String[]': 'string[]',
    Int32: 'int', UInt32: 'int', Int16: 'int', UInt16: 'int', Byte: 'int',
    Int64: 'long', UInt64: 'long',
    Double: 'double', Decimal: 'double',
    Boolean: 'bool', SwitchParameter: 'switch',
    DateTime: 'datetime', ExDateTime: 'datetime', Guid: 'guid',
    Hashtable: 'hashtable', 'Hashtable[]': 'hashtable[]',
    'Byte[]': 'byte[]', SecureString: 'securestring',
};
const WELL_FORMED_TYPE = /^[A-Za-z_][\w.+]*(`1\[[\w.]+\])?(\[\])?$/;

export function mapType(typeName, paramName) {
    const t = typeName.replace(/^(System\.Collections\.|System\.)/, '');
    if (t in SIMPLE_TYPES) return SIMPLE_TYPES[t];
    if (/(^|\.)Unlimited(`1\[[\w.]+\]|<[\w.]+>)?$/.test(t)) return paramName === 'ResultSize' ? 'unlimited' : 'object';
    if (/IdParameter$/.test(t)) return 'string';
    return /\[\]$/.test(t) ? 'object[]' : 'object';
}

const VERB_PHRASES = { Get: 'Gets', Set: 'Changes', New: 'Creates', Search: 'Searches', Update: 'Updates' };
function synopsis(verb, noun, products) {
    const words = noun.match(/[A-Z]+\d*(?![a-z])|[A-Z]?[a-z]+\d*|\d+/g) ?? [noun];
    const nounText = words.map((w) => (/^[A-Z][a-z]/.test(w) ? w.toLowerCase() : w)).join(' ');
    const verbText = VERB_PHRASES[verb] ?? (/(s|sh|ch|x)$/.test(verb) ? verb + 'es' : verb + 's');
    const where = products.map((p) => (p === 'ExchangeOnline' ? 'Exchange Online' : 'Security & Compliance')).join(', ');
    return `${verbText} ${nounText} objects (${where}).`;
}

function readProducts(text, where, problems) {
    const products = new Set();
    for (const raw of text.split(',')) {
        const name = raw.trim().replace(/^Applicable:\s*/, '');
        if (name !== raw.trim()) problems.push(`${where}: "Applicable:" written twice`);
        if (!name) continue;
        if (PRODUCTS[name]) products.add(PRODUCTS[name]);
        else if (!OTHER_PRODUCTS.test(name)) problems.push(`${where}: unknown product "${name}" (not counted)`);
    }
    return [...products].sort();
}

function parsePipeline(text) {
    const t = (text ?? '').toLowerCase();
    if (!t.startsWith('true')) return {};
    // A bare "True" is how these pages mark Exchange's identity parameters,
    // which bind by value; ByPropertyName/ByValue are taken as written.
    if (t === 'true') return { valueFromPipeline: true };
    return { valueFromPipeline: t.includes('byvalue') || undefined, pipelineByPropertyName: t.includes('bypropertyname') || undefined };
}

const splitList = (text) => (text ?? '').split(',').map((s) => s.trim()).filter(Boolean);

// One page -> { command | null, problems, skipped }: command null when the
// page is not for Exchange Online / Security & Compliance.
export function buildCommand(file, text) {
    const page = parsePage(file, text);
    const problems = [...page.problems];
    const fm = page.frontMatter;
    const fileName = file.replace(/^.*\//, '').replace(/\.md$/, '');
    // PowerShell names are case-insensitive; a title spelled otherwise than
    // the file and SYNTAX gives way to them.
    let name = fm.title || fileName;
    if (!fm.title) problems.push('front matter has no title; name taken from the file name');
    else if (fm.title !== fileName) {
        problems.push(`title ${fm.title} differs from the file name ${fileName}`);
        if (fm.title.toLowerCase() === fileName.toLowerCase()) name = fileName;
    }
    if (fm.applicable === undefined) {
        problems.push('no "applicable:" in the front matter: products unknown, not in the catalogue');
        return { name, command: null, problems, skipped: true };
    }
    const products = readProducts(fm.applicable, 'applicable', problems);
    if (products.length === 0) return { name, command: null, problems: [], skipped: false };

    const [verb, noun] = name.split('-');
    const command = { name, products };

    // Parameter sets in SYNTAX order; a page without headings has one set.
    // Parameter names are matched case-insensitively (PowerShell's rule);
    // the PARAMETERS heading's spelling wins.
    const docSpelling = new Map(page.parameters.map((p) => [p.name.toLowerCase(), p.name]));
    const respelled = new Set();
    const sets = page.sets.map((s) => ({ ...s, name: s.name ?? '__AllParameterSets', params: s.params.map((q) => {
        const doc = docSpelling.get(q.name.toLowerCase());
        if (!doc || doc === q.name) return q;
        if (!respelled.has(q.name)) problems.push(`-${doc}: spelled -${q.name} in SYNTAX`);
        respelled.add(q.name);
        return { ...q, name: doc };
    }) }));
    const setNames = sets.map((s) => s.name);
    if (new Set(setNames).size !== setNames.length) problems.push('a parameter set name appears twice in SYNTAX');
    const syntaxNames = new Set(sets.flatMap((s) => s.params.map((p) => p.name)));
    command.changesState = syntaxNames.has('WhatIf') || syntaxNames.has('Confirm');
    command.confirmImpact = !command.changesState ? 'None'
        : /^(Remove|Disable|Stop|Clear|Revoke)$/.test(verb) ? 'High' : 'Medium';
    command.synopsis = synopsis(verb, (noun ?? '').replace(/^EXO(?=[A-Z])/, ''), products);
    if (fm['online version']) {
        command.onlineUri = fm['online version'];
        if (!/^https:\/\/learn\.microsoft\.com\/powershell\/module\/exchangepowershell\/[a-z0-9-]+$/.test(command.onlineUri)) {
            problems.push(`online version ${command.onlineUri} is not of the usual form; kept as written`);
        }
    } else problems.push('no "online version" address');
    command.outputType = `ExchangeMfa.${(noun ?? name).replace(/^EXO(?=[A-Z])/, '')}`;
    const help = fm['external help file'] ?? '';
    if (MODULE_HELP.test(help)) command.client = 'module';
    else if (help === REST_CLIENT_HELP && /^Get-EXO[A-Z]/.test(name)) command.client = 'exo';
    else if (help === REST_CLIENT_HELP) command.restClient = true;   // listed in the report, not written

    // PARAMETERS: docs order; SYNTAX-only parameters follow, in SYNTAX order.
    const docParams = new Map();
    for (const p of page.parameters) {
        if ([...docParams.keys()].some((k) => k.toLowerCase() === p.name.toLowerCase())) {
            problems.push(`-${p.name}: described twice in PARAMETERS (first kept)`);
            continue;
        }
        docParams.set(p.name, p);
    }
    for (const n of syntaxNames) {
        if (!docParams.has(n) && !COMMON.has(n)) {
            problems.push(`-${n}: in SYNTAX but not described in PARAMETERS`);
            docParams.set(n, { name: n, applicable: null, blocks: [], syntaxOnly: true });
        }
    }

    const built = [];
    for (const doc of docParams.values()) {
        if (COMMON.has(doc.name)) continue;
        const p = buildParameter(doc, sets, products, problems);
        if (p) built.push(p);
    }

    // A set is not offered when a parameter it requires, or every parameter
    // that only it has, exists only on-premises (the set marked Default stays
    // unless it requires one: it takes calls that name no set).
    const kept = new Set(built.map((p) => p.name));
    const offered = sets.filter((s) => {
        if (sets.length === 1) return true;
        if (s.params.some((q) => q.mandatory && !COMMON.has(q.name) && !kept.has(q.name))) return false;
        if (s.isDefault) return true;
        const own = s.params.filter((q) => !COMMON.has(q.name) && sets.every((o) => o === s || !o.params.some((r) => r.name === q.name)));
        return own.length === 0 || own.some((q) => kept.has(q.name));
    });
    if (offered.length === 0) {
        problems.push('every parameter set needs an on-premises-only parameter; all sets kept');
        offered.push(...sets);
    }
    const offeredNames = offered.map((s) => s.name);
    command.parameterSets = offeredNames;
    const marked = sets.find((s) => s.isDefault);
    if (offered.length > 1) {
        if (marked && offeredNames.includes(marked.name)) command.defaultParameterSet = marked.name;
        else {
            // Not marked in the docs: PowerShell needs one to resolve calls that
            // name no set-specific parameter. Identity is Exchange's usual default.
            command.defaultParameterSet = offeredNames.includes('Identity') ? 'Identity' : offeredNames[0];
            command.defaultParameterSetInferred = true;
        }
    }

    command.parameters = [];
    for (const p of built) {
        const facts = p.setFacts.filter((f) => offeredNames.includes(f.name));
        if (p.setFacts.length && facts.length === 0) continue;   // only in sets not offered
        delete p.setFacts;
        const same = facts.every((f) => f.mandatory === facts[0].mandatory && f.position === facts[0].position);
        const param = { name: p.name, type: p.type, typeName: p.typeName };
        if (facts.length === offeredNames.length && same) {
            if (facts[0]?.mandatory) param.mandatory = true;
            if (facts[0]?.position !== undefined) param.position = facts[0].position;
        } else {
            param.sets = facts.map((f) => ({ name: f.name, mandatory: f.mandatory, ...(f.position !== undefined && { position: f.position }) }));
        }
        for (const k of ['aliases', 'valueFromPipeline', 'pipelineByPropertyName', 'wildcards', 'products', 'values', 'default']) {
            if (p[k] !== undefined) param[k] = p[k];
        }
        command.parameters.push(param);
    }
    if (command.name.startsWith('Get-')) {
        const rs = command.parameters.find((p) => p.name === 'ResultSize' && p.type === 'unlimited');
        if (rs) rs.default = '1000';
    }
    return { name, command, problems, skipped: false };
}

// One documented parameter -> its facts, or null when it is on-premises only.
function buildParameter(doc, sets, commandProducts, commandProblems) {
    const problems = [];
    const where = `-${doc.name}`;
    let products;
    if (doc.applicable === null) {
        if (!doc.syntaxOnly) problems.push(`${where}: no "Applicable:" line; taken as the command's products`);
        products = commandProducts;
    } else {
        products = readProducts(doc.applicable, where, problems).filter((x) => commandProducts.includes(x));
        if (products.length === 0) return null;
    }
    const blocks = doc.blocks;
    if (blocks.length === 0 && !doc.syntaxOnly) problems.push(`${where}: no yaml block`);

    // Which yaml block covers which set.
    const allSetNames = sets.map((s) => s.name);
    const blockFor = new Map();
    for (const b of blocks) {
        const names = b['Parameter Sets'] === '(All)' || (b['Parameter Sets'] === undefined) ? allSetNames : splitList(b['Parameter Sets']);
        for (const n of names) {
            if (!allSetNames.includes(n)) {
                if (!(allSetNames.length === 1 && allSetNames[0] === '__AllParameterSets')) problems.push(`${where}: yaml names set "${n}", not in SYNTAX`);
                continue;
            }
            if (blockFor.has(n)) problems.push(`${where}: two yaml blocks for set ${n}`);
            else blockFor.set(n, b);
        }
    }
    for (const key of ['Type', 'Aliases', 'Accept pipeline input', 'Accept wildcard characters', 'Accepted values']) {
        const distinct = new Set(blocks.map((b) => (b[key] ?? '').toLowerCase()));
        if (distinct.size > 1) problems.push(`${where}: yaml blocks disagree on ${key} (${[...new Set(blocks.map((b) => b[key] ?? ''))].join(' | ')}); first kept`);
    }
    const first = blocks[0] ?? {};

    // Per-set facts: membership and mandatory from SYNTAX, position from yaml.
    const setFacts = [];
    let syntaxType = null;
    for (const s of sets) {
        const q = s.params.find((x) => x.name === doc.name);
        const b = blockFor.get(s.name);
        if (!q) {
            if (b && b['Parameter Sets'] !== '(All)' && blocks.length) problems.push(`${where}: yaml lists set ${s.name}, SYNTAX does not`);
            continue;
        }
        syntaxType ??= q.type;
        const yamlPos = b && /^\d+$/.test(b.Position ?? '') ? Number(b.Position) : undefined;
        if (b) {
            const required = /^true$/i.test(b.Required ?? '');
            if (!/^(true|false)$/i.test(b.Required ?? '')) problems.push(`${where}: yaml "Required: ${b.Required ?? ''}" not True/False`);
            else if (required !== q.mandatory) problems.push(`${where}: set ${s.name}: SYNTAX says ${q.mandatory ? 'mandatory' : 'optional'}, yaml Required: ${b.Required}; SYNTAX kept`);
            if (!/^(\d+|Named)$/.test(b.Position ?? '')) problems.push(`${where}: yaml "Position: ${b.Position ?? ''}" not a number or Named`);
            else if ((yamlPos !== undefined) !== q.positional) problems.push(`${where}: set ${s.name}: SYNTAX says ${q.positional ? 'positional' : 'named'}, yaml Position: ${b.Position}; yaml kept`);
        } else if (blocks.length) problems.push(`${where}: in SYNTAX set ${s.name}, no yaml block covers it`);
        setFacts.push({ name: s.name, mandatory: q.mandatory, position: yamlPos });
    }
    if (setFacts.length === 0 && !doc.syntaxOnly) {
        // Described but in no SYNTAX set: offered in the sets the yaml names,
        // or in every set when it names none of them.
        const named = blockFor.size > 0;
        problems.push(`${where}: described in PARAMETERS, in no SYNTAX set; ${named ? 'sets taken from yaml' : 'offered in every set'}`);
        for (const s of sets) {
            const b = named ? blockFor.get(s.name) : first;
            if (b) setFacts.push({ name: s.name, mandatory: /^true$/i.test(b.Required ?? ''), position: /^\d+$/.test(b.Position ?? '') ? Number(b.Position) : undefined });
        }
    }

    let typeName = first.Type ?? syntaxType ?? 'SwitchParameter';
    if (/^<[^<>]+>$/.test(typeName)) {
        problems.push(`${where}: type written "${typeName}"; read as ${typeName.slice(1, -1)}`);
        typeName = typeName.slice(1, -1);
    }
    if (!first.Type) problems.push(`${where}: type taken from SYNTAX (${typeName})`);
    if (!WELL_FORMED_TYPE.test(typeName)) problems.push(`${where}: type "${typeName}" not understood; object`);
    if (syntaxType && first.Type && syntaxType.replace(/^System\./, '') !== typeName.replace(/^System\./, '')) {
        problems.push(`${where}: type ${first.Type} in yaml, ${syntaxType} in SYNTAX; yaml kept`);
    }
    let type = WELL_FORMED_TYPE.test(typeName) ? mapType(typeName, doc.name) : 'object';
    const values = first['Accepted values'] !== undefined ? splitList(first['Accepted values']) : undefined;
    if (values?.length && (type === 'string' || type === 'object')) type = 'enum';

    const aliases = splitList(first.Aliases);
    const pipeline = blocks.map((b) => parsePipeline(b['Accept pipeline input']));
    commandProblems.push(...problems);
    return {
        name: doc.name, type, typeName, setFacts,
        aliases: aliases.length ? aliases : undefined,
        valueFromPipeline: pipeline.some((x) => x.valueFromPipeline) || undefined,
        pipelineByPropertyName: pipeline.some((x) => x.pipelineByPropertyName) || undefined,
        wildcards: blocks.some((b) => /^true$/i.test(b['Accept wildcard characters'] ?? '')) || undefined,
        products,
        values: values?.length ? values : undefined,
    };
}
