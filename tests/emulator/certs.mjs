// Makes the throwaway PKI with the openssl command line: a CA, a TLS server
// certificate for 127.0.0.1/localhost signed by it, the identity platform's
// token-signing key (self-signed, published in the JWKS with x5t/x5c), the
// key it rolls over to when a test asks (signing2-*), and an
// app certificate registered for the app-only (client assertion) grant.
// Files are reused when present and valid for at least another day.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync, chmodSync, rmSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { join } from 'node:path';

const DAY_MS = 24 * 3600 * 1000;

function openssl(args) {
  // stdio: keys are written to files, never through a pipe we print.
  execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

function stillValid(certFile) {
  try {
    const cert = new X509Certificate(readFileSync(certFile));
    return Date.parse(cert.validTo) - Date.now() > DAY_MS;
  } catch {
    return false;
  }
}

function haveAll(files) {
  return files.every((f) => existsSync(f));
}

function makeCa(dir, files) {
  openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-sha256', '-days', '30',
    '-keyout', files.caKey, '-out', files.ca,
    '-subj', '/CN=ExchangeMfa Emulator Test CA',
    '-addext', 'basicConstraints=critical,CA:TRUE',
    '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  chmodSync(files.caKey, 0o600);
}

function makeServerCert(dir, files) {
  const csr = join(dir, 'server.csr');
  const ext = join(dir, 'server.ext');
  writeFileSync(ext, [
    'basicConstraints=critical,CA:FALSE',
    'keyUsage=critical,digitalSignature,keyEncipherment',
    'extendedKeyUsage=serverAuth',
    'subjectAltName=IP:127.0.0.1,DNS:localhost',
    'subjectKeyIdentifier=hash',
    'authorityKeyIdentifier=keyid',
    '',
  ].join('\n'));
  openssl(['req', '-new', '-newkey', 'rsa:2048', '-nodes', '-sha256',
    '-keyout', files.serverKey, '-out', csr, '-subj', '/CN=localhost']);
  chmodSync(files.serverKey, 0o600);
  openssl(['x509', '-req', '-in', csr, '-CA', files.ca, '-CAkey', files.caKey,
    '-CAcreateserial', '-days', '29', '-sha256', '-extfile', ext, '-out', files.server]);
  rmSync(csr, { force: true });
  rmSync(ext, { force: true });
}

function makeSelfSigned(keyFile, certFile, subject) {
  openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-sha256', '-days', '30',
    '-keyout', keyFile, '-out', certFile, '-subj', subject]);
  chmodSync(keyFile, 0o600);
}

// Returns the file names and PEM contents. Makes whatever is missing.
export function ensureCerts(dir) {
  mkdirSync(dir, { recursive: true });
  const files = {
    ca: join(dir, 'ca.pem'),
    caKey: join(dir, 'ca-key.pem'),
    server: join(dir, 'server.pem'),
    serverKey: join(dir, 'server-key.pem'),
    signing: join(dir, 'signing-cert.pem'),
    signingKey: join(dir, 'signing-key.pem'),
    signing2: join(dir, 'signing2-cert.pem'),
    signing2Key: join(dir, 'signing2-key.pem'),
    app: join(dir, 'app-cert.pem'),
    appKey: join(dir, 'app-key.pem'),
  };
  if (!haveAll([files.ca, files.caKey]) || !stillValid(files.ca)) {
    makeCa(dir, files);
    makeServerCert(dir, files);
  } else if (!haveAll([files.server, files.serverKey]) || !stillValid(files.server)) {
    makeServerCert(dir, files);
  }
  if (!haveAll([files.signing, files.signingKey]) || !stillValid(files.signing)) {
    makeSelfSigned(files.signingKey, files.signing, '/CN=accounts.emulator.test');
  }
  if (!haveAll([files.signing2, files.signing2Key]) || !stillValid(files.signing2)) {
    makeSelfSigned(files.signing2Key, files.signing2, '/CN=accounts-next.emulator.test');
  }
  if (!haveAll([files.app, files.appKey]) || !stillValid(files.app)) {
    makeSelfSigned(files.appKey, files.app, '/CN=ExchangeMfa Emulator App');
  }
  const read = (f) => readFileSync(f, 'utf8');
  return {
    files,
    serverKey: read(files.serverKey),
    serverCert: read(files.server),
    signingKey: read(files.signingKey),
    signingCert: read(files.signing),
    signing2Key: read(files.signing2Key),
    signing2Cert: read(files.signing2),
    appCert: read(files.app),
  };
}
