/* test_cert_store.c (Windows only) - -CertificateThumbprint through the
 * Windows certificate store: a certificate imported into CurrentUser\My
 * with an exportable key is found and exported to OpenSSL (the PKCS#12 in
 * memory); one whose key is not exportable gives AccessDenied saying so.
 * Under Wine this runs against Wine's store and key containers, not a real
 * user profile (docs/windows.md, "What Wine cannot show"). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include <winsock2.h>
#include <windows.h>
#include <wincrypt.h>

#include <openssl/evp.h>
#include <openssl/pkcs12.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "identity/cert.h"
#include "platform/platform.h"
#include "util/buf.h"

typedef struct stored {
    char thumbprint[41];
    BYTE hash[20];
} stored;

/* A self-signed certificate with a new RSA key, imported into
 * CurrentUser\My (the key exportable or not); its thumbprint into s. */
static void store_certificate(stored *s, const char *cn, bool exportable)
{
    EVP_PKEY *key = EVP_RSA_gen(2048);
    X509 *x = X509_new();
    X509_NAME *name;
    PKCS12 *p12;
    unsigned char *der = NULL;
    int len;
    CRYPT_DATA_BLOB blob;
    HCERTSTORE imported, my;
    PCCERT_CONTEXT ctx;
    unsigned int md_len = 0;

    assert_non_null(key);
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), (long)GetTickCount() & 0xffff);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400);
    X509_set_pubkey(x, key);
    name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
    X509_set_issuer_name(x, name);
    assert_true(X509_sign(x, key, EVP_sha256()) > 0);
    assert_int_equal(X509_digest(x, EVP_sha1(), s->hash, &md_len), 1);
    for (int i = 0; i < 20; i++)
        snprintf(s->thumbprint + 2 * i, 3, "%02X", s->hash[i]);

    /* The classic algorithms every PFX importer reads. */
    p12 = PKCS12_create("", cn, key, x, NULL, NID_pbe_WithSHA1And3_Key_TripleDES_CBC,
                        NID_pbe_WithSHA1And3_Key_TripleDES_CBC, 2048, 1, 0);
    assert_non_null(p12);
    len = i2d_PKCS12(p12, &der);
    assert_true(len > 0);
    blob.cbData = (DWORD)len;
    blob.pbData = der;
    imported = PFXImportCertStore(&blob, L"", CRYPT_USER_KEYSET | (exportable ? CRYPT_EXPORTABLE : 0));
    assert_non_null(imported);
    ctx = CertEnumCertificatesInStore(imported, NULL);
    assert_non_null(ctx);
    my = CertOpenStore(CERT_STORE_PROV_SYSTEM_W, 0, 0, CERT_SYSTEM_STORE_CURRENT_USER, L"My");
    assert_non_null(my);
    assert_true(CertAddCertificateContextToStore(my, ctx, CERT_STORE_ADD_REPLACE_EXISTING, NULL));
    CertFreeCertificateContext(ctx);
    CertCloseStore(my, 0);
    CertCloseStore(imported, 0);
    OPENSSL_free(der);
    PKCS12_free(p12);
    X509_free(x);
    EVP_PKEY_free(key);
}

/* Best effort: Wine keeps a deleted certificate until the prefix goes. */
static void remove_certificate(const stored *s)
{
    HCERTSTORE my = CertOpenStore(CERT_STORE_PROV_SYSTEM_W, 0, 0, CERT_SYSTEM_STORE_CURRENT_USER, L"My");
    CRYPT_HASH_BLOB hash = {20, (BYTE *)s->hash};
    PCCERT_CONTEXT ctx;

    if (my == NULL)
        return;
    ctx = CertFindCertificateInStore(my, X509_ASN_ENCODING | PKCS_7_ASN_ENCODING, 0, CERT_FIND_SHA1_HASH, &hash,
                                     NULL);
    if (ctx != NULL)
        CertDeleteCertificateFromStore(ctx);    /* frees ctx */
    CertCloseStore(my, 0);
}

static void test_exportable_key_is_found(void **state)
{
    stored s;
    em_buf pfx = EM_BUF_INIT;
    em_cert *cert = NULL;
    em_error err = {0};

    (void)state;
    store_certificate(&s, "exchangemfa-store-test", true);
    assert_int_equal(em_platform_find_certificate(&pfx, s.thumbprint, &err), EM_OK);
    assert_true(pfx.len > 0);
    em_buf_free(&pfx);
    /* The whole path -CertificateThumbprint takes: store first, no folder. */
    unsetenv("EXCHANGEMFA_CERTIFICATE_DIR");
    assert_int_equal(em_cert_find_thumbprint(&cert, NULL, s.thumbprint, &err), EM_OK);
    assert_string_equal(em_cert_thumbprint(cert), s.thumbprint);
    assert_non_null(em_cert_key(cert));
    em_cert_free(&cert);
    remove_certificate(&s);
}

static void test_key_not_exportable(void **state)
{
    stored s;
    em_buf pfx = EM_BUF_INIT;
    em_error err = {0};
    int rc;

    (void)state;
    store_certificate(&s, "exchangemfa-store-locked", false);
    rc = em_platform_find_certificate(&pfx, s.thumbprint, &err);
    remove_certificate(&s);
    assert_int_equal(rc, EM_EACCESS);
    assert_non_null(strstr(err.message, "not exportable"));
    assert_non_null(strstr(err.message, "-CertificateFilePath"));
    assert_int_equal(pfx.len, 0);
    em_buf_free(&pfx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exportable_key_is_found),
        cmocka_unit_test(test_key_not_exportable),
    };

    return cmocka_run_group_tests_name("cert_store", tests, NULL, NULL);
}
