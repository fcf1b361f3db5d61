// tools/catalogue/parse.mjs - a small, strict reader of one cmdlet page of
// Microsoft's Exchange reference (platyPS markdown): the front matter, the
// SYNTAX blocks and the ```yaml block(s) under each `### -Parameter`.
// It returns facts only (never prose) plus a list of what did not fit.

// One page -> { file, frontMatter, sets: [{name, isDefault, params}], parameters: [...], problems: [...] }
export function parsePage(file, text) {
    const problems = [];
    const lines = text.replace(/\r\n?/g, '\n').split('\n');
    const frontMatter = readFrontMatter(lines, problems);
    const sections = splitSections(lines);
    const sets = readSyntax(sections.get('SYNTAX') ?? [], frontMatter.title, problems);
    const parameters = readParameters(sections.get('PARAMETERS') ?? [], problems);
    return { file, frontMatter, sets, parameters, problems };
}

function readFrontMatter(lines, problems) {
    const fields = {};
    if (lines[0] !== '---') { problems.push('no front matter'); return fields; }
    for (let i = 1; i < lines.length && lines[i] !== '---'; i++) {
        const m = /^([A-Za-z][\w. ]*):\s*(.*)$/.exec(lines[i]);
        if (!m) { if (lines[i].trim()) problems.push(`front matter line not understood: "${lines[i]}"`); continue; }
        const key = m[1].toLowerCase();
        // A broken "online version" line ("https: //learn...") still names the address.
        if (key === 'https' && /^\/\//.test(m[2])) {
            problems.push(`front matter has "${lines[i]}" instead of "online version: ..."; address taken from it`);
            fields['online version'] ??= 'https:' + m[2].trim();
            continue;
        }
        fields[key] = m[2].trim();
    }
    return fields;
}

// "## NAME" -> its lines, until the next "## ".
function splitSections(lines) {
    const sections = new Map();
    let current = null;
    let inFence = false;
    for (const line of lines) {
        if (/^ {0,3}```/.test(line)) inFence = !inFence;
        const m = !inFence && /^## (.+?)\s*$/.exec(line);
        if (m) { current = []; sections.set(m[1], current); continue; }
        if (current) current.push(line);
    }
    return sections;
}

// SYNTAX: "### SetName[ (Default)]" then a ``` block with the command line.
// A page with one set may omit the heading; the set is then unnamed.
function readSyntax(lines, title, problems) {
    const sets = [];
    let heading = null;
    for (let i = 0; i < lines.length; i++) {
        const h = /^### (.+?)\s*$/.exec(lines[i]);
        if (h) { heading = h[1]; continue; }
        if (!/^ {0,3}```/.test(lines[i])) continue;
        const body = [];
        for (i++; i < lines.length && !/^ {0,3}```/.test(lines[i]); i++) body.push(lines[i]);
        let name = heading, isDefault = false;
        if (name) {
            const d = /^(.+?)\s*\(Default\)$/.exec(name);
            if (d) { name = d[1]; isDefault = true; }
        }
        sets.push({ name, isDefault, params: readSyntaxLine(body.join(' '), title, name, problems) });
        heading = null;
    }
    if (sets.length === 0) problems.push('no SYNTAX block');
    if (sets.length > 1 && sets.some((s) => !s.name)) problems.push('a SYNTAX block without a set name among several');
    return sets;
}

// "Verb-Noun [[-Identity] <T>] -Name <T> [-Switch] ..." -> [{name, mandatory, positional, type}]
export function readSyntaxLine(text, title, setName, problems) {
    const s = text.replace(/\s+/g, ' ').trim();
    const params = [];
    let i = 0;
    const cmd = /^[A-Za-z]+-[A-Za-z0-9]+/.exec(s);
    if (!cmd) { problems.push(`SYNTAX ${setName ?? ''}: no command name`); return params; }
    if (title && cmd[0] !== title) problems.push(`SYNTAX ${setName ?? ''}: names ${cmd[0]}, page is ${title}`);
    i = cmd[0].length;
    const skip = () => { while (s[i] === ' ') i++; };
    const readName = () => {
        const m = /^-([A-Za-z0-9_]+)/.exec(s.slice(i));
        if (!m) return null;
        i += m[0].length;
        return m[1];
    };
    const readType = () => {           // "<...>" with nested <> allowed
        skip();
        if (s[i] !== '<') return null;
        let depth = 0, start = i;
        for (; i < s.length; i++) {
            if (s[i] === '<') depth++;
            else if (s[i] === '>' && --depth === 0) { i++; return s.slice(start + 1, i - 1).trim(); }
        }
        return null;
    };
    // On a token it cannot read: report, then resume at the next parameter.
    const bad = () => {
        problems.push(`SYNTAX ${setName ?? ''}: not understood at "${s.slice(i, i + 40)}"`);
        const next = s.slice(i + 1).search(/ (\[{1,2}-|-)[A-Za-z]/);
        i = next < 0 ? s.length : i + 1 + next;
    };
    for (skip(); i < s.length; skip()) {
        if (s.startsWith('[<CommonParameters>]', i)) { i += 20; continue; }
        if (s.startsWith('[[-', i)) {                  // [[-Name] <T>]
            i += 2;
            const name = readName();
            if (!name || s[i] !== ']') { bad(); continue; }
            i++;
            const type = readType();
            skip();
            if (s[i] !== ']') { bad(); continue; }
            i++;
            params.push({ name, mandatory: false, positional: true, type });
        } else if (s.startsWith('[-', i)) {            // [-Name] <T> | [-Name <T>] | [-Switch]
            i += 1;
            const name = readName();
            if (!name) { bad(); continue; }
            if (s[i] === ']') {
                i++;
                const save = i;
                skip();
                if (s[i] === '<') { const type = readType(); params.push({ name, mandatory: true, positional: true, type }); }
                else { i = save; params.push({ name, mandatory: false, positional: false, type: null }); }
            } else {
                const type = readType();
                skip();
                if (s[i] !== ']') { bad(); continue; }
                i++;
                params.push({ name, mandatory: false, positional: false, type });
            }
        } else if (s[i] === '-') {                     // -Name <T> | -Switch
            const name = readName();
            if (!name) { bad(); continue; }
            const save = i;
            skip();
            const type = s[i] === '<' ? readType() : (i = save, null);
            params.push({ name, mandatory: true, positional: false, type });
        } else { bad(); continue; }
    }
    return params;
}

// PARAMETERS: "### -Name", an optional "> Applicable: ..." line, prose, one
// or more ```yaml blocks.
function readParameters(lines, problems) {
    const params = [];
    let current = null;
    for (let i = 0; i < lines.length; i++) {
        const line = lines[i];
        const h = /^### (.*?)\s*$/.exec(line);
        if (h) {
            current = null;
            if (h[1] === 'CommonParameters') continue;
            const m = /^-([A-Za-z0-9_]+)$/.exec(h[1]);
            if (!m) { problems.push(`PARAMETERS heading not understood: "${line}"`); continue; }
            current = { name: m[1], applicable: null, blocks: [] };
            params.push(current);
            continue;
        }
        if (!current) continue;
        const a = /^>\s*Applicable:\s*(.*)$/.exec(line);
        if (a && current.applicable === null && current.blocks.length === 0) { current.applicable = a[1]; continue; }
        if (/^ {0,3}```yaml\s*$/.test(line)) {
            const block = {};
            for (i++; i < lines.length && !/^ {0,3}```/.test(lines[i]); i++) {
                if (!lines[i].trim()) continue;
                const kv = /^([A-Za-z][A-Za-z ]*?):\s*(.*)$/.exec(lines[i]);
                if (!kv) { problems.push(`-${current.name}: yaml line not understood: "${lines[i]}"`); continue; }
                if (kv[1] in block) problems.push(`-${current.name}: yaml key "${kv[1]}" twice`);
                block[kv[1]] = kv[2].trim();
            }
            current.blocks.push(block);
        }
    }
    return params;
}
