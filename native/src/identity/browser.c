/* browser.c - posix_spawnp of $BROWSER, xdg-open or open. */
#define _POSIX_C_SOURCE 200809L

#include "identity/browser.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/buf.h"

extern char **environ;

#define BROWSER_MAX_ARGS 16

/* Variables that never reach a child: managed identity secrets. */
static bool secret_variable(const char *entry)
{
    static const char *const names[] = {"IDENTITY_HEADER=", "MSI_SECRET="};

    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strncmp(entry, names[i], strlen(names[i])) == 0)
            return true;
    }
    return false;
}

/* The helper's environment minus secret_variable ones; free the array only. */
static char **child_environment(void)
{
    size_t n = 0, k = 0;
    char **env = NULL;

    while (environ != NULL && environ[n] != NULL)
        n++;
    env = calloc(n + 1, sizeof *env);
    if (env == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (!secret_variable(environ[i]))
            env[k++] = environ[i];
    }
    return env;
}

static void *reap(void *arg)
{
    pid_t pid = (pid_t)(intptr_t)arg;

    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
        ;
    return NULL;
}

/* Spawns argv; 0 or an errno value. */
static int spawn(char *const argv[])
{
    posix_spawn_file_actions_t actions;
    pthread_attr_t attr;
    pthread_t thread;
    char **env = child_environment();
    pid_t pid = 0;
    int rc = 0;

    if (env == NULL)
        return ENOMEM;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
    rc = posix_spawnp(&pid, argv[0], &actions, NULL, argv, env);
    posix_spawn_file_actions_destroy(&actions);
    free(env);
    if (rc != 0)
        return rc;
    /* The browser may live for hours: reap it off the request's thread. */
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&thread, &attr, reap, (void *)(intptr_t)pid) != 0)
        waitpid(pid, NULL, WNOHANG);
    pthread_attr_destroy(&attr);
    return 0;
}

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
    int why = 0;

    if (url == NULL || (strncasecmp(url, "https://", 8) != 0 && strncasecmp(url, "http://", 7) != 0))
        return em_error_set(err, EM_EINVAL, "only http(s) addresses are opened in a browser");
    memset(extra, 0, sizeof extra);
    if (configured != NULL && configured[0] != '\0') {
        storage = strdup(configured);
        if (storage == NULL)
            return em_error_set(err, EM_ENOMEM, "out of memory");
        if (browser_argv(argv, extra, storage, url) > 0) {
            why = spawn(argv);
            if (why == 0) {
                rc = EM_OK;
                goto out;
            }
        }
        rc = em_error_set(err, EM_ENOTFOUND, "the browser named by $BROWSER could not be started (%s)",
                          why == 0 ? "empty command" : strerror(why));
        goto out;
    }
    {
        /* Only macOS's open opens URLs (on Linux, open may be openvt). */
#ifdef __APPLE__
        char *opener[] = {"open", (char *)url, NULL};
#else
        char *opener[] = {"xdg-open", (char *)url, NULL};
#endif
        if (spawn(opener) == 0) {
            rc = EM_OK;
            goto out;
        }
    }
    rc = em_error_set(err, EM_ENOTFOUND, "no browser could be started (no $BROWSER, and no xdg-open or open): "
                                         "open the address yourself or use -Device");
out:
    for (int i = 0; i < BROWSER_MAX_ARGS; i++)
        em_buf_free(&extra[i]);
    free(storage);
    return rc;
}
