// JWTs with node:crypto only: RS256 signing, RS256/PS256 verification, and
// the JWKS that publishes the signing key the way Microsoft does
// (kid = x5t = base64url SHA-1 thumbprint, n, e, x5c).
import { createPrivateKey, createPublicKey, createHash, sign, verify, constants, X509Certificate } from 'node:crypto';

export function b64url(data) {
  return Buffer.from(data).toString('base64url');
}

export function b64urlJson(value) {
  return b64url(JSON.stringify(value));
}

// Thumbprints of a certificate's DER bytes, as JOSE wants them.
export function thumbprints(cert) {
  return {
    x5t: b64url(createHash('sha1').update(cert.raw).digest()),
    x5tS256: b64url(createHash('sha256').update(cert.raw).digest()),
  };
}

export class Signer {
  constructor(keyPem, certPem) {
    this.privateKey = createPrivateKey(keyPem);
    this.cert = new X509Certificate(certPem);
    this.publicKey = this.cert.publicKey;
    this.kid = thumbprints(this.cert).x5t;
    const jwk = this.publicKey.export({ format: 'jwk' });
    this.n = jwk.n;
    this.e = jwk.e;
    this.x5c = this.cert.raw.toString('base64');
  }

  // RS256 compact JWS; the header carries typ, alg, x5t and kid like AAD's.
  sign(claims, extraHeader = {}) {
    const header = { typ: 'JWT', alg: 'RS256', x5t: this.kid, kid: this.kid, ...extraHeader };
    const input = `${b64urlJson(header)}.${b64urlJson(claims)}`;
    const signature = sign('sha256', Buffer.from(input), this.privateKey);
    return `${input}.${b64url(signature)}`;
  }

  jwk(issuer) {
    return { kty: 'RSA', use: 'sig', kid: this.kid, x5t: this.kid, n: this.n, e: this.e, x5c: [this.x5c], issuer };
  }
}

// Splits a compact JWS. Answers null when it is not three base64url parts
// with JSON header and payload.
export function decodeJwt(token) {
  if (typeof token !== 'string') return null;
  const parts = token.split('.');
  if (parts.length !== 3 || parts.some((p) => !/^[A-Za-z0-9_-]*$/.test(p))) return null;
  try {
    const header = JSON.parse(Buffer.from(parts[0], 'base64url').toString('utf8'));
    const payload = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
    if (typeof header !== 'object' || typeof payload !== 'object' || !header || !payload) return null;
    return {
      header,
      payload,
      signingInput: `${parts[0]}.${parts[1]}`,
      signature: Buffer.from(parts[2], 'base64url'),
    };
  } catch {
    return null;
  }
}

// Verifies an RS256 or PS256 signature of a decoded JWT against a public key
// (KeyObject or PEM). Any other alg fails.
export function verifySignature(decoded, publicKey) {
  const key = typeof publicKey === 'string' ? createPublicKey(publicKey) : publicKey;
  const data = Buffer.from(decoded.signingInput);
  if (decoded.header.alg === 'RS256') {
    return verify('sha256', data, key, decoded.signature);
  }
  if (decoded.header.alg === 'PS256') {
    return verify('sha256', data, {
      key,
      padding: constants.RSA_PKCS1_PSS_PADDING,
      saltLength: constants.RSA_PSS_SALTLEN_DIGEST,
    }, decoded.signature);
  }
  return false;
}
