/* system.c (POSIX) - per-user folders, certificates, TLS trust, IPv6. */
#include "platform/platform.h"

#include <dirent.h>
#include <fcntl.h>
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

void em_platform_socket_no_inherit(uintptr_t socket)
{
    int fd = (int)socket;
    int flags = fcntl(fd, F_GETFD);

    if (flags >= 0 && (flags & FD_CLOEXEC) == 0)
        (void)fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
}

void em_platform_socket_shutdown(uintptr_t socket)
{
    (void)shutdown((int)socket, SHUT_RDWR);
}

void em_platform_descriptors_no_inherit(void)
{
#ifdef __linux__
    DIR *d = opendir("/proc/self/fd");
#else
    DIR *d = opendir("/dev/fd");
#endif
    struct dirent *e;

    if (d == NULL)
        return;
    while ((e = readdir(d)) != NULL) {
        int fd = atoi(e->d_name);

        if (fd >= 3 && fd != dirfd(d))
            em_platform_socket_no_inherit((uintptr_t)fd);
    }
    closedir(d);
}

/* SOCK_CLOEXEC where the system has it (Linux, the BSDs), else set after. */
#ifndef SOCK_CLOEXEC
#define SOCK_CLOEXEC 0
#endif

bool em_platform_ipv6_loopback(void)
{
    struct sockaddr_in6 v6;
    int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
    bool ok;

    if (fd < 0)
        return false;
    em_platform_socket_no_inherit((uintptr_t)fd);
    memset(&v6, 0, sizeof v6);
    v6.sin6_family = AF_INET6;
    v6.sin6_addr = in6addr_loopback;
    ok = bind(fd, (struct sockaddr *)&v6, sizeof v6) == 0;
    close(fd);
    return ok;
}
