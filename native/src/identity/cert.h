/* cert.h - client certificates for app-only sign-in: an X.509 certificate
 * with its RSA private key, from PEM or PFX (PKCS#12) files, in-memory PEM
 * or PFX bytes, or a SHA-1 thumbprint looked up in the certificate folder.
 *
 * Passwords and key bytes are borrowed and never copied; the caller wipes
 * them. No message quotes a password or key material.
 */
#ifndef EM_CERT_H
#define EM_CERT_H

#include <stddef.h>
#include <time.h>
#include <openssl/evp.h>
#include "util/error.h"

typedef struct em_cert em_cert;

/* Files of at most this size are read (PEM or PFX). */
#define EM_CERT_MAX_FILE (1024 * 1024)

/* Loads a certificate file, PEM or PFX by content. PEM: the first
 * certificate of cert_path and the private key from key_path, or from
 * cert_path when key_path is NULL; an encrypted PEM key needs password.
 * PFX: password may be NULL or "" for an unprotected file; key_path must be
 * NULL. The key must be RSA and match the certificate. Errors: EM_ENOTFOUND
 * (no file), EM_EAUTH (wrong password), EM_EINVAL (not a certificate, no
 * key, key of another certificate, not RSA). Caller frees with em_cert_free. */
int em_cert_load_file(em_cert **out, const char *cert_path, const char *key_path,
                      const char *password, em_error *err);

/* The same from memory: PEM text (certificate and key) or PFX bytes. */
int em_cert_load_pem(em_cert **out, const char *pem, size_t len, const char *password, em_error *err);
int em_cert_load_pfx(em_cert **out, const unsigned char *der, size_t len, const char *password,
                     em_error *err);

/* PFX bytes given as base64 (standard or URL alphabet, padding optional):
 * how the module sends an X509Certificate2 with its key over the pipe. */
int em_cert_load_pfx_base64(em_cert **out, const char *base64, const char *password, em_error *err);

/* The certificate folder: $EXCHANGEMFA_CERTIFICATE_DIR, else
 * ${XDG_CONFIG_HOME:-$HOME/.config}/exchangemfa/certificates. Caller frees. */
int em_cert_default_folder(char **out, em_error *err);

/* Finds the *.pem or *.pfx file of folder (NULL: the default one) whose
 * certificate has this SHA-1 thumbprint (40 hex digits, any case, blanks
 * and ':' ignored) and loads it with its key. A PFX there must have no
 * password; a file readable by group or others is refused (like ssh).
 * EM_ENOTFOUND when none matches. */
int em_cert_find_thumbprint(em_cert **out, const char *folder, const char *thumbprint, em_error *err);

/* EM_OK when now lies within the certificate's validity; else EM_ECONFIG
 * saying when it expired (or starts). */
int em_cert_check_validity(const em_cert *cert, time_t now, em_error *err);

/* Borrowed while cert lives. */
EVP_PKEY *em_cert_key(const em_cert *cert);
const char *em_cert_x5t(const em_cert *cert);          /* base64url SHA-1 of the DER */
const char *em_cert_x5t_s256(const em_cert *cert);     /* base64url SHA-256 of the DER */
const char *em_cert_thumbprint(const em_cert *cert);   /* SHA-1, 40 upper-case hex digits */
time_t em_cert_not_after(const em_cert *cert);

void em_cert_free(em_cert **cert);

#endif
