// Fault injection: each endpoint has a queue; a request to that endpoint
// takes the first fault that applies to it (if any) and misbehaves
// accordingly.
//   {"kind":"status","status":503,"retryAfter":2,"body":"text" | {...}}
//   {"kind":"malformed"}            200 with a truncated JSON body
//   {"kind":"reset"[, "afterObjects":N]} close the connection mid-answer
//   {"kind":"hang","ms":N}          wait N ms, then answer normally
// exchange also knows "transient", "throttle", "stall", "claims",
// "forbidden", "noRole", "expired" and "error" (exchange.mjs). Any fault may add
//   "page": P        only page P of a paged read (1 = the first request)
//   "cmdlet": "Get-Mailbox"   only requests of that cmdlet
//   "repeat": N      fires for N requests before leaving the queue
import { sendJson, sendText, sleepUnlessClosed } from './http.mjs';

// The plain-text answer Exchange gives when a tenant has too many requests
// in flight (reference §3).
export const THROTTLE_TEXT = 'You have reached the maximum number of concurrent requests per tenant. Please try again later.';

function applies(fault, request) {
  if (fault.page !== undefined && Number(fault.page) !== request.page) return false;
  if (fault.cmdlet !== undefined && String(fault.cmdlet).toLowerCase() !== String(request.cmdlet || '').toLowerCase()) {
    return false;
  }
  return true;
}

// request: {cmdlet, page} for Exchange; identity endpoints pass nothing, so
// only faults without targets apply there.
export function takeFault(state, endpoint, request = {}) {
  const queue = state.faults[endpoint];
  const index = queue.findIndex((f) => applies(f, request));
  if (index < 0) return null;
  const fault = queue[index];
  if (Number(fault.repeat) > 1) queue[index] = { ...fault, repeat: Number(fault.repeat) - 1 };
  else queue.splice(index, 1);
  state.stats.faultsFired += 1;
  return fault;
}

// A status fault's answer: the body given (text, or JSON when an object or
// JSON text), else `fallback` (a JSON value).
export function sendStatusFault(res, fault, fallback, headers = {}) {
  const status = Number(fault.status) || 503;
  const extra = { ...headers };
  if (fault.retryAfter !== undefined) extra['Retry-After'] = String(fault.retryAfter);
  if (fault.body === undefined) {
    sendJson(res, status, fallback, extra);
  } else if (typeof fault.body === 'object') {
    sendJson(res, status, fault.body, extra);
  } else {
    const text = String(fault.body);
    const looksJson = /^\s*[[{]/.test(text);
    if (looksJson) {
      extra['Content-Type'] = 'application/json; charset=utf-8';
    }
    sendText(res, status, text, extra);
  }
}

// Half of a JSON document, sent as a complete 200 answer.
export function sendMalformed(res, sampleBody) {
  const text = JSON.stringify(sampleBody);
  const cut = text.slice(0, Math.max(1, Math.floor(text.length / 2)));
  res.writeHead(200, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(cut) });
  res.end(cut);
}

// Promises to handle a fault for a simple JSON endpoint (identity side).
// Answers true when the fault produced the whole answer, false when the
// caller should go on and answer normally (hang, or no fault).
export async function applySimpleFault(fault, res, sample) {
  if (!fault) return false;
  switch (fault.kind) {
    case 'status':
      sendStatusFault(res, fault, { error: 'temporarily_unavailable', error_description: 'Injected fault.' });
      return true;
    case 'malformed':
      sendMalformed(res, sample);
      return true;
    case 'reset':
      res.socket?.destroy();
      return true;
    case 'hang':
      return !(await sleepUnlessClosed(res, Number(fault.ms) || 0));
    default:
      sendText(res, 500, `unknown fault kind '${fault.kind}'`);
      return true;
  }
}
