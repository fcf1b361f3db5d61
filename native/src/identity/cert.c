/* cert.c - certificate + private key loading (PEM, PFX, folder lookup). */
#define _GNU_SOURCE         /* timegm, memmem */

#include "identity/cert.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/provider.h>
#include <openssl/x509.h>

#include "util/buf.h"
#include "platform/platform.h"
#include "util/base64.h"

struct em_cert {
    X509 *x509;
    EVP_PKEY *key;
    char x5t[32];
    char x5t_s256[48];
    char thumbprint[41];
    time_t not_before;
    time_t not_after;
};

/* OpenSSL's reasons are not shown; leave the queue empty for the next call. */
static void drain_errors(void)
{
    while (ERR_get_error() != 0)
        ;
}

void em_cert_free(em_cert **cert)
{
    if (cert == NULL || *cert == NULL)
        return;
    X509_free((*cert)->x509);
    EVP_PKEY_free((*cert)->key);
    OPENSSL_cleanse(*cert, sizeof **cert);
    free(*cert);
    *cert = NULL;
}

EVP_PKEY *em_cert_key(const em_cert *cert) { return cert == NULL ? NULL : cert->key; }
const char *em_cert_x5t(const em_cert *cert) { return cert == NULL ? NULL : cert->x5t; }
const char *em_cert_x5t_s256(const em_cert *cert) { return cert == NULL ? NULL : cert->x5t_s256; }
const char *em_cert_thumbprint(const em_cert *cert) { return cert == NULL ? NULL : cert->thumbprint; }
time_t em_cert_not_after(const em_cert *cert) { return cert == NULL ? 0 : cert->not_after; }

static time_t asn1_to_time(const ASN1_TIME *t)
{
    struct tm tm;

    memset(&tm, 0, sizeof tm);
    if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1)
        return 0;
    return timegm(&tm);
}

/* base64url digest of the certificate's DER into out. */
static int digest_b64(char *out, size_t size, X509 *x509, const EVP_MD *md, unsigned char *raw,
                      unsigned int *raw_len)
{
    char *text = NULL;

    if (X509_digest(x509, md, raw, raw_len) != 1 || em_base64url_encode(&text, raw, *raw_len) != EM_OK)
        return EM_EINTERNAL;
    snprintf(out, size, "%s", text);
    free(text);
    return EM_OK;
}

/* Builds the em_cert from a certificate and its key (both consumed). */
static int finish(em_cert **out, X509 *x509, EVP_PKEY *key, em_error *err)
{
    em_cert *c = NULL;
    unsigned char raw[EVP_MAX_MD_SIZE];
    unsigned int raw_len = 0;
    int rc = EM_OK;

    if (x509 == NULL) {
        rc = em_error_set(err, EM_EINVAL, "no certificate found (expected PEM or PFX)");
        goto fail;
    }
    if (key == NULL) {
        rc = em_error_set(err, EM_EINVAL, "no private key found with the certificate");
        goto fail;
    }
    if (!EVP_PKEY_is_a(key, "RSA") && !EVP_PKEY_is_a(key, "RSA-PSS")) {
        rc = em_error_set(err, EM_EINVAL, "the certificate's key is not an RSA key (PS256/RS256 need RSA)");
        goto fail;
    }
    if (X509_check_private_key(x509, key) != 1) {
        rc = em_error_set(err, EM_EINVAL, "the private key does not belong to the certificate");
        goto fail;
    }
    c = calloc(1, sizeof *c);
    if (c == NULL) {
        rc = em_error_set(err, EM_ENOMEM, "out of memory");
        goto fail;
    }
    if (digest_b64(c->x5t, sizeof c->x5t, x509, EVP_sha1(), raw, &raw_len) != EM_OK) {
        rc = em_error_set(err, EM_EINTERNAL, "cannot hash the certificate");
        goto fail;
    }
    for (unsigned int i = 0; i < raw_len && i < 20; i++)
        snprintf(c->thumbprint + 2 * i, 3, "%02X", raw[i]);
    if (digest_b64(c->x5t_s256, sizeof c->x5t_s256, x509, EVP_sha256(), raw, &raw_len) != EM_OK) {
        rc = em_error_set(err, EM_EINTERNAL, "cannot hash the certificate");
        goto fail;
    }
    c->not_before = asn1_to_time(X509_get0_notBefore(x509));
    c->not_after = asn1_to_time(X509_get0_notAfter(x509));
    c->x509 = x509;
    c->key = key;
    *out = c;
    drain_errors();
    return EM_OK;
fail:
    free(c);
    X509_free(x509);
    EVP_PKEY_free(key);
    drain_errors();
    return rc;
}

/* Never lets OpenSSL prompt on the terminal: the password or nothing. */
static int password_cb(char *buf, int size, int rwflag, void *ud)
{
    const char *password = ud;
    size_t len = password == NULL ? 0 : strlen(password);
    (void)rwflag;

    if (len == 0 || len > (size_t)size)
        return -1;
    memcpy(buf, password, len);
    return (int)len;
}

static EVP_PKEY *pem_key(const char *pem, size_t len, const char *password, bool *encrypted)
{
    BIO *bio = BIO_new_mem_buf(pem, (int)len);
    EVP_PKEY *key = NULL;

    *encrypted = memmem(pem, len, "ENCRYPTED", 9) != NULL;
    if (bio != NULL)
        key = PEM_read_bio_PrivateKey(bio, NULL, password_cb, (void *)password);
    BIO_free(bio);
    return key;
}

static X509 *pem_cert(const char *pem, size_t len)
{
    BIO *bio = BIO_new_mem_buf(pem, (int)len);
    X509 *x509 = NULL;

    if (bio != NULL)
        x509 = PEM_read_bio_X509(bio, NULL, password_cb, NULL);
    BIO_free(bio);
    return x509;
}

/* Loads a PEM certificate from cert_pem and its key from key_pem. */
static int load_pem_pair(em_cert **out, const char *cert_pem, size_t cert_len, const char *key_pem,
                         size_t key_len, const char *password, em_error *err)
{
    X509 *x509 = NULL;
    EVP_PKEY *key = NULL;
    bool encrypted = false;

    ERR_clear_error();
    if (cert_len > EM_CERT_MAX_FILE || key_len > EM_CERT_MAX_FILE)
        return em_error_set(err, EM_EINVAL, "the certificate is too large");
    x509 = pem_cert(cert_pem, cert_len);
    if (x509 == NULL) {
        drain_errors();
        return em_error_set(err, EM_EINVAL, "no PEM certificate found");
    }
    key = pem_key(key_pem, key_len, password, &encrypted);
    if (key == NULL && encrypted) {
        X509_free(x509);
        drain_errors();
        if (password == NULL || password[0] == '\0')
            return em_error_set(err, EM_EAUTH, "the private key is encrypted: give its password");
        return em_error_set(err, EM_EAUTH, "wrong password for the private key");
    }
    return finish(out, x509, key, err);
}

int em_cert_load_pem(em_cert **out, const char *pem, size_t len, const char *password, em_error *err)
{
    if (out == NULL || pem == NULL)
        return em_error_set(err, EM_EINVAL, "no certificate given");
    *out = NULL;
    return load_pem_pair(out, pem, len, pem, len, password, err);
}

/* Parses PFX with the legacy provider loaded on demand: PFX files made by
 * Windows and older OpenSSL use RC2/3DES, which OpenSSL 3 keeps there. */
static bool pfx_parse(PKCS12 *p12, const char *password, EVP_PKEY **key, X509 **x509)
{
    static pthread_mutex_t legacy_lock = PTHREAD_MUTEX_INITIALIZER;
    static bool legacy_tried = false;
    STACK_OF(X509) *ca = NULL;
    bool ok = PKCS12_parse(p12, password, key, x509, &ca) == 1;

    if (!ok) {
        pthread_mutex_lock(&legacy_lock);
        if (!legacy_tried) {
            legacy_tried = true;
            OSSL_PROVIDER_try_load(NULL, "legacy", 1);
        }
        pthread_mutex_unlock(&legacy_lock);
        ok = PKCS12_parse(p12, password, key, x509, &ca) == 1;
    }
    sk_X509_pop_free(ca, X509_free);
    return ok;
}

/* The password that opens p12's MAC: password, or for an empty one also
 * the NULL form; NULL when none does (*opened false). */
static const char *pfx_password(PKCS12 *p12, const char *password, bool *opened)
{
    const char *pw = password == NULL ? "" : password;

    *opened = true;
    if (!PKCS12_mac_present(p12) || PKCS12_verify_mac(p12, pw, -1) == 1)
        return pw;
    if (pw[0] == '\0' && PKCS12_verify_mac(p12, NULL, 0) == 1)
        return NULL;
    *opened = false;
    return NULL;
}

int em_cert_load_pfx(em_cert **out, const unsigned char *der, size_t len, const char *password,
                     em_error *err)
{
    BIO *bio = NULL;
    PKCS12 *p12 = NULL;
    EVP_PKEY *key = NULL;
    X509 *x509 = NULL;
    const char *pw = NULL;
    bool opened = false;
    int rc = EM_OK;

    if (out == NULL || der == NULL)
        return em_error_set(err, EM_EINVAL, "no certificate given");
    *out = NULL;
    if (len == 0 || len > EM_CERT_MAX_FILE)
        return em_error_set(err, EM_EINVAL, "the PFX data is empty or too large");
    ERR_clear_error();
    bio = BIO_new_mem_buf(der, (int)len);
    p12 = bio == NULL ? NULL : d2i_PKCS12_bio(bio, NULL);
    if (p12 == NULL) {
        rc = em_error_set(err, EM_EINVAL, "not a PFX (PKCS#12) certificate");
        goto out;
    }
    pw = pfx_password(p12, password, &opened);
    if (!opened) {
        rc = em_error_set(err, EM_EAUTH, (password == NULL || password[0] == '\0')
                                             ? "the PFX file is protected by a password: give it"
                                             : "wrong password for the PFX file");
        goto out;
    }
    if (!pfx_parse(p12, pw, &key, &x509)) {
        rc = em_error_set(err, EM_EINVAL, "the PFX file cannot be read (unsupported or damaged)");
        goto out;
    }
    rc = finish(out, x509, key, err);
out:
    PKCS12_free(p12);
    BIO_free(bio);
    drain_errors();
    return rc;
}

int em_cert_load_pfx_base64(em_cert **out, const char *base64, const char *password, em_error *err)
{
    unsigned char *der = NULL;
    size_t len = 0;
    int rc = EM_OK;

    if (out == NULL || base64 == NULL)
        return em_error_set(err, EM_EINVAL, "no certificate given");
    *out = NULL;
    rc = em_base64_decode(&der, &len, base64, strlen(base64));
    if (rc == EM_ENOMEM)
        return em_error_set(err, EM_ENOMEM, "out of memory");
    if (rc != EM_OK)
        return em_error_set(err, EM_EINVAL, "the certificate data is not base64");
    rc = em_cert_load_pfx(out, der, len, password, err);
    OPENSSL_cleanse(der, len);
    free(der);
    return rc;
}

/* Reads a whole certificate or key file (platform.h: a regular file, at
 * most EM_CERT_MAX_FILE: a PFX with its chain is a few KiB) into *out;
 * wipe and free with free_file. */
static int read_file(unsigned char **out, size_t *len, const char *path, em_error *err)
{
    em_buf data = EM_BUF_INIT;
    char prefix[400];
    int rc = em_platform_read_file(&data, path, EM_CERT_MAX_FILE, err);

    *out = NULL;
    *len = 0;
    if (rc != EM_OK) {
        em_buf_free(&data);
        snprintf(prefix, sizeof prefix, "the certificate file %.300s ", path);
        return err != NULL ? em_error_prefix(err, prefix) : rc;
    }
    *out = (unsigned char *)data.data;
    *len = data.len;
    return EM_OK;
}

static void free_file(unsigned char **data, size_t len)
{
    if (*data != NULL)
        OPENSSL_cleanse(*data, len);
    free(*data);
    *data = NULL;
}

static bool is_pem(const unsigned char *data, size_t len)
{
    return memmem(data, len, "-----BEGIN", 10) != NULL;
}

int em_cert_load_file(em_cert **out, const char *cert_path, const char *key_path,
                      const char *password, em_error *err)
{
    unsigned char *cert = NULL;
    unsigned char *key = NULL;
    size_t cert_len = 0, key_len = 0;
    int rc = EM_OK;

    if (out == NULL || cert_path == NULL)
        return em_error_set(err, EM_EINVAL, "no certificate file given");
    *out = NULL;
    rc = read_file(&cert, &cert_len, cert_path, err);
    if (rc != EM_OK)
        goto out;
    if (!is_pem(cert, cert_len)) {
        if (key_path != NULL) {
            rc = em_error_set(err, EM_EINVAL, "a PFX file holds its own key: give no key file");
            goto out;
        }
        rc = em_cert_load_pfx(out, cert, cert_len, password, err);
        goto out;
    }
    if (key_path != NULL) {
        rc = read_file(&key, &key_len, key_path, err);
        if (rc != EM_OK)
            goto out;
    }
    rc = load_pem_pair(out, (const char *)cert, cert_len, key != NULL ? (const char *)key : (const char *)cert,
                       key != NULL ? key_len : cert_len, password, err);
out:
    free_file(&cert, cert_len);
    free_file(&key, key_len);
    return rc;
}

int em_cert_default_folder(char **out, em_error *err)
{
    const char *dir = getenv("EXCHANGEMFA_CERTIFICATE_DIR");
    char *config = NULL;
    em_buf path = EM_BUF_INIT;
    int rc;

    if (out == NULL)
        return em_error_set(err, EM_EINVAL, "no place for the folder");
    *out = NULL;
    if (dir != NULL && dir[0] != '\0') {
        rc = em_buf_puts(&path, dir);
    } else {
        rc = em_platform_user_folder(&config, EM_FOLDER_CONFIG, err);
        if (rc != EM_OK)
            return em_error_prefix(err, "no certificate folder: ");
        rc = em_buf_printf(&path, "%s%scertificates", config, em_platform_separator());
        free(config);
    }
    if (rc == EM_OK)
        *out = em_buf_detach(&path);
    em_buf_free(&path);
    if (*out == NULL)
        return em_error_set(err, EM_ENOMEM, "out of memory");
    return EM_OK;
}

/* Refuses a key file others can read: EM_OK, or EM_EACCESS saying why. */
static int check_private(const char *path, em_error *err)
{
    em_private_file *f = NULL;
    char refusal[200];
    int rc = em_private_open(&f, NULL, path, refusal, sizeof refusal, err);

    em_private_close(&f);
    if (rc == EM_OK && refusal[0] != '\0')
        rc = em_error_set(err, EM_EACCESS, "the certificate file %.300s holds a private key but %s: "
                                           "make it readable by you only (chmod 600)", path, refusal);
    return rc;
}

/* The system's certificate stores (platform.h; Windows only). */
static int find_in_store(em_cert **out, const char *thumbprint, em_error *err)
{
    em_buf pfx = EM_BUF_INIT;
    int rc = em_platform_find_certificate(&pfx, thumbprint, err);

    if (rc == EM_OK)
        rc = em_cert_load_pfx(out, (const unsigned char *)pfx.data, pfx.len, NULL, err);
    em_buf_free(&pfx);
    return rc;
}

/* The 40 hex digits of a thumbprint as typed (blanks and ':' dropped),
 * upper case; false when it is not one. */
static bool normalise_thumbprint(char out[41], const char *in)
{
    size_t n = 0;

    for (const char *p = in; *p != '\0'; p++) {
        if (*p == ' ' || *p == ':' || *p == '\t')
            continue;
        if (!isxdigit((unsigned char)*p) || n == 40)
            return false;
        out[n++] = (char)toupper((unsigned char)*p);
    }
    out[n] = '\0';
    return n == 40;
}

static bool has_suffix(const char *name, const char *suffix)
{
    size_t n = strlen(name), s = strlen(suffix);
    return n > s && strcasecmp(name + n - s, suffix) == 0;
}

/* SHA-1 thumbprint of the file's certificate into out (without its key);
 * false when the file holds none that can be read without a password. */
static bool file_thumbprint(char out[41], const unsigned char *data, size_t len, bool pem,
                            bool *protected)
{
    X509 *x509 = NULL;
    EVP_PKEY *key = NULL;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    bool ok = false;

    if (pem) {
        x509 = pem_cert((const char *)data, len);
    } else {
        BIO *bio = BIO_new_mem_buf(data, (int)len);
        PKCS12 *p12 = bio == NULL ? NULL : d2i_PKCS12_bio(bio, NULL);
        bool opened = false;
        const char *pw = p12 == NULL ? NULL : pfx_password(p12, NULL, &opened);
        if (p12 != NULL && !opened)
            *protected = true;
        if (p12 != NULL && opened)
            pfx_parse(p12, pw, &key, &x509);
        EVP_PKEY_free(key);
        PKCS12_free(p12);
        BIO_free(bio);
    }
    if (x509 != NULL && X509_digest(x509, EVP_sha1(), md, &md_len) == 1 && md_len == 20) {
        for (unsigned int i = 0; i < 20; i++)
            snprintf(out + 2 * i, 3, "%02X", md[i]);
        ok = true;
    }
    X509_free(x509);
    drain_errors();
    return ok;
}

/* One folder search of em_cert_find_thumbprint. */
typedef struct folder_search {
    const char *folder;
    const char *want;           /* the thumbprint, normalised */
    em_cert **out;
    em_error *err;
    int rc;                     /* EM_ENOTFOUND while searching */
    bool protected;             /* a PFX with a password was skipped */
} folder_search;

/* em_folder_entry_fn: checks one file of the folder; false once found (or
 * failed). */
static bool search_entry(void *ud, const char *name)
{
    folder_search *s = ud;
    em_buf path = EM_BUF_INIT;
    unsigned char *data = NULL;
    size_t len = 0;
    char have[41];
    bool pem = has_suffix(name, ".pem");

    if (name[0] == '.' || (!pem && !has_suffix(name, ".pfx")))
        return true;
    if (em_buf_printf(&path, "%s%s%s", s->folder, em_platform_separator(), name) != EM_OK) {
        s->rc = em_error_set(s->err, EM_ENOMEM, "out of memory");
        return false;
    }
    if (read_file(&data, &len, path.data, NULL) == EM_OK) {
        if (file_thumbprint(have, data, len, pem, &s->protected) && strcmp(have, s->want) == 0) {
            s->rc = check_private(path.data, s->err);
            if (s->rc == EM_OK)
                s->rc = pem ? em_cert_load_pem(s->out, (const char *)data, len, NULL, s->err)
                            : em_cert_load_pfx(s->out, data, len, NULL, s->err);
        }
        free_file(&data, len);
    }
    em_buf_free(&path);
    return s->rc == EM_ENOTFOUND;
}

int em_cert_find_thumbprint(em_cert **out, const char *folder, const char *thumbprint, em_error *err)
{
    char want[41];
    char *default_folder = NULL;
    folder_search search = {0};
    em_error listing = {0};
    int rc = EM_ENOTFOUND;

    if (out == NULL || thumbprint == NULL)
        return em_error_set(err, EM_EINVAL, "no thumbprint given");
    *out = NULL;
    if (!normalise_thumbprint(want, thumbprint))
        return em_error_set(err, EM_EINVAL, "the thumbprint is not 40 hexadecimal digits (SHA-1)");
    /* The system's stores first, as Microsoft's module, unless a folder is
     * named (EXCHANGEMFA_CERTIFICATE_DIR: tests, or a deliberate choice). */
    if (folder == NULL && getenv("EXCHANGEMFA_CERTIFICATE_DIR") == NULL) {
        rc = find_in_store(out, want, err);
        if (rc != EM_ENOTFOUND)
            return rc;
    }
    if (folder == NULL) {
        rc = em_cert_default_folder(&default_folder, err);
        if (rc != EM_OK)
            return rc;
        folder = default_folder;
    }
    search = (folder_search){folder, want, out, err, EM_ENOTFOUND, false};
    if (em_platform_list_folder(folder, search_entry, &search, &listing) != EM_OK)
        rc = em_error_set(err, EM_ENOTFOUND, "the certificate folder %.300s cannot be opened: %s", folder,
                          listing.message);
    else if (search.rc == EM_ENOTFOUND)
        rc = em_error_set(err, EM_ENOTFOUND, "no certificate with thumbprint %s in %.300s (*.pem with its key, "
                                             "or *.pfx without a password)%s", want, folder,
                          search.protected ? "; some PFX files there have a password and were skipped" : "");
    else
        rc = search.rc;
    free(default_folder);
    return rc;
}

int em_cert_check_validity(const em_cert *cert, time_t now, em_error *err)
{
    char when[32];
    struct tm tm;

    if (cert == NULL)
        return em_error_set(err, EM_EINVAL, "no certificate");
    if (cert->not_after != 0 && now > cert->not_after) {
        gmtime_r(&cert->not_after, &tm);
        strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", &tm);
        return em_error_set(err, EM_ECONFIG, "the certificate %s expired on %s: renew it and upload the new "
                                             "one to the app registration", cert->thumbprint, when);
    }
    if (cert->not_before != 0 && now < cert->not_before) {
        gmtime_r(&cert->not_before, &tm);
        strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", &tm);
        return em_error_set(err, EM_ECONFIG, "the certificate %s is not valid before %s (check the clock)",
                            cert->thumbprint, when);
    }
    return EM_OK;
}
