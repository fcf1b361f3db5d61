// The module's cmdlet catalogue (module/Data/ExchangeCommands.json, schema
// /work/shared CATALOGUE-V2: version 2; version 1 files read too): which
// cmdlets exist, for which products, their parameters (names, aliases,
// types, allowed values) and whether they change state. The emulator binds
// parameters against it the way Exchange would; it is read once at start.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const CATALOGUE_FILE = fileURLToPath(new URL('../../module/Data/ExchangeCommands.json', import.meta.url));

// Version 1 files name no products: their cmdlets are Exchange Online's.
const DEFAULT_PRODUCTS = ['ExchangeOnline'];

// Map lower-case cmdlet name -> {name, products, changesState, parameters:
// Map lower-case name or alias -> {name, type, typeName, values}}. Empty when the file
// is missing or unreadable.
export function loadCatalogue(file = CATALOGUE_FILE) {
  let data;
  try {
    data = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    return new Map();
  }
  return catalogueFrom(data);
}

export function catalogueFrom(data) {
  const commands = new Map();
  for (const command of data?.commands || []) {
    if (typeof command?.name !== 'string') continue;
    const parameters = new Map();
    for (const p of command.parameters || []) {
      if (typeof p?.name !== 'string') continue;
      const parameter = {
        name: p.name, type: String(p.type || 'string').toLowerCase(), typeName: p.typeName, values: p.values,
      };
      for (const alias of Array.isArray(p.aliases) ? p.aliases : []) {
        if (typeof alias === 'string') parameters.set(alias.toLowerCase(), parameter);
      }
      parameters.set(p.name.toLowerCase(), parameter);
    }
    const products = Array.isArray(command.products) && command.products.length > 0 ? command.products : DEFAULT_PRODUCTS;
    commands.set(command.name.toLowerCase(), {
      name: command.name, products, changesState: Boolean(command.changesState), parameters,
    });
  }
  return commands;
}
