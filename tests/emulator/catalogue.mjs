// The module's cmdlet catalogue (module/Data/ExchangeCommands.json): which
// cmdlets exist, their parameters (names, types, allowed values) and whether
// they change state. The emulator binds parameters against it the way
// Exchange would; it is read once at start.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const CATALOGUE_FILE = fileURLToPath(new URL('../../module/Data/ExchangeCommands.json', import.meta.url));

// Map lower-case cmdlet name -> {name, changesState, parameters: Map lower-case
// name -> {name, type, values}}. Empty when the file is missing or unreadable
// (the built-in parameter lists then apply).
export function loadCatalogue(file = CATALOGUE_FILE) {
  const commands = new Map();
  let data;
  try {
    data = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    return commands;
  }
  for (const command of data?.commands || []) {
    if (typeof command?.name !== 'string') continue;
    const parameters = new Map();
    for (const p of command.parameters || []) {
      if (typeof p?.name === 'string') {
        parameters.set(p.name.toLowerCase(), { name: p.name, type: String(p.type || 'string').toLowerCase(), values: p.values });
      }
    }
    commands.set(command.name.toLowerCase(), { name: command.name, changesState: Boolean(command.changesState), parameters });
  }
  return commands;
}
