// Exchange's OPATH -Filter as admin scripts write it, parsed by recursive
// descent into a small tree and compiled to a predicate over the objects
// the emulator shows.
//
//   filter     := '{' expression '}' | expression
//   expression := and ('-or' and)*
//   and        := not ('-and' not)*
//   not        := ('-not' | '!') not | '(' expression ')' | comparison
//   comparison := Property operator value
//   operator   := -eq -ne -like -notlike -gt -lt -ge -le (any case)
//   value      := 'text' | "text" (a doubled quote escapes itself) | $true
//                 | $false | $null | number | bare word
//
// Comparisons are Exchange's: strings case-insensitive, numbers as
// numbers, booleans against $true/$false (or 'True'/'False'), dates when
// the property holds one and the value parses as a culture-invariant date
// (ISO 8601, or MM/dd/yyyy [HH:mm[:ss]], read as UTC), $null matching an
// absent, null, empty or empty-list value. A multi-valued property matches
// when any element does (-ne / -notlike: when none does).

const OPERATORS = new Set(['eq', 'ne', 'like', 'notlike', 'gt', 'lt', 'ge', 'le']);
const CONSTANTS = { $true: true, $false: false, $null: null };

// A filter that does not parse: `position` is 0-based in the filter text.
export class OpathSyntaxError extends Error {
  constructor(message, position) {
    super(message);
    this.position = position;
  }
}

// Tokens: {kind: 'op'|'word'|'string'|'const'|'number'|'punct', text, value, at}.
function tokenize(text) {
  const tokens = [];
  let i = 0;
  while (i < text.length) {
    const ch = text[i];
    if (/\s/.test(ch)) {
      i += 1;
    } else if ('(){}!'.includes(ch)) {
      tokens.push({ kind: 'punct', text: ch, at: i });
      i += 1;
    } else if (ch === "'" || ch === '"') {
      const start = i;
      let value = '';
      i += 1;
      for (;;) {
        if (i >= text.length) throw new OpathSyntaxError(`The string is not closed at position ${start}.`, start);
        if (text[i] === ch && text[i + 1] === ch) {
          value += ch;
          i += 2;
        } else if (text[i] === ch) {
          i += 1;
          break;
        } else {
          value += text[i];
          i += 1;
        }
      }
      tokens.push({ kind: 'string', value, at: start });
    } else if (ch === '-' && /[a-z]/i.test(text[i + 1] || '')) {
      const m = /^-([a-z]+)/i.exec(text.slice(i));
      tokens.push({ kind: 'op', text: m[1].toLowerCase(), at: i });
      i += m[0].length;
    } else if (ch === '$') {
      const m = /^\$\w*/.exec(text.slice(i));
      const name = m[0].toLowerCase();
      if (!(name in CONSTANTS)) throw new OpathSyntaxError(`'${m[0]}' is not $true, $false or $null at position ${i}.`, i);
      tokens.push({ kind: 'const', value: CONSTANTS[name], at: i });
      i += m[0].length;
    } else {
      const m = /^[^\s(){}'"!]+/.exec(text.slice(i));
      const word = m[0];
      tokens.push(/^-?\d+(\.\d+)?$/.test(word) ? { kind: 'number', value: Number(word), text: word, at: i }
        : { kind: 'word', text: word, at: i });
      i += word.length;
    }
  }
  return tokens;
}

// The tree: {type: 'or'|'and', parts} | {type: 'not', part}
//   | {type: 'compare', property, operator, value}.
export function parseOpath(text) {
  const source = String(text ?? '');
  const tokens = tokenize(source);
  let k = 0;
  const peek = () => tokens[k];
  const end = () => source.length;
  const fail = (what, token = peek()) => {
    throw new OpathSyntaxError(`${what} at position ${token ? token.at : end()}.`, token ? token.at : end());
  };
  const isPunct = (t, ch) => t && t.kind === 'punct' && t.text === ch;
  const isOp = (t, name) => t && t.kind === 'op' && t.text === name;

  function expression() {
    const parts = [and()];
    while (isOp(peek(), 'or')) {
      k += 1;
      parts.push(and());
    }
    return parts.length === 1 ? parts[0] : { type: 'or', parts };
  }
  function and() {
    const parts = [not()];
    while (isOp(peek(), 'and')) {
      k += 1;
      parts.push(not());
    }
    return parts.length === 1 ? parts[0] : { type: 'and', parts };
  }
  function not() {
    const t = peek();
    if (isOp(t, 'not') || isPunct(t, '!')) {
      k += 1;
      return { type: 'not', part: not() };
    }
    if (isPunct(t, '(')) {
      k += 1;
      const inner = expression();
      if (!isPunct(peek(), ')')) fail("Expected ')'");
      k += 1;
      return inner;
    }
    return comparison();
  }
  function comparison() {
    const name = peek();
    if (!name || name.kind !== 'word' || !/^[A-Za-z_][\w.]*$/.test(name.text)) fail('Expected a property name');
    k += 1;
    const op = peek();
    if (!op || op.kind !== 'op' || !OPERATORS.has(op.text)) fail(`Expected a comparison operator after '${name.text}'`);
    k += 1;
    const v = peek();
    if (!v || v.kind === 'op' || v.kind === 'punct') fail(`Expected a value after '-${op.text}'`);
    k += 1;
    const value = v.kind === 'word' ? v.text : v.value;
    return { type: 'compare', property: name.text, operator: op.text, value, quoted: v.kind === 'string' };
  }

  if (tokens.length === 0) fail('The filter is empty');
  let tree;
  if (isPunct(tokens[0], '{')) {
    k = 1;
    tree = expression();
    if (!isPunct(peek(), '}')) fail("Expected '}'");
    k += 1;
  } else {
    tree = expression();
  }
  if (k < tokens.length) fail('Unexpected text');
  return tree;
}

// ---- evaluation -------------------------------------------------------------

const US_DATE = /^(\d{1,2})\/(\d{1,2})\/(\d{4})(?:\s+(\d{1,2}):(\d{2})(?::(\d{2}))?)?$/;
const ISO_DATE = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/i;

// Milliseconds of a culture-invariant date text, or NaN. No zone: UTC.
export function invariantDate(text) {
  const s = String(text).trim();
  const us = US_DATE.exec(s);
  if (us) {
    const [, month, day, year, h = 0, m = 0, sec = 0] = us.map((x) => (x === undefined ? undefined : Number(x)));
    return Date.UTC(year, month - 1, day, h, m, sec);
  }
  if (!ISO_DATE.test(s)) return NaN;
  const zoned = /(Z|[+-]\d{2}:?\d{2})$/i.test(s) || s.length === 10 ? s : `${s}Z`;
  return Date.parse(zoned.replace(' ', 'T'));
}

function lookup(object, property) {
  if (property in object) return object[property];
  const lower = property.toLowerCase();
  const key = Object.keys(object).find((name) => name.toLowerCase() === lower);
  return key === undefined ? null : object[key];
}

function isEmpty(value) {
  return value === null || value === undefined || value === '' || (Array.isArray(value) && value.length === 0);
}

function wildcard(pattern) {
  return new RegExp(`^${String(pattern).replace(/[.+^${}()|[\]\\?]/g, '\\$&').replace(/\*/g, '.*')}$`, 'is');
}

// -1, 0, 1 for ordering operators, or NaN when the two cannot be ordered.
function order(actual, wanted) {
  if (typeof actual === 'number') {
    const n = Number(wanted);
    return Number.isNaN(n) || wanted === '' || typeof wanted === 'boolean' ? NaN : Math.sign(actual - n);
  }
  if (typeof actual === 'boolean') {
    const b = typeof wanted === 'boolean' ? wanted : /^(true|false)$/i.test(String(wanted)) ? /^true$/i.test(wanted) : null;
    return b === null ? NaN : Number(actual) - Number(b);
  }
  const a = invariantDate(actual);
  const w = invariantDate(wanted);
  if (!Number.isNaN(a) && !Number.isNaN(w)) return Math.sign(a - w);
  const x = String(actual).toLowerCase();
  const y = String(wanted).toLowerCase();
  return x < y ? -1 : x > y ? 1 : 0;
}

function compareOne(actual, operator, wanted) {
  if (actual === null || actual === undefined) return false;
  switch (operator) {
    case 'like':
      return wildcard(wanted).test(String(actual));
    case 'eq':
      return order(actual, wanted) === 0;
    case 'gt':
      return order(actual, wanted) > 0;
    case 'lt':
      return order(actual, wanted) < 0;
    case 'ge':
      return order(actual, wanted) >= 0;
    case 'le':
      return order(actual, wanted) <= 0;
    default:
      return false;
  }
}

function evaluate(node, object) {
  switch (node.type) {
    case 'or':
      return node.parts.some((p) => evaluate(p, object));
    case 'and':
      return node.parts.every((p) => evaluate(p, object));
    case 'not':
      return !evaluate(node.part, object);
    default: {
      const { operator, value } = node;
      const actual = lookup(object, node.property);
      const negated = operator === 'ne' || operator === 'notlike';
      const positive = operator === 'ne' ? 'eq' : operator === 'notlike' ? 'like' : operator;
      if (value === null) return positive === 'eq' ? isEmpty(actual) !== negated : false;
      const values = Array.isArray(actual) ? actual : [actual];
      return values.some((v) => compareOne(v, positive, value)) !== negated;
    }
  }
}

// A predicate over objects; throws OpathSyntaxError when the text does not parse.
export function compileOpath(text) {
  const tree = parseOpath(text);
  return (object) => evaluate(tree, object);
}
