// Parameter values as the admin REST endpoint receives them (reference §3):
// switches are booleans, hashtables carry "@odata.type":
// "#Exchange.GenericHashTable", byte arrays are
// {"@odata.type":"#Exchange.ByteArrayType","Data":"<base64>"}, DateTime is
// UTC "yyyy-MM-ddTHH:mm:ss.fffffffZ". Decoding answers plain JS values;
// malformed values answer {error: why}.

import { constants, generateKeyPairSync, privateDecrypt } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

const BYTES = '#exchange.bytearraytype';

function isPlainObject(value) {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

// Drops "@odata.*" annotations, turns byte arrays into base64 text (checked),
// recurses into arrays and hashtables. Throws TypeError on a bad byte array.
export function decodeValue(value) {
  if (Array.isArray(value)) return value.map(decodeValue);
  if (!isPlainObject(value)) return value;
  const type = String(value['@odata.type'] || '').toLowerCase();
  if (type === BYTES) {
    const data = value.Data ?? value.data;
    if (typeof data !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(data) || data.length % 4 !== 0) {
      throw new TypeError('a byte array needs base64 "Data"');
    }
    return data;
  }
  const out = {};
  for (const [key, inner] of Object.entries(value)) {
    if (!key.includes('@odata.')) out[key] = decodeValue(inner);
  }
  return out;
}

// A hashtable's entry by key, case-insensitive (PowerShell hashtables are).
function entry(table, name) {
  const key = Object.keys(table).find((k) => k.toLowerCase() === name);
  return key === undefined ? undefined : table[key];
}

function asList(value) {
  if (value === undefined || value === null) return [];
  return Array.isArray(value) ? value : [value];
}

// A multi-valued property after a Set-: @{Add=..; Remove=..} edits the
// current list (case-insensitive, no duplicates), a list or a single value
// replaces it, $null empties it.
export function applyMultiValue(current, value) {
  const list = asList(current).slice();
  if (isPlainObject(value)) {
    const same = (a, b) => String(a).toLowerCase() === String(b).toLowerCase();
    for (const add of asList(entry(value, 'add'))) {
      if (!list.some((v) => same(v, add))) list.push(add);
    }
    const removes = asList(entry(value, 'remove'));
    return list.filter((v) => !removes.some((r) => same(r, v)));
  }
  return asList(value);
}

// A DateTime parameter -> Date, or null when it does not parse. Accepts the
// 7-digit fractions .NET writes.
export function parseDate(value) {
  if (value instanceof Date) return value;
  if (typeof value !== 'string') return null;
  const trimmed = value.trim().replace(/(\.\d{3})\d+/, '$1');
  const time = Date.parse(trimmed);
  return Number.isNaN(time) ? null : new Date(time);
}

// Exchange's timestamps: ISO 8601 UTC without milliseconds.
export function isoSeconds(time) {
  return new Date(time).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

// The service marks types in two styles side by side (reference section 7):
// "X@odata.type": "#Guid" and "X@data.type": "System.Guid". Objects here
// carry the first; the page writer adds the second.
const DATA_TYPES = {
  '#Guid': 'System.Guid',
  '#DateTimeOffset': 'System.DateTime',
  '#DateTime': 'System.DateTime',
  '#Int32': 'System.Int32',
};

const ODATA_HINT = /"([^"\\]+)@odata\.type":"(#Guid|#DateTimeOffset|#DateTime|#Int32)"/g;

// An object's JSON text with the second style added after each first-style
// hint (on the text: cheaper than copying every object).
export function withDataTypes(json) {
  return json.replace(ODATA_HINT, (hint, name, type) => `${hint},"${name}@data.type":"${DATA_TYPES[type]}"`);
}

// SecureString parameters arrive as Microsoft's module sends them:
// base64 of the UTF-8 text encrypted with Exchange's RSA public key
// (PKCS#1 v1.5). The emulator plays the service with its own key pair; the
// helper reads the public half from EXCHANGEMFA_EXO_PUBLIC_KEY.
let secureStringKey = null;

// Makes the key pair and writes the public key into dir; answers its path.
export function writeSecureStringKey(dir) {
  const pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
  secureStringKey = pair.privateKey;
  const file = join(dir, 'exo-public-key.pem');
  writeFileSync(file, pair.publicKey.export({ type: 'spki', format: 'pem' }));
  return file;
}

// The text of an encrypted SecureString, or null when it is not one (plain
// text, another key, broken padding). Node refuses PKCS#1 v1.5 decryption,
// so the padding (00 02 nonzero... 00 text) is checked here.
export function decryptSecureString(value) {
  if (!secureStringKey || typeof value !== 'string' || !/^[A-Za-z0-9+/]+={0,2}$/.test(value)) return null;
  const cipher = Buffer.from(value, 'base64');
  if (cipher.length !== 256) return null;
  let block;
  try {
    block = privateDecrypt({ key: secureStringKey, padding: constants.RSA_NO_PADDING }, cipher);
  } catch {
    return null;
  }
  const end = block.indexOf(0, 2);
  if (block[0] !== 0 || block[1] !== 2 || end < 10) return null;
  return block.subarray(end + 1).toString('utf8');
}
