/* test_cert.c - certificate loading (cert.c) and client assertions
 * (jwt.c). Keys and certificates are made at test time with the OpenSSL
 * API in a fresh temporary folder, removed afterwards.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "test_util.h"
#include "util/base64.h"
#include "util/buf.h"
#include "identity/cert.h"
#include "util/json.h"
#include "identity/jwt.h"

#define CLIENT "4a1aa1d5-c567-49d0-ad0b-cd957a47f842"
#define AUD "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token"

typedef struct fixture {
    char dir[64];
    EVP_PKEY *key;
    X509 *cert;
    X509 *expired;
    EVP_PKEY *other_key;
    X509 *other;
} fixture;

static X509 *make_cert(EVP_PKEY *key, const char *cn, long from, long to)
{
    X509 *x = X509_new();
    X509_NAME *name = NULL;

    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), (long)time(NULL) & 0xffff);
    X509_gmtime_adj(X509_getm_notBefore(x), from);
    X509_gmtime_adj(X509_getm_notAfter(x), to);
    X509_set_pubkey(x, key);
    name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
    X509_set_issuer_name(x, name);
    X509_sign(x, key, EVP_sha256());
    return x;
}

static void path_of(char *out, size_t size, const fixture *f, const char *name)
{
    snprintf(out, size, "%s/%s", f->dir, name);
}

static void write_pem(const fixture *f, const char *name, X509 *cert, EVP_PKEY *key, const char *password)
{
    char path[256];
    FILE *fp = NULL;

    path_of(path, sizeof path, f, name);
    fp = fopen(path, "w");
    if (cert != NULL)
        PEM_write_X509(fp, cert);
    if (key != NULL)
        PEM_write_PrivateKey(fp, key, password == NULL ? NULL : EVP_aes_256_cbc(), NULL, 0, NULL,
                             (void *)password);
    fclose(fp);
    chmod(path, 0600);
}

/* password NULL: neither encrypted nor MACed. */
static void write_pfx(const fixture *f, const char *name, X509 *cert, EVP_PKEY *key, const char *password)
{
    char path[256];
    FILE *fp = NULL;
    PKCS12 *p12 = password == NULL ? PKCS12_create(NULL, "t", key, cert, NULL, -1, -1, 0, -1, 0)
                                   : PKCS12_create(password, "t", key, cert, NULL, 0, 0, 0, 0, 0);

    assert_non_null(p12);
    path_of(path, sizeof path, f, name);
    fp = fopen(path, "wb");
    i2d_PKCS12_fp(fp, p12);
    fclose(fp);
    chmod(path, 0600);
    PKCS12_free(p12);
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);

    snprintf(f->dir, sizeof f->dir, "/tmp/em-cert-XXXXXX");
    if (mkdtemp(f->dir) == NULL)
        return -1;
    f->key = EVP_RSA_gen(2048);
    f->other_key = EVP_RSA_gen(2048);
    f->cert = make_cert(f->key, "app", -3600, 365L * 86400);
    f->expired = make_cert(f->key, "old", -10L * 86400, -86400);
    f->other = make_cert(f->other_key, "other", -3600, 86400);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;

    if (test_remove_tree(f->dir) != 0)
        return -1;
    EVP_PKEY_free(f->key);
    EVP_PKEY_free(f->other_key);
    X509_free(f->cert);
    X509_free(f->expired);
    X509_free(f->other);
    free(f);
    return em_json_outstanding() == 0 ? 0 : -1;
}

static void thumbprint_of(char out[41], X509 *x)
{
    unsigned char md[20];
    unsigned int len = 0;

    X509_digest(x, EVP_sha1(), md, &len);
    for (int i = 0; i < 20; i++)
        sprintf(out + 2 * i, "%02X", md[i]);
}

static void test_pem(void **state)
{
    fixture *f = *state;
    char path[256], key_path[256];
    em_cert *c = NULL;
    em_error err = {0};
    char want[41];
    unsigned char *der = NULL;
    unsigned char md[32];
    unsigned int md_len = 0;
    char *x5t = NULL;
    int der_len = i2d_X509(f->cert, &der);

    /* One file with both. */
    write_pem(f, "both.pem", f->cert, f->key, NULL);
    path_of(path, sizeof path, f, "both.pem");
    assert_int_equal(em_cert_load_file(&c, path, NULL, NULL, &err), EM_OK);
    thumbprint_of(want, f->cert);
    assert_string_equal(em_cert_thumbprint(c), want);
    EVP_Digest(der, (size_t)der_len, md, &md_len, EVP_sha1(), NULL);
    em_base64url_encode(&x5t, md, md_len);
    assert_string_equal(em_cert_x5t(c), x5t);
    free(x5t);
    EVP_Digest(der, (size_t)der_len, md, &md_len, EVP_sha256(), NULL);
    em_base64url_encode(&x5t, md, md_len);
    assert_string_equal(em_cert_x5t_s256(c), x5t);
    free(x5t);
    OPENSSL_free(der);
    assert_int_equal(em_cert_check_validity(c, time(NULL), &err), EM_OK);
    em_cert_free(&c);
    assert_null(c);
    /* Two files, the key encrypted. */
    write_pem(f, "cert.pem", f->cert, NULL, NULL);
    write_pem(f, "key.pem", NULL, f->key, "pem-secret");
    path_of(path, sizeof path, f, "cert.pem");
    path_of(key_path, sizeof key_path, f, "key.pem");
    assert_int_equal(em_cert_load_file(&c, path, key_path, "pem-secret", &err), EM_OK);
    em_cert_free(&c);
    assert_int_equal(em_cert_load_file(&c, path, key_path, "wrong", &err), EM_EAUTH);
    assert_non_null(strstr(err.message, "wrong password"));
    assert_null(strstr(err.message, "wrong\""));
    assert_int_equal(em_cert_load_file(&c, path, key_path, NULL, &err), EM_EAUTH);
    /* Certificate without key; key of another certificate. */
    assert_int_equal(em_cert_load_file(&c, path, NULL, NULL, &err), EM_EINVAL);
    assert_non_null(strstr(err.message, "no private key"));
    write_pem(f, "mixed.pem", f->other, f->key, NULL);
    path_of(path, sizeof path, f, "mixed.pem");
    assert_int_equal(em_cert_load_file(&c, path, NULL, NULL, &err), EM_EINVAL);
    assert_non_null(strstr(err.message, "does not belong"));
    path_of(path, sizeof path, f, "missing.pem");
    assert_int_equal(em_cert_load_file(&c, path, NULL, NULL, &err), EM_ENOTFOUND);
    assert_null(c);
    /* A FIFO as certificate or key file: refused at once (it hung the
     * helper for good), and so is a file larger than 1 MiB. */
    assert_int_equal(test_make_blocking_file(key_path, sizeof key_path, f->dir, "fifo.pem"), 0);
    assert_int_equal(em_cert_load_file(&c, key_path, NULL, NULL, &err), EM_EINVAL);
    assert_non_null(strstr(err.message, "fifo.pem is not a regular file (a FIFO)"));
    path_of(path, sizeof path, f, "cert.pem");
    assert_int_equal(em_cert_load_file(&c, path, key_path, NULL, &err), EM_EINVAL);
    assert_non_null(strstr(err.message, "is not a regular file"));
    path_of(path, sizeof path, f, "huge.pem");
    fclose(fopen(path, "wb"));
    assert_int_equal(truncate(path, EM_CERT_MAX_FILE + 1), 0);     /* sparse */
    assert_int_equal(em_cert_load_file(&c, path, NULL, NULL, &err), EM_EINVAL);
    assert_non_null(strstr(err.message, "huge.pem is larger than 1024 KiB"));
    assert_null(c);
}

static void test_pfx(void **state)
{
    fixture *f = *state;
    char path[256];
    em_cert *c = NULL;
    em_error err = {0};
    char want[41];
    FILE *fp = NULL;
    unsigned char bytes[16384];
    size_t n = 0;
    char *b64 = NULL;

    write_pfx(f, "app.pfx", f->cert, f->key, "pfx-secret");
    path_of(path, sizeof path, f, "app.pfx");
    assert_int_equal(em_cert_load_file(&c, path, NULL, "pfx-secret", &err), EM_OK);
    thumbprint_of(want, f->cert);
    assert_string_equal(em_cert_thumbprint(c), want);
    em_cert_free(&c);
    assert_int_equal(em_cert_load_file(&c, path, NULL, "wrong", &err), EM_EAUTH);
    assert_non_null(strstr(err.message, "wrong password for the PFX"));
    assert_int_equal(em_cert_load_file(&c, path, NULL, NULL, &err), EM_EAUTH);
    assert_non_null(strstr(err.message, "protected by a password"));
    /* In memory, base64 (how the module sends an X509Certificate2). */
    fp = fopen(path, "rb");
    n = fread(bytes, 1, sizeof bytes, fp);
    fclose(fp);
    assert_int_equal(em_base64url_encode(&b64, bytes, n), EM_OK);
    assert_int_equal(em_cert_load_pfx_base64(&c, b64, "pfx-secret", &err), EM_OK);
    em_cert_free(&c);
    assert_int_equal(em_cert_load_pfx_base64(&c, "not base64!", "pfx-secret", &err), EM_EINVAL);
    assert_int_equal(em_cert_load_pfx(&c, (const unsigned char *)"junk", 4, NULL, &err), EM_EINVAL);
    free(b64);
    /* Without any password. */
    write_pfx(f, "open.pfx", f->cert, f->key, NULL);
    path_of(path, sizeof path, f, "open.pfx");
    assert_int_equal(em_cert_load_file(&c, path, NULL, NULL, &err), EM_OK);
    em_cert_free(&c);
}

static void test_thumbprint_folder(void **state)
{
    fixture *f = *state;
    char folder[256], path[256];
    char want[41], lower[64];
    em_cert *c = NULL;
    em_error err = {0};
    char *dflt = NULL;

    path_of(folder, sizeof folder, f, "store");
    mkdir(folder, 0700);
    snprintf(path, sizeof path, "%s/store/other.pem", f->dir);
    {
        fixture g = *f;
        snprintf(g.dir, sizeof g.dir, "%.50s/store", f->dir);
        write_pem(&g, "other.pem", f->other, f->other_key, NULL);
        write_pfx(&g, "locked.pfx", f->expired, f->key, "x");
        write_pfx(&g, "app.pfx", f->cert, f->key, NULL);
        write_pem(&g, "notes.txt", f->cert, f->key, NULL);
    }
    thumbprint_of(want, f->cert);
    /* Lower case with colons, as some tools print it. */
    for (int i = 0, k = 0; i < 40; i += 2) {
        lower[k++] = (char)(want[i] | 0x20);
        lower[k++] = (char)(want[i + 1] | 0x20);
        lower[k++] = i < 38 ? ':' : '\0';
    }
    assert_int_equal(em_cert_find_thumbprint(&c, folder, lower, &err), EM_OK);
    assert_string_equal(em_cert_thumbprint(c), want);
    em_cert_free(&c);
    thumbprint_of(want, f->other);
    assert_int_equal(em_cert_find_thumbprint(&c, folder, want, &err), EM_OK);
    em_cert_free(&c);
    /* Others may read it: refused. */
    chmod(path, 0644);
    assert_int_equal(em_cert_find_thumbprint(&c, folder, want, &err), EM_EACCESS);
    assert_non_null(strstr(err.message, "chmod 600"));
    /* The password-protected PFX is skipped, and the message says so. */
    thumbprint_of(want, f->expired);
    assert_int_equal(em_cert_find_thumbprint(&c, folder, want, &err), EM_ENOTFOUND);
    assert_non_null(strstr(err.message, "have a password"));
    assert_int_equal(em_cert_find_thumbprint(&c, folder, "12", &err), EM_EINVAL);
    assert_null(c);
    /* The default folder. */
    unsetenv("EXCHANGEMFA_CERTIFICATE_DIR");
    setenv("XDG_CONFIG_HOME", "/x/config", 1);
    assert_int_equal(em_cert_default_folder(&dflt, &err), EM_OK);
    assert_string_equal(dflt, "/x/config/exchangemfa/certificates");
    free(dflt);
    unsetenv("XDG_CONFIG_HOME");
    setenv("HOME", "/home/ada", 1);
    assert_int_equal(em_cert_default_folder(&dflt, &err), EM_OK);
    assert_string_equal(dflt, "/home/ada/.config/exchangemfa/certificates");
    free(dflt);
    setenv("EXCHANGEMFA_CERTIFICATE_DIR", folder, 1);
    thumbprint_of(want, f->cert);
    assert_int_equal(em_cert_find_thumbprint(&c, NULL, want, &err), EM_OK);
    em_cert_free(&c);
    unsetenv("EXCHANGEMFA_CERTIFICATE_DIR");
}

/* Splits a token, decodes header and payload, verifies the signature with
 * key and the padding of alg. */
static void check_assertion(const char *token, EVP_PKEY *key, em_jwt_alg alg, const em_cert *c, time_t now,
                            char *jti_out)
{
    const char *dot1 = strchr(token, '.');
    const char *dot2 = strrchr(token, '.');
    unsigned char *header = NULL, *payload = NULL, *sig = NULL;
    size_t header_len = 0, payload_len = 0, sig_len = 0;
    yajl_val h = NULL, p = NULL;
    long long n = 0;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;

    assert_non_null(dot1);
    assert_ptr_not_equal(dot1, dot2);
    assert_int_equal(em_base64url_decode(&header, &header_len, token, (size_t)(dot1 - token)), EM_OK);
    assert_int_equal(em_base64url_decode(&payload, &payload_len, dot1 + 1, (size_t)(dot2 - dot1 - 1)), EM_OK);
    assert_int_equal(em_base64url_decode(&sig, &sig_len, dot2 + 1, strlen(dot2 + 1)), EM_OK);
    assert_int_equal(em_json_parse(&h, (char *)header, header_len, NULL), EM_OK);
    assert_int_equal(em_json_parse(&p, (char *)payload, payload_len, NULL), EM_OK);
    assert_string_equal(em_json_get_string(h, "typ"), "JWT");
    if (alg == EM_JWT_PS256) {
        assert_string_equal(em_json_get_string(h, "alg"), "PS256");
        assert_string_equal(em_json_get_string(h, "x5t#S256"), em_cert_x5t_s256(c));
        assert_null(em_json_get(h, "x5t"));
    } else {
        assert_string_equal(em_json_get_string(h, "alg"), "RS256");
        assert_string_equal(em_json_get_string(h, "x5t"), em_cert_x5t(c));
        assert_null(em_json_get(h, "x5t#S256"));
    }
    assert_string_equal(em_json_get_string(p, "aud"), AUD);
    assert_string_equal(em_json_get_string(p, "iss"), CLIENT);
    assert_string_equal(em_json_get_string(p, "sub"), CLIENT);
    assert_int_equal(strlen(em_json_get_string(p, "jti")), 36);
    strcpy(jti_out, em_json_get_string(p, "jti"));
    assert_true(em_json_get_int(&n, p, "nbf") && n == now);
    assert_true(em_json_get_int(&n, p, "iat") && n == now);
    assert_true(em_json_get_int(&n, p, "exp") && n == now + 600);
    /* The signature, with the public key only. */
    assert_int_equal(EVP_DigestVerifyInit(md, &pctx, EVP_sha256(), NULL, key), 1);
    if (alg == EM_JWT_PS256) {
        assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING), 1);
        assert_int_equal(EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 32), 1);
    }
    assert_int_equal(EVP_DigestVerify(md, sig, sig_len, (const unsigned char *)token, (size_t)(dot2 - token)), 1);
    EVP_MD_CTX_free(md);
    em_json_free(&h);
    em_json_free(&p);
    free(header);
    free(payload);
    free(sig);
}

static EVP_PKEY *public_only(X509 *cert)
{
    return X509_get_pubkey(cert);
}

static void test_assertions(void **state)
{
    fixture *f = *state;
    char path[256];
    em_cert *c = NULL;
    char *a = NULL, *b = NULL;
    char jti1[40], jti2[40], jti3[40];
    em_error err = {0};
    time_t now = time(NULL);
    EVP_PKEY *pub = public_only(f->cert);

    write_pem(f, "both.pem", f->cert, f->key, NULL);
    path_of(path, sizeof path, f, "both.pem");
    assert_int_equal(em_cert_load_file(&c, path, NULL, NULL, &err), EM_OK);
    assert_int_equal(em_jwt_sign_client_assertion(&a, c, CLIENT, AUD, EM_JWT_PS256, now, &err), EM_OK);
    check_assertion(a, pub, EM_JWT_PS256, c, now, jti1);
    assert_int_equal(em_jwt_sign_client_assertion(&b, c, CLIENT, AUD, EM_JWT_PS256, now, &err), EM_OK);
    check_assertion(b, pub, EM_JWT_PS256, c, now, jti2);
    assert_string_not_equal(jti1, jti2);
    em_free_secret(&a);
    em_free_secret(&b);
    assert_int_equal(em_jwt_sign_client_assertion(&a, c, CLIENT, AUD, EM_JWT_RS256, now, &err), EM_OK);
    check_assertion(a, pub, EM_JWT_RS256, c, now, jti3);
    assert_string_not_equal(jti1, jti3);
    em_free_secret(&a);
    /* Not valid at that time. */
    assert_int_equal(em_jwt_sign_client_assertion(&a, c, CLIENT, AUD, EM_JWT_PS256, now + 400L * 86400, &err),
                     EM_ECONFIG);
    assert_non_null(strstr(err.message, "expired on"));
    assert_null(a);
    em_cert_free(&c);
    /* An expired certificate loads, tells why it cannot sign. */
    write_pem(f, "old.pem", f->expired, f->key, NULL);
    path_of(path, sizeof path, f, "old.pem");
    assert_int_equal(em_cert_load_file(&c, path, NULL, NULL, &err), EM_OK);
    assert_int_equal(em_cert_check_validity(c, now, &err), EM_ECONFIG);
    assert_non_null(strstr(err.message, "expired on"));
    assert_int_equal(em_jwt_sign_client_assertion(&a, c, CLIENT, AUD, EM_JWT_PS256, now, &err), EM_ECONFIG);
    assert_true(em_cert_not_after(c) < now);
    em_cert_free(&c);
    EVP_PKEY_free(pub);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pem),
        cmocka_unit_test(test_pfx),
        cmocka_unit_test(test_thumbprint_folder),
        cmocka_unit_test(test_assertions),
    };

    return cmocka_run_group_tests_name("cert", tests, setup, teardown);
}
