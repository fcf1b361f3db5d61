// The OPATH -Filter parser and evaluator (opath.mjs), without a server.
// Run: node --test tests/emulator/opath.test.mjs
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseOpath, compileOpath, invariantDate, OpathSyntaxError } from './opath.mjs';

const alice = {
  Name: 'Alice', DisplayName: "Alice O'Hara", Department: 'Sales', ItemCount: 1200, IsShared: false,
  HiddenFromAddressListsEnabled: true, WhenCreated: '2024-03-15T10:00:00Z', ForwardingSmtpAddress: null,
  EmailAddresses: ['SMTP:alice@contoso.com', 'smtp:a@contoso.com'], CustomAttribute1: '',
  Title: 'Say "hi"',
};
const bob = {
  Name: 'Bob', DisplayName: 'Bob Smith', Department: 'Engineering', ItemCount: 80, IsShared: true,
  HiddenFromAddressListsEnabled: false, WhenCreated: '2023-11-01T08:30:00Z', ForwardingSmtpAddress: 'smtp:x@example.com',
  EmailAddresses: ['SMTP:bob@contoso.com'], CustomAttribute1: 'VIP', Title: 'Engineer',
};
const people = [alice, bob];

function names(filter) {
  const test = compileOpath(filter);
  return people.filter(test).map((p) => p.Name);
}

test('tree: precedence -or < -and < -not, parentheses group', () => {
  assert.deepEqual(parseOpath("A -eq 'x' -or B -eq 'y' -and -not C -eq 'z'"), {
    type: 'or',
    parts: [
      { type: 'compare', property: 'A', operator: 'eq', value: 'x', quoted: true },
      {
        type: 'and',
        parts: [
          { type: 'compare', property: 'B', operator: 'eq', value: 'y', quoted: true },
          { type: 'not', part: { type: 'compare', property: 'C', operator: 'eq', value: 'z', quoted: true } },
        ],
      },
    ],
  });
  assert.equal(parseOpath("(A -eq 'x' -or B -eq 'y') -and C -eq 1").type, 'and');
});

test('tree: braces, operators in any case, values of every kind', () => {
  const tree = parseOpath("{ Name -LIKE 'a*' -AND Count -Gt 5 -and Flag -eq $TRUE -and X -ne $null -and Y -eq Word }");
  assert.equal(tree.type, 'and');
  assert.deepEqual(tree.parts.map((p) => [p.operator, p.value]),
    [['like', 'a*'], ['gt', 5], ['eq', true], ['ne', null], ['eq', 'Word']]);
});

test('strings: both quotes, a doubled quote escapes itself', () => {
  assert.equal(parseOpath("DisplayName -eq 'Alice O''Hara'").value, "Alice O'Hara");
  assert.equal(parseOpath('Title -eq "Say ""hi"""').value, 'Say "hi"');
  assert.equal(parseOpath(`Title -eq "it's"`).value, "it's");
  assert.deepEqual(names("DisplayName -eq 'alice o''hara'"), ['Alice']);
  assert.deepEqual(names('Title -eq "say ""HI"""'), ['Alice']);
});

test('-eq/-ne on strings are case-insensitive', () => {
  assert.deepEqual(names("Department -eq 'SALES'"), ['Alice']);
  assert.deepEqual(names("Department -ne 'sales'"), ['Bob']);
});

test('-like/-notlike with * wildcards anywhere', () => {
  assert.deepEqual(names("DisplayName -like '*smith'"), ['Bob']);
  assert.deepEqual(names("DisplayName -like 'a*h*a'"), ['Alice']);
  assert.deepEqual(names("Name -notlike 'b*'"), ['Alice']);
  assert.deepEqual(names("Name -like '*'"), ['Alice', 'Bob']);
  assert.deepEqual(names("Name -like 'al.ce'"), [], 'a dot is literal');
});

test('-gt/-lt/-ge/-le on numbers, strings and dates', () => {
  assert.deepEqual(names('ItemCount -gt 100'), ['Alice']);
  assert.deepEqual(names('ItemCount -le 80'), ['Bob']);
  assert.deepEqual(names("ItemCount -ge '1200'"), ['Alice']);
  assert.deepEqual(names("Name -lt 'b'"), ['Alice']);
  assert.deepEqual(names("Name -ge 'BOB'"), ['Bob']);
  assert.deepEqual(names("WhenCreated -gt '2024-01-01'"), ['Alice']);
  assert.deepEqual(names("WhenCreated -lt '01/01/2024'"), ['Bob']);
  assert.deepEqual(names("WhenCreated -ge '03/15/2024 10:00:00'"), ['Alice']);
  assert.deepEqual(names("WhenCreated -eq '2023-11-01T08:30:00Z'"), ['Bob']);
});

test('booleans: $true/$false, and True/False as words', () => {
  assert.deepEqual(names('IsShared -eq $true'), ['Bob']);
  assert.deepEqual(names('IsShared -eq $false'), ['Alice']);
  assert.deepEqual(names('HiddenFromAddressListsEnabled -ne $false'), ['Alice']);
  assert.deepEqual(names("IsShared -eq 'True'"), ['Bob']);
});

test('$null: null, empty string and absent properties are null', () => {
  assert.deepEqual(names('ForwardingSmtpAddress -ne $null'), ['Bob']);
  assert.deepEqual(names('ForwardingSmtpAddress -eq $null'), ['Alice']);
  assert.deepEqual(names('CustomAttribute1 -eq $null'), ['Alice']);
  assert.deepEqual(names('NoSuchProperty -eq $null'), ['Alice', 'Bob']);
  assert.deepEqual(names("NoSuchProperty -eq 'x'"), []);
});

test('multi-valued properties match when any element does', () => {
  assert.deepEqual(names("EmailAddresses -eq 'smtp:a@contoso.com'"), ['Alice']);
  assert.deepEqual(names("EmailAddresses -like '*bob*'"), ['Bob']);
  assert.deepEqual(names("EmailAddresses -notlike '*bob*'"), ['Alice']);
});

test('-and, -or, -not, ! and parentheses combine', () => {
  assert.deepEqual(names("Department -eq 'Sales' -or Department -eq 'Engineering'"), ['Alice', 'Bob']);
  assert.deepEqual(names("Department -eq 'Sales' -and IsShared -eq $true"), []);
  assert.deepEqual(names("-not (Department -eq 'Sales')"), ['Bob']);
  assert.deepEqual(names("!(Department -eq 'Sales')"), ['Bob']);
  assert.deepEqual(names("-not Department -eq 'Sales' -and Name -eq 'Bob'"), ['Bob']);
  assert.deepEqual(names("(Name -eq 'Alice' -or Name -eq 'Bob') -and -not (ItemCount -lt 100)"), ['Alice']);
  assert.deepEqual(names("{(Name -like 'a*') -or ((ItemCount -gt 50) -and (IsShared -eq $true))}"), ['Alice', 'Bob']);
});

test('property names are case-insensitive', () => {
  assert.deepEqual(names("department -eq 'sales'"), ['Alice']);
});

function syntaxError(filter, position) {
  assert.throws(() => parseOpath(filter), (err) => {
    assert.ok(err instanceof OpathSyntaxError, String(err));
    assert.equal(err.position, position, `${filter}: ${err.message}`);
    assert.match(err.message, /position \d+/);
    return true;
  });
}

test('malformed filters: a syntax error with the position', () => {
  syntaxError('', 0);
  syntaxError("Name -eq 'x", 9);
  syntaxError("Name -eq 'x' -and", 17);
  syntaxError("Name 'x'", 5);
  syntaxError("Name -contains 'x'", 5);
  syntaxError("(Name -eq 'x'", 13);
  syntaxError("Name -eq 'x')", 12);
  syntaxError("{Name -eq 'x'", 13);
  syntaxError("Name -eq $x", 9);
  syntaxError("-eq 'x'", 0);
  syntaxError("Name -eq -and", 9);
});

test('invariantDate reads ISO and US forms as UTC', () => {
  assert.equal(invariantDate('2024-05-01'), Date.UTC(2024, 4, 1));
  assert.equal(invariantDate('2024-05-01T12:30:00'), Date.UTC(2024, 4, 1, 12, 30));
  assert.equal(invariantDate('2024-05-01T12:30:00.1234567Z'), Date.parse('2024-05-01T12:30:00.123Z'));
  assert.equal(invariantDate('05/01/2024'), Date.UTC(2024, 4, 1));
  assert.equal(invariantDate('5/1/2024 7:05'), Date.UTC(2024, 4, 1, 7, 5));
  assert.ok(Number.isNaN(invariantDate('Alice')));
});
