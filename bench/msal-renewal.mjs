// The token path's peer for bench/signin.ps1: Microsoft's @azure/msal-node
// (the copy tests/peers installs) renewing a token for the same account, from
// the same emulator, as the helper does. Signs in once by device code (the
// emulator approves it), then answers one line a renewal on stdin:
//
//   silent   acquireTokenSilent({ forceRefresh: true }): a refresh_token grant
//   refresh  acquireTokenByRefreshToken with the refresh token in its cache
//   quit
//
// with the milliseconds that call took in this process, timed around the call
// (performance.now). No token is ever printed; MSAL's HTTP goes through
// node:https with keep-alive (as the helper keeps its connection), trusting
// only the emulator's throwaway CA.
//
//   node bench/msal-renewal.mjs <emulator url> <CA file>
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import https from 'node:https';
import { performance } from 'node:perf_hooks';
import { CLIENT_ID } from '../tests/emulator/harness.mjs';
import { msalNetworkClient } from '../tests/peers/net.mjs';

const require = createRequire(new URL('../tests/peers/package.json', import.meta.url));
const { PublicClientApplication, LogLevel } = await import(require.resolve('@azure/msal-node'));

const [url, caFile] = process.argv.slice(2);
const EXO = 'https://outlook.office365.com/.default';
const agent = new https.Agent({ ca: readFileSync(caFile), keepAlive: true });
const app = new PublicClientApplication({
  auth: { clientId: CLIENT_ID, authority: `${url}/organizations`, knownAuthorities: [new URL(url).host] },
  system: { networkClient: msalNetworkClient(agent), loggerOptions: { piiLoggingEnabled: false, logLevel: LogLevel.Error, loggerCallback: () => {} } },
});

await app.acquireTokenByDeviceCode({ scopes: [EXO], deviceCodeCallback: () => {}, timeout: 30 });
const [account] = await app.getTokenCache().getAllAccounts();

function refreshToken() {
  const cache = JSON.parse(app.getTokenCache().serialize());
  return Object.values(cache.RefreshToken)[0].secret;
}

// The refresh token is read from the cache before the clock starts: it
// rotates with every renewal.
const renew = {
  silent: () => () => app.acquireTokenSilent({ account, scopes: [EXO], forceRefresh: true }),
  refresh: () => { const token = refreshToken(); return () => app.acquireTokenByRefreshToken({ refreshToken: token, scopes: [EXO] }); },
};

console.log('ready');
for await (const line of createInterface({ input: process.stdin })) {
  const kind = line.trim();
  if (kind === 'quit') break;
  if (!renew[kind]) { console.log(`unknown ${kind}`); continue; }
  const call = renew[kind]();
  const start = performance.now();
  const result = await call();
  const ms = performance.now() - start;
  if (result.fromCache) { console.log('error: answered from the cache'); continue; }
  console.log(ms.toFixed(3));
}
agent.destroy();
