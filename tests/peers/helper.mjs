// Drives the C helper over its stdin/stdout JSON lines (docs/protocol.md).
// The helper trusts the test CA through EXCHANGEMFA_CA_FILE only.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { once } from 'node:events';

// The build's helper for this platform: module/bin/<rid>/ as the module picks it.
const RID = `${{ win32: 'win', darwin: 'osx' }[process.platform] ?? process.platform}-${process.arch}`;
export const HELPER = process.env.EXCHANGEMFA_HELPER
  || fileURLToPath(new URL(`../../module/bin/${RID}/exchangemfa-helper${process.platform === 'win32' ? '.exe' : ''}`,
    import.meta.url));

export function helperBuilt() {
  return existsSync(HELPER);
}

// Resolves {request(method, params, {onNotification}), notifications, stop()}.
// A reply with an error rejects with an Error carrying .code, .data.
// HOME and XDG_CACHE_HOME are a fresh folder: no token cache of the user's
// is read or written, and no run sees another's.
export async function startHelper(caFile, extraEnv = {}) {
  const home = mkdtempSync(join(tmpdir(), 'peers-helper-home-'));
  const child = spawn(HELPER, [], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { PATH: process.env.PATH, HOME: home, XDG_CACHE_HOME: join(home, '.cache'), EXCHANGEMFA_CA_FILE: caFile, ...extraEnv },
  });
  const exited = once(child, 'exit');
  let stderr = '';
  child.stderr.on('data', (d) => { stderr = (stderr + d).slice(-4000); });
  const pending = new Map();
  const notifications = [];
  let nextId = 1;
  let buffered = '';
  child.stdout.on('data', (d) => {
    buffered += d;
    for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      if (!line) continue;
      const msg = JSON.parse(line);
      if (msg.id !== undefined && msg.id !== null && pending.has(msg.id)) {
        const { resolve, reject } = pending.get(msg.id);
        pending.delete(msg.id);
        if (msg.error) {
          const err = new Error(`${msg.error.data?.name || msg.error.code}: ${msg.error.message}`);
          err.code = msg.error.code;
          err.data = msg.error.data || {};
          reject(err);
        } else {
          resolve(msg.result);
        }
      } else if (msg.method) {
        notifications.push(msg);
        const entry = pending.get(msg.params?.requestId);
        if (entry?.onNotification) entry.onNotification(msg);
      }
    }
  });
  child.on('exit', () => {
    for (const { reject } of pending.values()) reject(new Error(`helper exited: ${stderr.split('\n').slice(-3).join(' | ')}`));
    pending.clear();
  });
  const helper = {
    child,
    notifications,
    stderr: () => stderr,
    request(method, params = {}, { onNotification, timeoutMs = 30000 } = {}) {
      const id = nextId++;
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          pending.delete(id);
          reject(new Error(`helper: no answer to ${method} in ${timeoutMs} ms`));
        }, timeoutMs);
        const done = (fn) => (v) => { clearTimeout(timer); fn(v); };
        pending.set(id, { resolve: done(resolve), reject: done(reject), onNotification });
        child.stdin.write(`${JSON.stringify({ jsonrpc: '2.0', id, method, params })}\n`);
      });
    },
    notify(method, params) {
      child.stdin.write(`${JSON.stringify({ jsonrpc: '2.0', method, params })}\n`);
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.stdin.end();
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(home, { recursive: true, force: true });
    },
  };
  try {
    await helper.request('initialize', { protocolVersion: 1, client: 'peers-test/1' });
  } catch (err) {
    await helper.stop();
    throw err;
  }
  return helper;
}
