// Small HTTP helpers shared by the identity, Exchange and control routes.
import { randomUUID } from 'node:crypto';

// Bodies larger than this are refused: every legitimate request is tiny.
const MAX_BODY = 1024 * 1024;

export class BodyTooLarge extends Error {}

// Resolves with the whole request body as a string (UTF-8).
export function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (chunk) => {
      size += chunk.length;
      if (size > MAX_BODY) {
        reject(new BodyTooLarge('request body too large'));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

// application/x-www-form-urlencoded -> plain object (last value wins).
export function parseForm(text) {
  return Object.fromEntries(new URLSearchParams(text));
}

// JSON.parse that answers undefined instead of throwing.
export function parseJson(text) {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

export function sendJson(res, status, body, headers = {}) {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

export function sendText(res, status, text, headers = {}) {
  res.writeHead(status, {
    'Content-Type': 'text/plain; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

export function sendHtml(res, status, html) {
  res.writeHead(status, {
    'Content-Type': 'text/html; charset=utf-8',
    'Content-Length': Buffer.byteLength(html),
    'Cache-Control': 'no-store',
  });
  res.end(html);
}

// The correlation id Microsoft echoes: the caller's client-request-id when it
// sent one, otherwise a new GUID.
export function correlationId(req) {
  const sent = req.headers['client-request-id'];
  return typeof sent === 'string' && /^[0-9a-fA-F-]{36}$/.test(sent) ? sent : randomUUID();
}

export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// Waits ms, but returns early (false) when the client went away meanwhile.
export function sleepUnlessClosed(res, ms) {
  if (ms <= 0) return Promise.resolve(true);
  return new Promise((resolve) => {
    const onClose = () => { clearTimeout(timer); resolve(false); };
    const timer = setTimeout(() => { res.off('close', onClose); resolve(true); }, ms);
    res.once('close', onClose);
  });
}

// res.write that waits for 'drain' when the socket buffer is full, so a slow
// reader slows the writer instead of filling memory.
export function writeChunk(stream, chunk) {
  if (stream.write(chunk)) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => { stream.off('drain', done); stream.off('close', done); resolve(); };
    stream.once('drain', done);
    stream.once('close', done);
  });
}

export function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
