/* browser.c - $BROWSER, else the system's opener (platform.h). */
#define _POSIX_C_SOURCE 200809L

#include "identity/browser.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "platform/platform.h"
#include "util/buf.h"

#define BROWSER_MAX_ARGS 16

/* Splits $BROWSER's first entry into argv over storage (a copy), putting
 * the URL where "%s" is or at the end. Returns the argument count, 0 when
 * the entry is empty. Arguments with "%s" are built in extra (freed by the caller). */
static int browser_argv(char **argv, em_buf *extra, char *storage, const char *url)
{
    char *entry = storage;
    char *save = NULL;
    bool placed = false;
    int argc = 0;

    entry[strcspn(entry, ":")] = '\0';
    for (char *tok = strtok_r(entry, " \t", &save); tok != NULL && argc < BROWSER_MAX_ARGS - 2;
         tok = strtok_r(NULL, " \t", &save)) {
        char *at = argc == 0 ? NULL : strstr(tok, "%s");
        if (at != NULL && !placed) {
            extra[argc].len = 0;
            em_buf_append(&extra[argc], tok, (size_t)(at - tok));
            em_buf_puts(&extra[argc], url);
            em_buf_puts(&extra[argc], at + 2);
            if (extra[argc].data == NULL)
                return 0;
            argv[argc] = extra[argc].data;
            argc++;
            placed = true;
            continue;
        }
        argv[argc++] = tok;
    }
    if (argc == 0)
        return 0;
    if (!placed)
        argv[argc++] = (char *)url;
    argv[argc] = NULL;
    return argc;
}

int em_browser_open(const char *url, em_error *err)
{
    const char *configured = getenv("BROWSER");
    char *argv[BROWSER_MAX_ARGS];
    em_buf extra[BROWSER_MAX_ARGS];
    char *storage = NULL;
    int rc = EM_ENOTFOUND;
    em_error why_system = {0};
    int why = 0;

    if (url == NULL || (strncasecmp(url, "https://", 8) != 0 && strncasecmp(url, "http://", 7) != 0))
        return em_error_set(err, EM_EINVAL, "only http(s) addresses are opened in a browser");
    memset(extra, 0, sizeof extra);
    if (configured != NULL && configured[0] != '\0') {
        storage = strdup(configured);
        if (storage == NULL)
            return em_error_set(err, EM_ENOMEM, "out of memory");
        if (browser_argv(argv, extra, storage, url) > 0) {
            why = em_platform_spawn_detached(argv);
            if (why == 0) {
                rc = EM_OK;
                goto out;
            }
        }
        rc = em_error_set(err, EM_ENOTFOUND, "the browser named by $BROWSER could not be started (%s)",
                          why == 0 ? "empty command" : strerror(why));
        goto out;
    }
    rc = em_platform_open_url(url, &why_system);
    if (rc != EM_OK)
        rc = em_error_set(err, EM_ENOTFOUND, "no browser could be started (no $BROWSER, and %s): "
                                             "open the address yourself or use -Device", why_system.message);
out:
    for (int i = 0; i < BROWSER_MAX_ARGS; i++)
        em_buf_free(&extra[i]);
    free(storage);
    return rc;
}
