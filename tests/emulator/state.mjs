// Run-time state: settings changeable through /_emulator/config, counters
// for /_emulator/stats, and the fault queues.

export const FAULT_ENDPOINTS = ['exchange', 'token', 'devicecode', 'discovery', 'keys', 'managedidentity'];
const CONFIG_KEYS = ['tokenLifetime', 'deviceInterval', 'deviceExpires', 'autoApprove',
  'autoApproveDelayMs', 'pageDelayMs', 'pageDelayJitterMs', 'refreshTokenLifetime', 'signingKeyRollover'];

export function initialConfig(options) {
  return {
    tokenLifetime: options.tokenLifetime,
    deviceInterval: options.deviceInterval,
    deviceExpires: options.deviceExpires,
    autoApprove: options.autoApprove,
    autoApproveDelayMs: options.autoApproveDelayMs,
    pageDelayMs: 0,
    // A random 0..pageDelayJitterMs more per answer: answers overtake
    // each other (pipelines with requests in flight).
    pageDelayJitterMs: 0,
    refreshTokenLifetime: 90 * 24 * 3600,
    // false: sign with signing-key.pem and publish only it; true: the JWKS
    // also publishes signing2 and new tokens are signed with it.
    signingKeyRollover: false,
    // Exchange throttling: null, or {maxConcurrent, maxPerSecond, retryAfter}
    // per tenant; over a limit answers 429 in plain text (exchange.mjs).
    exchangeThrottle: null,
    // Exchange's rate-limit budget: null, or {budget, windowSeconds} per
    // tenant; answers carry Rate-Limit-Remaining and Rate-Limit-Reset, and
    // a request over the budget is a 429 until the window ends.
    exchangeRateLimit: null,
    // How long a nextLink is honoured; null: the service's 30 minutes.
    paginationExpiryMs: null,
    // Benchmarks: listings answered at once from pages serialized when first
    // asked for (exchange.mjs writeCachedPage).
    fastPages: false,
  };
}

export function emptyFaults() {
  return Object.fromEntries(FAULT_ENDPOINTS.map((e) => [e, []]));
}

export function emptyStats() {
  return {
    tokenRequests: {},
    tokenRequestsWithClaims: 0,
    devicecodeRequests: 0,
    refreshTokensRedeemed: 0,
    discoveryRequests: 0,
    keysRequests: 0,
    authorizeRequests: 0,
    exchangeRequests: 0,
    pagesServed: 0,
    objectsServed: 0,
    // Of those pages: how many went gzip-encoded, and their HTTP bytes as
    // written to the connection (status line, headers, chunked framing and
    // body after any gzip; before TLS).
    pagesServedGzip: 0,
    pageBytesSent: 0,
    unauthorized: 0,
    faultsFired: 0,
    // Exchange: requests per cmdlet, requests of state-changing cmdlets,
    // requests per tenant named in the URL, 429s of exchangeThrottle.
    cmdletRequests: {},
    stateChangingRequests: 0,
    urlTenants: {},
    throttled: 0,
    // Exchange requests of a known tenant being answered at once, throttled
    // ones too (what clients send at once): the most seen
    // (exchangeInFlight, the current count, is added by /_emulator/stats).
    exchangeMaxInFlight: 0,
    // State-changing cmdlets run (past every check): "Cmdlet Identity" -> times.
    stateChangingRuns: {},
  };
}

// Applies a /_emulator/config body. Answers an error text or null.
// `faults` replaces the queue of each endpoint it names.
export function applyConfig(state, body) {
  if (!body || typeof body !== 'object' || Array.isArray(body)) return 'body must be a JSON object';
  for (const [key, value] of Object.entries(body)) {
    if (key === 'faults') {
      if (!value || typeof value !== 'object') return 'faults must be an object';
      for (const [endpoint, queue] of Object.entries(value)) {
        if (!FAULT_ENDPOINTS.includes(endpoint)) return `unknown fault endpoint '${endpoint}'`;
        if (!Array.isArray(queue) || queue.some((f) => !f || typeof f.kind !== 'string')) {
          return `faults.${endpoint} must be an array of {kind,...}`;
        }
      }
      for (const [endpoint, queue] of Object.entries(value)) state.faults[endpoint] = queue.map((f) => ({ ...f }));
    } else if (key === 'autoApprove') {
      if (value !== null && typeof value !== 'string') return 'autoApprove must be a UPN or null';
      state.config[key] = value;
    } else if (key === 'exchangeThrottle') {
      const limits = ['maxConcurrent', 'maxPerSecond', 'retryAfter'];
      const valid = value === null || (typeof value === 'object' && !Array.isArray(value)
        && Object.entries(value).every(([k, v]) => limits.includes(k) && Number.isFinite(v) && v >= 0));
      if (!valid) return 'exchangeThrottle must be null or {maxConcurrent, maxPerSecond, retryAfter} (numbers)';
      state.config[key] = value;
    } else if (key === 'exchangeRateLimit') {
      const valid = value === null || (typeof value === 'object' && !Array.isArray(value)
        && Number.isInteger(value.budget) && value.budget >= 0
        && Number.isFinite(value.windowSeconds) && value.windowSeconds > 0
        && Object.keys(value).every((k) => k === 'budget' || k === 'windowSeconds'));
      if (!valid) return 'exchangeRateLimit must be null or {budget, windowSeconds} (budget an integer >= 0, windowSeconds > 0)';
      state.config[key] = value;
    } else if (key === 'paginationExpiryMs') {
      // null: the service's 30 minutes (exchange.mjs).
      if (value !== null && !(Number.isFinite(value) && value >= 0)) return 'paginationExpiryMs must be a number >= 0 or null';
      state.config[key] = value;
    } else if (key === 'signingKeyRollover' || key === 'fastPages') {
      if (typeof value !== 'boolean') return `${key} must be true or false`;
      state.config[key] = value;
    } else if (CONFIG_KEYS.includes(key)) {
      if (!(Number.isFinite(value) && value >= 0)) return `${key} must be a number >= 0`;
      state.config[key] = value;
    } else {
      return `unknown setting '${key}'`;
    }
  }
  return null;
}
