/* system.c (Windows) - per-user folders (Known Folders), certificates from
 * the Windows stores (their key exported through CAPI or NCrypt; Wine's
 * PFXExportCertStoreEx is a stub), TLS trust from the Windows root store,
 * IPv6. */
#include "platform/platform.h"
#include "platform/win32/win32.h"

#include <ws2tcpip.h>
#include <wincrypt.h>
#include <shlobj.h>
#include <stdio.h>
#include <stdlib.h>

#include <ncrypt.h>

#include <openssl/crypto.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/x509.h>

int em_platform_user_folder(char **out, em_folder which, em_error *err)
{
    PWSTR base = NULL;
    char *utf8 = NULL;
    em_buf path = EM_BUF_INIT;
    HRESULT hr;

    *out = NULL;
    hr = SHGetKnownFolderPath(which == EM_FOLDER_CACHE ? &FOLDERID_LocalAppData : &FOLDERID_RoamingAppData,
                              KF_FLAG_DEFAULT, NULL, &base);
    if (FAILED(hr)) {
        CoTaskMemFree(base);
        return em_error_set(err, EM_ECONFIG, "Windows did not say where %s is (0x%08lx)",
                            which == EM_FOLDER_CACHE ? "%LOCALAPPDATA%" : "%APPDATA%", (unsigned long)hr);
    }
    utf8 = em_win_utf8(base);
    CoTaskMemFree(base);
    if (utf8 != NULL && em_buf_printf(&path, "%s\\ExchangeMfa", utf8) == EM_OK)
        *out = em_buf_detach(&path);
    em_buf_free(&path);
    free(utf8);
    return *out != NULL ? EM_OK : em_error_set(err, EM_ENOMEM, "out of memory");
}

const char *em_platform_separator(void)
{
    return "\\";
}

/* The certificate's SHA-1 from its 40 hex digits. */
static bool thumbprint_bytes(BYTE out[20], const char *hex)
{
    for (int i = 0; i < 20; i++) {
        unsigned int v;

        if (sscanf(hex + 2 * i, "%2x", &v) != 1)
            return false;
        out[i] = (BYTE)v;
    }
    return true;
}

/* The private key of ctx as a CAPI PRIVATEKEYBLOB (NCrypt's
 * LEGACY_RSAPRIVATE_BLOB is the same bytes), appended to blob; 0 or the
 * Windows error. A key the store holds as not exportable fails here, with
 * NTE_BAD_KEY_STATE (CAPI) or NTE_PERM/NTE_NOT_SUPPORTED (NCrypt). Some
 * importers (Wine's) record another key spec than the container holds, so
 * the other spec is tried too. */
static DWORD export_private_key(em_buf *blob, PCCERT_CONTEXT ctx)
{
    HCRYPTPROV_OR_NCRYPT_KEY_HANDLE handle = 0;
    DWORD spec = 0, size = 0, rc = ERROR_SUCCESS;
    BOOL must_free = FALSE;
    HCRYPTKEY key = 0;

    if (!CryptAcquireCertificatePrivateKey(ctx, CRYPT_ACQUIRE_SILENT_FLAG | CRYPT_ACQUIRE_ALLOW_NCRYPT_KEY_FLAG,
                                           NULL, &handle, &spec, &must_free))
        return GetLastError() != 0 ? GetLastError() : (DWORD)NTE_NO_KEY;
    if (spec == CERT_NCRYPT_KEY_SPEC) {
        SECURITY_STATUS st = NCryptExportKey(handle, 0, LEGACY_RSAPRIVATE_BLOB, NULL, NULL, 0, &size, 0);

        if (st == ERROR_SUCCESS) {
            unsigned char *bytes = malloc(size);

            st = bytes == NULL ? (SECURITY_STATUS)NTE_NO_MEMORY
                               : NCryptExportKey(handle, 0, LEGACY_RSAPRIVATE_BLOB, NULL, bytes, size, &size, 0);
            if (st == ERROR_SUCCESS && em_buf_append(blob, bytes, size) != EM_OK)
                st = NTE_NO_MEMORY;
            if (bytes != NULL)
                OPENSSL_cleanse(bytes, size);
            free(bytes);
        }
        rc = (DWORD)st;
    } else if ((!CryptGetUserKey(handle, spec, &key) &&
                !CryptGetUserKey(handle, spec == AT_KEYEXCHANGE ? AT_SIGNATURE : AT_KEYEXCHANGE, &key)) ||
               !CryptExportKey(key, 0, PRIVATEKEYBLOB, 0, NULL, &size)) {
        rc = GetLastError();
    } else {
        unsigned char *bytes = malloc(size);

        if (bytes == NULL || !CryptExportKey(key, 0, PRIVATEKEYBLOB, 0, bytes, &size))
            rc = bytes == NULL ? (DWORD)NTE_NO_MEMORY : GetLastError();
        else if (em_buf_append(blob, bytes, size) != EM_OK)
            rc = (DWORD)NTE_NO_MEMORY;
        if (bytes != NULL)
            OPENSSL_cleanse(bytes, size);
        free(bytes);
    }
    if (key != 0)
        CryptDestroyKey(key);
    if (must_free && spec == CERT_NCRYPT_KEY_SPEC)
        NCryptFreeObject(handle);
    else if (must_free)
        CryptReleaseContext(handle, 0);
    return rc;
}

/* ctx with its key as the PKCS#12 Windows writes itself (empty password):
 * the usual way, and the one that also exports CNG keys that allow export
 * but not in plain text. false when it cannot (Wine 8 has a stub). */
static bool export_pfx_windows(em_buf *out, PCCERT_CONTEXT ctx)
{
    HCERTSTORE memory = CertOpenStore(CERT_STORE_PROV_MEMORY, 0, 0, CERT_STORE_CREATE_NEW_FLAG, NULL);
    CRYPT_DATA_BLOB blob = {0, NULL};
    DWORD flags = EXPORT_PRIVATE_KEYS | REPORT_NO_PRIVATE_KEY | REPORT_NOT_ABLE_TO_EXPORT_PRIVATE_KEY;
    bool ok = false;

    if (memory != NULL && CertAddCertificateContextToStore(memory, ctx, CERT_STORE_ADD_ALWAYS, NULL) &&
        PFXExportCertStoreEx(memory, &blob, L"", NULL, flags) && (blob.pbData = malloc(blob.cbData)) != NULL) {
        ok = PFXExportCertStoreEx(memory, &blob, L"", NULL, flags) &&
             em_buf_append(out, blob.pbData, blob.cbData) == EM_OK;
        OPENSSL_cleanse(blob.pbData, blob.cbData);
        free(blob.pbData);
    }
    if (memory != NULL)
        CertCloseStore(memory, 0);
    return ok;
}

/* ctx and its key as a PKCS#12 without a password: Windows' own export,
 * else one built by OpenSSL from the exported key blob (b2i_PrivateKey). */
static int export_pfx(em_buf *out, PCCERT_CONTEXT ctx, const char *where, const char *thumbprint, em_error *err)
{
    em_buf blob = EM_BUF_INIT;
    const unsigned char *p;
    EVP_PKEY *key = NULL;
    X509 *x509 = NULL;
    PKCS12 *p12 = NULL;
    unsigned char *der = NULL;
    int len, rc = EM_OK;
    DWORD e;

    if (export_pfx_windows(out, ctx))
        return EM_OK;
    e = export_private_key(&blob, ctx);
    if (e != ERROR_SUCCESS) {
        em_buf_free(&blob);
        return em_error_set(err, EM_EACCESS, "the private key of certificate %s in %s %s (0x%08lx): import it again "
                            "as exportable, or use -CertificateFilePath", thumbprint, where,
                            e == (DWORD)NTE_NO_KEY || e == (DWORD)CRYPT_E_NO_KEY_PROPERTY ? "is missing"
                                                                                     : "is not exportable",
                            (unsigned long)e);
    }
    p = (const unsigned char *)blob.data;
    key = b2i_PrivateKey(&p, (long)blob.len);
    p = ctx->pbCertEncoded;
    x509 = d2i_X509(NULL, &p, (long)ctx->cbCertEncoded);
    /* No password, no encryption, no MAC: it never leaves this process. */
    p12 = key != NULL && x509 != NULL ? PKCS12_create(NULL, NULL, key, x509, NULL, -1, -1, 0, -1, 0) : NULL;
    len = p12 != NULL ? i2d_PKCS12(p12, &der) : -1;
    if (len <= 0 || em_buf_append(out, der, (size_t)len) != EM_OK)
        rc = em_error_set(err, EM_EINTERNAL, "the certificate %s in %s and its key could not be read", thumbprint,
                          where);
    if (der != NULL)
        OPENSSL_clear_free(der, (size_t)len);
    PKCS12_free(p12);
    X509_free(x509);
    EVP_PKEY_free(key);
    em_buf_free(&blob);
    return rc;
}

int em_platform_find_certificate(em_buf *pkcs12, const char *thumbprint, em_error *err)
{
    static const struct {
        DWORD location;
        const char *name;
    } stores[] = {
        {CERT_SYSTEM_STORE_CURRENT_USER, "Cert:\\CurrentUser\\My"},
        {CERT_SYSTEM_STORE_LOCAL_MACHINE, "Cert:\\LocalMachine\\My"},
    };
    BYTE hash[20];
    CRYPT_HASH_BLOB blob = {sizeof hash, hash};

    if (!thumbprint_bytes(hash, thumbprint))
        return em_error_set(err, EM_EINVAL, "the thumbprint is not 40 hexadecimal digits (SHA-1)");
    for (size_t i = 0; i < sizeof stores / sizeof stores[0]; i++) {
        HCERTSTORE store = CertOpenStore(CERT_STORE_PROV_SYSTEM_W, 0, 0,
                                         stores[i].location | CERT_STORE_READONLY_FLAG |
                                             CERT_STORE_OPEN_EXISTING_FLAG, L"My");
        PCCERT_CONTEXT ctx;
        int rc;

        if (store == NULL)
            continue;
        ctx = CertFindCertificateInStore(store, X509_ASN_ENCODING | PKCS_7_ASN_ENCODING, 0, CERT_FIND_SHA1_HASH,
                                         &blob, NULL);
        if (ctx == NULL) {
            CertCloseStore(store, 0);
            continue;
        }
        rc = export_pfx(pkcs12, ctx, stores[i].name, thumbprint, err);
        CertFreeCertificateContext(ctx);
        CertCloseStore(store, 0);
        return rc;
    }
    return EM_ENOTFOUND;    /* the caller looks in the certificate folder next */
}

bool em_platform_tls_native_ca(void)
{
    return true;
}

void em_platform_socket_shutdown(uintptr_t socket)
{
    (void)shutdown((SOCKET)socket, SD_BOTH);
}

void em_platform_socket_no_inherit(uintptr_t socket)
{
    /* CreateProcessW is never asked to inherit handles; this keeps a
     * socket out of any process someone else starts from ours. */
    (void)SetHandleInformation((HANDLE)socket, HANDLE_FLAG_INHERIT, 0);
}

void em_platform_descriptors_no_inherit(void)
{
}

bool em_platform_ipv6_loopback(void)
{
    struct sockaddr_in6 v6;
    WSADATA wsa;
    SOCKET s;
    bool ok;

    if (WSAStartup(MAKEWORD(2, 2), &wsa) != 0)
        return false;
    s = socket(AF_INET6, SOCK_STREAM, IPPROTO_TCP);
    memset(&v6, 0, sizeof v6);
    v6.sin6_family = AF_INET6;
    v6.sin6_addr = in6addr_loopback;
    ok = s != INVALID_SOCKET && bind(s, (struct sockaddr *)&v6, sizeof v6) == 0;
    if (s != INVALID_SOCKET)
        closesocket(s);
    WSACleanup();
    return ok;
}
