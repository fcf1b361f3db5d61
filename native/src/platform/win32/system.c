/* system.c (Windows) - per-user folders (Known Folders), certificates from
 * the Windows stores, TLS trust from the Windows root store, IPv6. */
#include "platform/platform.h"
#include "platform/win32/win32.h"

#include <ws2tcpip.h>
#include <wincrypt.h>
#include <shlobj.h>
#include <stdio.h>
#include <stdlib.h>

#include <openssl/crypto.h>

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

/* Exports ctx with its key as a PKCS#12 without a password. */
static int export_pfx(em_buf *out, PCCERT_CONTEXT ctx, const char *where, const char *thumbprint, em_error *err)
{
    HCERTSTORE memory = CertOpenStore(CERT_STORE_PROV_MEMORY, 0, 0, CERT_STORE_CREATE_NEW_FLAG, NULL);
    CRYPT_DATA_BLOB blob = {0, NULL};
    DWORD flags = EXPORT_PRIVATE_KEYS | REPORT_NO_PRIVATE_KEY | REPORT_NOT_ABLE_TO_EXPORT_PRIVATE_KEY;
    int rc = EM_OK;

    if (memory == NULL || !CertAddCertificateContextToStore(memory, ctx, CERT_STORE_ADD_ALWAYS, NULL)) {
        rc = em_error_set(err, EM_EINTERNAL, "cannot copy certificate %s (error %lu)", thumbprint, GetLastError());
        goto out;
    }
    if (!PFXExportCertStoreEx(memory, &blob, L"", NULL, flags)) {
        DWORD e = GetLastError();

        rc = em_error_set(err, EM_EACCESS, "the private key of certificate %s in %s %s (error 0x%08lx): import it "
                          "again as exportable, or use -CertificateFilePath", thumbprint, where,
                          e == (DWORD)NTE_NO_KEY ? "is missing" : "is not exportable", (unsigned long)e);
        goto out;
    }
    blob.pbData = malloc(blob.cbData);
    if (blob.pbData == NULL) {
        rc = em_error_set(err, EM_ENOMEM, "out of memory");
        goto out;
    }
    if (!PFXExportCertStoreEx(memory, &blob, L"", NULL, flags) ||
        em_buf_append(out, blob.pbData, blob.cbData) != EM_OK)
        rc = em_error_set(err, EM_EACCESS, "the private key of certificate %s in %s cannot be exported (error %lu)",
                          thumbprint, where, GetLastError());
    OPENSSL_cleanse(blob.pbData, blob.cbData);
    free(blob.pbData);
out:
    if (memory != NULL)
        CertCloseStore(memory, 0);
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
