/* system.c (POSIX) - per-user folders, certificates, TLS trust, IPv6. */
#include "platform/platform.h"

#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

int em_platform_user_folder(char **out, em_folder which, em_error *err)
{
    const char *xdg = getenv(which == EM_FOLDER_CACHE ? "XDG_CACHE_HOME" : "XDG_CONFIG_HOME");
    const char *home = getenv("HOME");
    const char *fallback = which == EM_FOLDER_CACHE ? ".cache" : ".config";
    em_buf path = EM_BUF_INIT;
    int rc;

    *out = NULL;
    /* XDG: a relative value is invalid and ignored. */
    if (xdg != NULL && xdg[0] == '/')
        rc = em_buf_printf(&path, "%s/exchangemfa", xdg);
    else if (home != NULL && home[0] == '/')
        rc = em_buf_printf(&path, "%s/%s/exchangemfa", home, fallback);
    else
        return em_error_set(err, EM_ECONFIG, "neither %s nor HOME is an absolute path",
                            which == EM_FOLDER_CACHE ? "XDG_CACHE_HOME" : "XDG_CONFIG_HOME");
    if (rc == EM_OK)
        *out = em_buf_detach(&path);
    em_buf_free(&path);
    return *out != NULL ? EM_OK : em_error_set(err, EM_ENOMEM, "out of memory");
}

const char *em_platform_separator(void)
{
    return "/";
}

int em_platform_find_certificate(em_buf *pkcs12, const char *thumbprint, em_error *err)
{
    (void)pkcs12;
    (void)thumbprint;
    (void)err;
    return EM_ENOTFOUND;    /* no system certificate store: the folder is used */
}

bool em_platform_tls_native_ca(void)
{
    return false;   /* OpenSSL's default paths are the system store */
}

bool em_platform_ipv6_loopback(void)
{
    struct sockaddr_in6 v6;
    int fd = socket(AF_INET6, SOCK_STREAM, 0);     /* closed at once: no CLOEXEC needed */
    bool ok;

    if (fd < 0)
        return false;
    memset(&v6, 0, sizeof v6);
    v6.sin6_family = AF_INET6;
    v6.sin6_addr = in6addr_loopback;
    ok = bind(fd, (struct sockaddr *)&v6, sizeof v6) == 0;
    close(fd);
    return ok;
}
