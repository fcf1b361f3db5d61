// Test helpers: start the emulator as a child process and talk HTTPS to it
// trusting only its throwaway CA.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import https from 'node:https';
import { gunzipSync } from 'node:zlib';
import assert from 'node:assert/strict';

const SERVER = fileURLToPath(new URL('./server.mjs', import.meta.url));
export const CLIENT_ID = 'fb78d390-0c51-40cd-8e17-fdbfab77341b';
export const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
export const EXO_SCOPE = 'https://outlook.office365.com/.default openid profile offline_access';

// Starts the server; resolves with {info, child, stop(), call(), ...}.
export async function startEmulator(dir, args = []) {
  const child = spawn(process.execPath, [SERVER, '--dir', dir, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr = (stderr + d).slice(-4000); });
  const line = await new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`emulator did not start: ${stderr}`)), 20000);
    child.stdout.on('data', (d) => {
      out += d;
      if (out.includes('\n')) { clearTimeout(timer); resolve(out.split('\n')[0]); }
    });
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`emulator exited ${code}: ${stderr}`)); });
  });
  const info = JSON.parse(line);
  const agent = new https.Agent({ ca: readFileSync(info.caFile), keepAlive: true });
  const emu = {
    info,
    child,
    agent,
    stderr: () => stderr,
    async stop() {
      agent.destroy();
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await once(child, 'exit');
      }
    },
    // Resolves {status, headers, text, json}. options: {headers, body, form, json, raw}
    call(method, path, options = {}) {
      const url = path.startsWith('https:') ? path : `${info.url}${path}`;
      const headers = { ...(options.headers || {}) };
      let body = options.body;
      if (options.form) {
        body = new URLSearchParams(options.form).toString();
        headers['content-type'] = 'application/x-www-form-urlencoded';
      } else if (options.json !== undefined) {
        body = JSON.stringify(options.json);
        headers['content-type'] = 'application/json';
      }
      return new Promise((resolve, reject) => {
        const req = https.request(url, { method, agent, headers }, (res) => {
          const chunks = [];
          res.on('data', (c) => chunks.push(c));
          res.on('error', reject);
          res.on('end', () => {
            let buffer = Buffer.concat(chunks);
            if (res.headers['content-encoding'] === 'gzip') buffer = gunzipSync(buffer);
            const text = buffer.toString('utf8');
            let json;
            try { json = JSON.parse(text); } catch { json = undefined; }
            resolve({ status: res.statusCode, headers: res.headers, text, json, reads: chunks.length });
          });
        });
        req.on('error', reject);
        req.end(body);
      });
    },
    control(path, json = {}) {
      return emu.call('POST', `/_emulator/${path}`, { json });
    },
    token(form, tenant = 'organizations') {
      return emu.call('POST', `/${tenant}/oauth2/v2.0/token`, { form });
    },
    deviceCode(form = {}, tenant = 'organizations') {
      return emu.call('POST', `/${tenant}/oauth2/v2.0/devicecode`, { form: { client_id: CLIENT_ID, scope: EXO_SCOPE, ...form } });
    },
    // Device flow approved by the control endpoint; resolves the token answer.
    async signIn(upn = 'admin@contoso.onmicrosoft.com', tenant = 'organizations', extra = {}) {
      const dc = (await emu.deviceCode({}, tenant)).json;
      await emu.control('device/approve', { userCode: dc.user_code, upn });
      return emu.token({ grant_type: DEVICE_GRANT, client_id: CLIENT_ID, device_code: dc.device_code, ...extra }, tenant);
    },
    invoke(accessToken, cmdlet, parameters = {}, options = {}) {
      const url = options.url || `/adminapi/beta/${options.tenant || info.tenantId}/InvokeCommand`;
      return emu.call('POST', url, {
        headers: { authorization: `Bearer ${accessToken}`, ...(options.headers || {}) },
        json: { CmdletInput: { CmdletName: cmdlet, Parameters: parameters } },
      });
    },
  };
  return emu;
}

export function jwtParts(token) {
  const [h, p] = token.split('.');
  return {
    header: JSON.parse(Buffer.from(h, 'base64url').toString()),
    payload: JSON.parse(Buffer.from(p, 'base64url').toString()),
  };
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// InvokeCommand helpers for the Exchange tests, with `token` by default:
// run (the raw answer), ok (asserts 200), values, assertError and readAll
// (follows nextLink). options: {token, url, tenant, headers}.
export function exchangeClient(emu, token) {
  const run = (cmdlet, parameters = {}, options = {}) => emu.invoke(options.token || token, cmdlet, parameters, options);
  const ok = async (cmdlet, parameters, options) => {
    const res = await run(cmdlet, parameters, options);
    assert.equal(res.status, 200, `${cmdlet}: ${res.text}`);
    return res.json;
  };
  return {
    run,
    ok,
    values: async (cmdlet, parameters, options) => (await ok(cmdlet, parameters, options)).value,
    async readAll(cmdlet, parameters, options = {}) {
      let url = options.url;
      const objects = [];
      let pages = 0;
      for (;;) {
        const res = await run(cmdlet, parameters, { ...options, url });
        assert.equal(res.status, 200, res.text);
        objects.push(...res.json.value);
        pages += 1;
        url = res.json['@odata.nextLink'];
        if (!url) return { objects, pages };
      }
    },
  };
}

// An Exchange error answer: status, x-ExceptionType and innererror.type.
export function assertExchangeError(res, status, type) {
  assert.equal(res.status, status, res.text);
  assert.equal(res.headers['x-exceptiontype'], type, res.text);
  assert.ok(res.json.error.innererror.type.endsWith(`.${type}`), res.text);
}
