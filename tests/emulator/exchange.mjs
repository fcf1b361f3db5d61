// POST /adminapi/beta/{tenant}/InvokeCommand: bearer check, tenant check
// (with partner delegation), throttling, faults, cmdlet dispatch on the
// tenant's store, and OData paging written as a stream.
import { createGzip, constants as zlibConstants } from 'node:zlib';
import { findTenant, TENANTS } from './directory.mjs';
import { checkBearer, challengeHeaders, claimsChallengeHeaders } from './bearer.mjs';
import { EXO, sendExchangeError, exchangeHeaders, exchangeErrorBody } from './exchange-errors.mjs';
import { CMDLETS, bindParameters, isStateChanging } from './cmdlets.mjs';
import { storeFor } from './tenant-store.mjs';
import { takeFault, sendStatusFault, THROTTLE_TEXT } from './faults.mjs';
import { readBody, parseJson, sendText, sleepUnlessClosed, writeChunk } from './http.mjs';
import { withDataTypes } from './values.mjs';

// How long a nextLink is honoured (the service's 00:30:00); config
// paginationExpiryMs shortens it for tests.
const PAGINATION_EXPIRY_MS = 30 * 60 * 1000;

const PATH = /^\/adminapi\/(beta|v1\.0)\/([^/]+)\/InvokeCommand$/i;
const MAX_PAGE = 1000;
// Objects per res.write: small enough that a reader sees many split reads.
const CHUNK_OBJECTS = 25;
const WARNING_MORE = 'There are more results available than are currently displayed. To view them, '
  + 'increase the value for the ResultSize parameter.';

// Partner (CSP) relationships: these admins of the partner tenant may name
// a customer tenant in the URL (Connect-ExchangeOnline -DelegatedOrganization).
const [CONTOSO, FABRIKAM] = TENANTS;
const PARTNERS = [
  { partner: CONTOSO.id, customer: FABRIKAM.id, admins: ['admin@contoso.onmicrosoft.com'] },
];

function mayManage(auth, tenant) {
  if (tenant.id === auth.tenant.id) return true;
  const upn = String(auth.claims.upn || '').toLowerCase();
  return auth.claims.idtyp !== 'app' && PARTNERS.some((p) => p.partner === auth.tenant.id
    && p.customer === tenant.id && p.admins.includes(upn));
}

// Counts what reached the endpoint: per cmdlet, state-changing cmdlets
// (the -WhatIf tests expect none), and the tenant named in the URL.
function countRequest(emu, cmdletName, urlTenant) {
  const { stats } = emu;
  const name = CMDLETS.get(cmdletName.toLowerCase())?.name || cmdletName;
  stats.cmdletRequests[name] = (stats.cmdletRequests[name] || 0) + 1;
  if (isStateChanging(name)) stats.stateChangingRequests += 1;
  const tenant = urlTenant.toLowerCase();
  stats.urlTenants[tenant] = (stats.urlTenants[tenant] || 0) + 1;
}

// The config's exchangeThrottle ({maxConcurrent, maxPerSecond, retryAfter}):
// answers true (and a plain-text 429) when this request is over a limit.
// Limits are per tenant, as Exchange's are.
function throttled(emu, req, res, tenant) {
  const limits = emu.config.exchangeThrottle;
  if (!limits) return false;
  let load = emu.exchangeLoad.get(tenant.id);
  if (!load) {
    load = { inFlight: 0, second: 0, count: 0 };
    emu.exchangeLoad.set(tenant.id, load);
  }
  const second = Math.floor(Date.now() / 1000);
  if (load.second !== second) {
    load.second = second;
    load.count = 0;
  }
  const over = (limits.maxConcurrent && load.inFlight >= limits.maxConcurrent)
    || (limits.maxPerSecond && load.count >= limits.maxPerSecond);
  if (over) {
    emu.stats.throttled += 1;
    const headers = { ...exchangeHeaders(req), 'Retry-After': String(limits.retryAfter ?? 1) };
    sendText(res, 429, THROTTLE_TEXT, headers);
    return true;
  }
  load.inFlight += 1;
  load.count += 1;
  res.once('close', () => { load.inFlight -= 1; });
  return false;
}

// The config's exchangeRateLimit ({budget, windowSeconds}): each request
// spends one of the tenant's budget for the window. Every answer says what
// is left (Rate-Limit-Remaining) and when the window ends (Rate-Limit-Reset,
// seconds); over the budget: a 429 with Retry-After until then. Answers
// true when it refused the request.
function overRateLimit(emu, req, res, tenant) {
  const limits = emu.config.exchangeRateLimit;
  if (!limits) return false;
  const now = Date.now();
  let spent = emu.rateLimits.get(tenant.id);
  if (!spent || now - spent.windowStart >= limits.windowSeconds * 1000) {
    spent = { windowStart: now, used: 0 };
    emu.rateLimits.set(tenant.id, spent);
  }
  const reset = String(Math.max(1, Math.ceil((spent.windowStart + limits.windowSeconds * 1000 - now) / 1000)));
  if (spent.used >= limits.budget) {
    emu.stats.throttled += 1;
    const headers = { ...exchangeHeaders(req), 'Retry-After': reset, 'Rate-Limit-Remaining': '0', 'Rate-Limit-Reset': reset };
    sendText(res, 429, THROTTLE_TEXT, headers);
    return true;
  }
  spent.used += 1;
  // Set now, sent with whatever answer follows.
  res.setHeader('Rate-Limit-Remaining', String(limits.budget - spent.used));
  res.setHeader('Rate-Limit-Reset', reset);
  return false;
}

// Counts the requests being answered (refused by a throttle check too:
// what the client sends at once) and the most at once.
function trackInFlight(emu, res) {
  emu.exchangeInFlight += 1;
  if (emu.exchangeInFlight > emu.stats.exchangeMaxInFlight) emu.stats.exchangeMaxInFlight = emu.exchangeInFlight;
  res.once('close', () => { emu.exchangeInFlight -= 1; });
}

function answerDelay(config) {
  return config.pageDelayMs + (config.pageDelayJitterMs ? Math.floor(Math.random() * (config.pageDelayJitterMs + 1)) : 0);
}

// Answers true when it handled the request.
export async function handleExchange(emu, req, res, url) {
  const match = PATH.exec(url.pathname);
  if (!match) return false;
  emu.stats.exchangeRequests += 1;
  const body = await readBody(req);
  if (req.method !== 'POST') {
    sendExchangeError(req, res, EXO.methodNotAllowed(), { Allow: 'POST' });
    return true;
  }
  const urlTenant = decodeURIComponent(match[2]);
  const input = parseJson(body)?.CmdletInput;
  const cmdletName = input?.CmdletName;
  if (typeof cmdletName === 'string') countRequest(emu, cmdletName, urlTenant);
  const auth = checkBearer(emu, req.headers.authorization);
  if (auth.reason) {
    unauthorized(emu, res, challengeHeaders(emu, auth.reason));
    return true;
  }
  const tenant = findTenant(urlTenant);
  if (!tenant) {
    sendExchangeError(req, res, EXO.tenantNotFound(urlTenant));
    return true;
  }
  if (!mayManage(auth, tenant)) {
    sendExchangeError(req, res, EXO.tenantMismatch(auth.claims.tid, urlTenant));
    return true;
  }
  if (typeof cmdletName !== 'string' || (input.Parameters !== undefined && typeof input.Parameters !== 'object')) {
    sendExchangeError(req, res, EXO.badRequest('The request body must be {"CmdletInput":{"CmdletName":...,"Parameters":{...}}}.'));
    return true;
  }
  trackInFlight(emu, res);
  if (throttled(emu, req, res, tenant) || overRateLimit(emu, req, res, tenant)) return true;
  const token = readSkipToken(url);
  const fault = takeFault(emu, 'exchange', { cmdlet: cmdletName, page: token?.page ?? 1 });
  if (fault && await answerFault(emu, req, res, fault, cmdletName)) return true;
  if (!(await sleepUnlessClosed(res, answerDelay(emu.config)))) return true;
  const cmdlet = CMDLETS.get(cmdletName.toLowerCase());
  // Security & Compliance-only cmdlets do not exist on this endpoint.
  if (!cmdlet || !cmdlet.products.includes('ExchangeOnline')) {
    sendExchangeError(req, res, EXO.commandNotFound(cmdletName));
    return true;
  }
  const binding = bindParameters(cmdlet, input.Parameters);
  if (binding.error) {
    sendExchangeError(req, res, binding.error);
    return true;
  }
  const ctx = { store: storeFor(emu, tenant), tenant, firstPage: !url.searchParams.has('$skiptoken') };
  if (cmdlet.changesState) {
    const run = `${cmdlet.name} ${binding.bound.Identity ?? ''}`.trim();
    emu.stats.stateChangingRuns[run] = (emu.stats.stateChangingRuns[run] || 0) + 1;
  }
  const result = cmdlet.run(ctx, binding.bound);
  if (result.error) {
    sendExchangeError(req, res, result.error);
    return true;
  }
  if (token && linkExpired(emu, req, token)) {
    sendExchangeError(req, res, EXO.paginationExpired());
    return true;
  }
  const page = result.listing ? listingPage(req, url, result, token) : { objects: result.objects };
  if (page.error) {
    sendExchangeError(req, res, page.error);
    return true;
  }
  if (result.warnings) page.warnings = [...result.warnings, ...(page.warnings || [])];
  const context = `${emu.baseUrl}/adminapi/${match[1]}/${encodeURIComponent(urlTenant)}/$metadata#Collection(Exchange.GenericHashTable)`;
  const select = parseSelect(url);
  if (emu.config.fastPages && !fault && result.listing) {
    // Same listing (the call without its ResultSize), same objects: the
    // same text, serialized once.
    const filters = { ...input.Parameters };
    delete filters.ResultSize;
    const key = [urlTenant, cmdlet.name, JSON.stringify(filters), url.searchParams.get('$select'),
      page.indexes[0], page.indexes.length].join('|');
    await writeCachedPage(emu, req, res, { ...page, context, select }, key);
    return true;
  }
  await writePage(emu, req, res, { ...page, context, select, fault });
  return true;
}

// config fastPages (benchmarks): a page answered at once from text made
// when it was first asked for, in one write, never compressed, so clients
// are measured rather than the emulator. Objects changed since are not
// seen; a new nextLink is made every time as usual.
async function writeCachedPage(emu, req, res, page, key) {
  let values = emu.fastPages.get(key);
  if (values === undefined) {
    values = [...objectsOf(page)].map((o) => withDataTypes(JSON.stringify(project(o, page.select)))).join(',');
    emu.fastPages.set(key, values);
  }
  const headers = {
    ...exchangeHeaders(req),
    'Content-Type': 'application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8',
    'OData-Version': '4.0',
    'Preference-Applied': `odata.maxpagesize=${page.pageSize}`,
  };
  let text = `{"@odata.context":${JSON.stringify(page.context)},"value":[${values}]`;
  if (page.nextLink) text += `,"@odata.nextLink":${JSON.stringify(page.nextLink)}`;
  text += `,"adminapi.warnings@odata.type":"#Collection(String)","@adminapi.warnings":${JSON.stringify(page.warnings || [])}}`;
  countBytesSent(emu, res);
  res.writeHead(200, headers);
  res.end(text);
  emu.stats.pagesServed += 1;
  emu.stats.objectsServed += page.indexes.length;
}

function unauthorized(emu, res, headers) {
  emu.stats.unauthorized += 1;
  res.writeHead(401, { ...headers, 'Content-Length': 0 });
  res.end();
}

// Faults that replace the answer. Answers true when the answer was sent;
// malformed, reset and stall are left to writePage.
async function answerFault(emu, req, res, fault, cmdletName) {
  switch (fault.kind) {
    case 'status': {
      const status = Number(fault.status) || 503;
      const fallback = exchangeErrorBody(status === 429 ? EXO.throttled() : EXO.unavailable(status));
      sendStatusFault(res, { ...fault, status }, fallback, exchangeHeaders(req));
      return true;
    }
    case 'transient':
      sendExchangeError(req, res, EXO.transient(fault.exception || 'ServerInMMException'),
        fault.retryAfter === undefined ? {} : { 'Retry-After': String(fault.retryAfter) });
      return true;
    case 'throttle': {
      const headers = exchangeHeaders(req);
      if (fault.retryAfter !== undefined) headers['Retry-After'] = String(fault.retryAfter);
      sendText(res, Number(fault.status) || 429, THROTTLE_TEXT, headers);
      return true;
    }
    case 'claims':
      unauthorized(emu, res, claimsChallengeHeaders(emu));
      return true;
    case 'forbidden':
      sendExchangeError(req, res, EXO.forbidden(cmdletName));
      return true;
    case 'noRole':
      // A missing RBAC role as the real service reports it: 403, not JSON.
      sendText(res, 403, '\0'.repeat(Number(fault.nulBytes ?? 4)), exchangeHeaders(req));
      return true;
    case 'expired':
      sendExchangeError(req, res, EXO.paginationExpired());
      return true;
    case 'error':
      // {status, type, message, shape, header}: an error body of a chosen shape.
      sendExchangeError(req, res, {
        status: Number(fault.status) || 400, code: 'BadRequest', id: fault.id ?? '',
        type: String(fault.type), message: String(fault.message), shape: fault.shape,
      }, fault.header === false ? { 'x-ExceptionType': undefined } : {});
      return true;
    case 'hang':
      // No ms: until the client gives up (at most 10 minutes).
      return !(await sleepUnlessClosed(res, fault.ms === undefined ? 600000 : Number(fault.ms) || 0));
    case 'malformed':
    case 'reset':
    case 'stall':
      return false;
    default:
      sendText(res, 500, `unknown fault kind '${fault.kind}'`);
      return true;
  }
}

// "Prefer: odata.maxpagesize=N" (among other preferences), capped at 1000.
function pageSizeFrom(req) {
  const m = /(?:^|[,;\s])odata\.maxpagesize\s*=\s*(\d+)/i.exec(req.headers.prefer || '');
  const n = m ? Number(m[1]) : MAX_PAGE;
  return Math.min(Math.max(n, 1), MAX_PAGE);
}

// $skiptoken: where the next page starts (index), how many objects were
// already returned (for ResultSize) and the page number (for faults aimed
// at a page). Opaque base64url JSON to clients.
// It also carries when the call began and its affinity (connection-id,
// client-request-id, X-AnchorMailbox): a link used later than the expiry,
// or with other headers, is refused like the service refuses it.
function readSkipToken(url) {
  const text = url.searchParams.get('$skiptoken');
  if (text === null) return { position: 1, returned: 0, page: 1 };
  const value = parseJson(Buffer.from(text, 'base64url').toString('utf8'));
  if (!value || !Number.isInteger(value.p) || !Number.isInteger(value.n) || value.p < 1 || value.n < 0) return null;
  return { position: value.p, returned: value.n, page: Number.isInteger(value.q) ? value.q : 2, at: value.t, affinity: value.a };
}

function affinityOf(req) {
  return [req.headers['connection-id'], req.headers['client-request-id'], req.headers['x-anchormailbox']]
    .map((h) => String(h ?? '').toLowerCase()).join('|');
}

function nextLinkFor(req, url, token, position, returned) {
  const next = new URL(url.href);
  const state = { p: position, n: returned, q: token.page + 1, t: token.at ?? Date.now(), a: token.affinity ?? affinityOf(req) };
  next.searchParams.set('$skiptoken', Buffer.from(JSON.stringify(state)).toString('base64url'));
  return next.href;
}

function linkExpired(emu, req, token) {
  if (token.at === undefined) return false;
  const expiry = emu.config.paginationExpiryMs ?? PAGINATION_EXPIRY_MS;
  return Date.now() - token.at > expiry || (token.affinity !== undefined && token.affinity !== affinityOf(req));
}

function parseSelect(url) {
  const text = url.searchParams.get('$select');
  if (!text) return null;
  // lower-case name -> the name as asked
  return new Map(text.split(',').map((p) => p.trim()).filter(Boolean).map((p) => [p.toLowerCase(), p]));
}

// Keeps selected properties and their annotations; a selected property the
// object lacks is null, as the service lists every selected property.
function project(object, select) {
  if (!select) return object;
  const out = {};
  const present = new Set();
  for (const [key, value] of Object.entries(object)) {
    const prop = key.split('@')[0].toLowerCase();
    if (select.has(prop)) {
      out[key] = value;
      present.add(prop);
    }
  }
  for (const [lower, name] of select) if (!present.has(lower)) out[name] = null;
  return out;
}

// Plans one page of a listing: which indexes, then nextLink or a warning.
// The objects themselves are made while writing.
function listingPage(req, url, { listing, resultSize }, token) {
  if (!token) return { error: EXO.badRequest('The $skiptoken is not valid.') };
  const pageSize = pageSizeFrom(req);
  const take = Math.min(pageSize, resultSize - token.returned);
  let position = token.position;
  const indexes = [];
  while (indexes.length < take && position <= listing.count) {
    if (listing.matches(position)) indexes.push(position);
    position += 1;
  }
  while (position <= listing.count && !listing.matches(position)) position += 1;
  const more = position <= listing.count;
  const returned = token.returned + indexes.length;
  const page = { indexes, at: listing.at, pageSize };
  if (more && returned < resultSize) page.nextLink = nextLinkFor(req, url, token, position, returned);
  if (more && returned >= resultSize) page.warnings = [WARNING_MORE];
  return page;
}

function* objectsOf(page) {
  if (page.objects) {
    yield* page.objects;
    return;
  }
  for (const index of page.indexes) yield page.at(index);
}

// Writes {"@odata.context","value":[...],"@odata.nextLink","@adminapi.warnings"}
// a few objects per write; gzip when asked. Faults "malformed" (cut the
// JSON short but end the answer), "reset" (drop the connection after N
// objects) and "stall" (pause ms after N objects) act here.
async function writePage(emu, req, res, page) {
  const headers = {
    ...exchangeHeaders(req),
    'Content-Type': 'application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8',
    'OData-Version': '4.0',
  };
  if (page.pageSize) headers['Preference-Applied'] = `odata.maxpagesize=${page.pageSize}`;
  const gzip = /\bgzip\b/i.test(req.headers['accept-encoding'] || '');
  if (gzip) {
    headers['Content-Encoding'] = 'gzip';
    headers.Vary = 'Accept-Encoding';
  }
  countBytesSent(emu, res);
  res.writeHead(200, headers);
  const out = gzip ? createGzip({ level: 1, flush: zlibConstants.Z_SYNC_FLUSH }) : res;
  if (gzip) out.pipe(res);
  const fault = page.fault && ['malformed', 'reset'].includes(page.fault.kind) ? page.fault : null;
  const cutAt = fault?.kind === 'reset' ? Number(fault.afterObjects) || 0 : fault ? 2 : Infinity;
  const stall = page.fault?.kind === 'stall' ? page.fault : null;
  const stallAt = stall ? Number(stall.afterObjects) || 0 : -1;

  await writeChunk(out, `{"@odata.context":${JSON.stringify(page.context)},"value":[`);
  let batch = [];
  let sent = 0;
  const flush = async () => {
    if (batch.length === 0) return;
    await writeChunk(out, (sent > 0 ? ',' : '') + batch.join(','));
    sent += batch.length;
    batch = [];
  };
  for (const object of objectsOf(page)) {
    if (sent + batch.length === cutAt) break;
    if (sent + batch.length === stallAt) {
      await flush();
      if (gzip) await new Promise((resolve) => out.flush(resolve));
      if (!(await sleepUnlessClosed(res, Number(stall.ms) || 0))) return;
    }
    batch.push(withDataTypes(JSON.stringify(project(object, page.select))));
    if (batch.length === CHUNK_OBJECTS) {
      await flush();
      if (res.destroyed) return;
    }
  }
  await flush();
  if (fault?.kind === 'reset') {
    await dropConnection(out, res, gzip);
    return;
  }
  if (fault?.kind === 'malformed') {
    out.end(`${sent > 0 ? ',' : ''}{"Name":"trunc`);
    return;
  }
  let tail = ']';
  if (page.nextLink) tail += `,"@odata.nextLink":${JSON.stringify(page.nextLink)}`;
  // As the service: the warnings follow `value`, typed, present even when empty.
  tail += `,"adminapi.warnings@odata.type":"#Collection(String)","@adminapi.warnings":${JSON.stringify(page.warnings || [])}`;
  out.end(`${tail}}`);
  emu.stats.pagesServed += 1;
  emu.stats.objectsServed += sent;
  if (gzip) emu.stats.pagesServedGzip += 1;
}

// stats.pageBytesSent: what the socket counts (HTTP bytes before TLS) from
// the answer's status line to its last byte.
function countBytesSent(emu, res) {
  const { socket } = res;
  if (!socket) return;   // the client is gone already
  const before = socket.bytesWritten;
  res.once('finish', () => { emu.stats.pageBytesSent += socket.bytesWritten - before; });
}

// Sends what was written so far, then closes the socket without ending the
// chunked body: the client sees a connection reset mid-answer.
async function dropConnection(out, res, gzip) {
  if (gzip) await new Promise((resolve) => out.flush(resolve));
  // Let the bytes already written reach the client before the cut.
  setTimeout(() => res.socket?.destroy(), 50);
}
