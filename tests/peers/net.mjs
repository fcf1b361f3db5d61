// HTTPS plumbing shared by the peer tests: an MSAL network client and a
// scriptable browser, both trusting one throwaway CA (never switching TLS
// verification off).
import http from 'node:http';
import https from 'node:https';

// Sends one request; resolves {status, headers, text}. Plain http only for
// loopback redirect URIs (a client's listener), https otherwise.
export function request(url, { method = 'GET', headers = {}, body, agent } = {}) {
  const target = new URL(url);
  const lib = target.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = lib.request(target, { method, headers, agent: target.protocol === 'https:' ? agent : undefined }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.setTimeout(15000, () => req.destroy(new Error(`timeout: ${method} ${target.origin}${target.pathname}`)));
    req.end(body);
  });
}

// MSAL's INetworkModule on node:https with an explicit CA. Mirrors msal-node's
// own HttpClient (fetch): the body must be JSON, headers lower-case. `seen`
// collects "METHOD path" of every call so tests can say what MSAL asked;
// `onPost(url, body)` lets a test look at a form MSAL sent (never printed).
export function msalNetworkClient(agent, seen = [], onPost = null) {
  async function send(url, method, options = {}) {
    const u = new URL(url);
    seen.push(`${method} ${u.pathname}`);
    if (method === 'POST' && onPost) onPost(url, new URLSearchParams(options.body || ''));
    const res = await request(url, { method, headers: options.headers || {}, body: method === 'POST' ? (options.body || '') : undefined, agent });
    const headers = {};
    for (const [k, v] of Object.entries(res.headers)) headers[k] = Array.isArray(v) ? v.join(', ') : v;
    // msal-node's HttpClient fails on a body that is not JSON: so do we.
    return { status: res.status, headers, body: JSON.parse(res.text) };
  }
  return {
    sendGetRequestAsync: (url, options) => send(url, 'GET', options),
    sendPostRequestAsync: (url, options) => send(url, 'POST', options),
  };
}

function decodeHtml(s) {
  return s.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&#x27;/g, "'").replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}

// The first <form> of a page: {method, action, fields}.
export function parseForm(html, base) {
  const form = /<form\b([^>]*)>([\s\S]*?)<\/form>/i.exec(html);
  if (!form) return null;
  const attr = (text, name) => {
    const m = new RegExp(`\\b${name}\\s*=\\s*("([^"]*)"|'([^']*)')`, 'i').exec(text);
    return m ? decodeHtml(m[2] ?? m[3]) : undefined;
  };
  const fields = {};
  for (const m of form[2].matchAll(/<input\b([^>]*)>/gi)) {
    const name = attr(m[1], 'name');
    if (name !== undefined && !/type\s*=\s*["']?(submit|button)/i.test(m[1])) fields[name] = attr(m[1], 'value') ?? '';
  }
  return {
    method: (attr(form[1], 'method') || 'GET').toUpperCase(),
    action: new URL(attr(form[1], 'action') || base, base).toString(),
    fields,
  };
}

// Cookies of one "browser": name -> {value, path}, per origin.
export class CookieJar {
  constructor() { this.byOrigin = new Map(); }

  store(url, setCookie) {
    const origin = new URL(url).origin;
    const jar = this.byOrigin.get(origin) || new Map();
    this.byOrigin.set(origin, jar);
    for (const line of [].concat(setCookie || [])) {
      const [pair, ...attrs] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const pathAttr = attrs.map((a) => a.trim()).find((a) => /^path=/i.test(a));
      const path = pathAttr ? pathAttr.slice(5) : '/';
      const expired = attrs.some((a) => /^expires=/i.test(a.trim()) && Date.parse(a.trim().slice(8)) < Date.now());
      const key = `${name};${path}`;
      if (expired || value === '') jar.delete(key); else jar.set(key, { name, value, path });
    }
  }

  header(url) {
    const u = new URL(url);
    const jar = this.byOrigin.get(u.origin);
    if (!jar) return undefined;
    const parts = [...jar.values()].filter((c) => u.pathname.startsWith(c.path)).map((c) => `${c.name}=${c.value}`);
    return parts.length ? parts.join('; ') : undefined;
  }
}

// A scriptable browser: GETs url, follows redirects, keeps cookies, and
// submits auto-posting forms (response_mode=form_post) the way a browser's
// onload script would. fill(form, html) answers the fields a person would
// type into another page's form (null: stop there). redirect(url) may
// change where a redirect goes (an attacker's tampering). Resolves the last
// response plus the list of requests made.
export async function browse(url, { agent, jar = new CookieJar(), fill, redirect = (u) => u, maxSteps = 12 } = {}) {
  let next = { url, method: 'GET' };
  const visited = [];
  for (let step = 0; step < maxSteps; step += 1) {
    visited.push(`${next.method} ${next.url}`);
    const headers = { accept: 'text/html' };
    const cookie = jar.header(next.url);
    if (cookie) headers.cookie = cookie;
    if (next.body !== undefined) headers['content-type'] = 'application/x-www-form-urlencoded';
    const res = await request(next.url, { method: next.method, headers, body: next.body, agent });
    jar.store(next.url, res.headers['set-cookie']);
    if ([301, 302, 303, 307].includes(res.status) && res.headers.location) {
      next = { url: redirect(new URL(res.headers.location, next.url).toString()), method: 'GET' };
      continue;
    }
    const html = res.status === 200 && /text\/html/.test(res.headers['content-type'] || '');
    const form = html ? parseForm(res.text, next.url) : null;
    const autoPost = form && /onload\s*=\s*["'][^"']*submit\(\)/i.test(res.text);
    const typed = form && !autoPost && fill ? fill(form, res.text) : null;
    if (autoPost || typed) {
      const body = new URLSearchParams({ ...form.fields, ...(typed || {}) }).toString();
      next = form.method === 'POST' ? { url: form.action, method: 'POST', body } : { url: `${form.action}?${body}`, method: 'GET' };
      continue;
    }
    return { ...res, visited };
  }
  throw new Error(`browser: more than ${maxSteps} steps`);
}
