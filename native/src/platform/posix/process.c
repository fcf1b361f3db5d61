/* process.c (POSIX) - start-up, the browser: posix_spawnp, no shell. */
#define _GNU_SOURCE     /* posix_spawn_file_actions_addclosefrom_np (glibc 2.34) */
#include "platform/platform.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

extern char **environ;

void em_platform_init(void)
{
    struct rlimit no_core = {0, 0};

    /* A vanished module must not kill us mid-write; stdin EOF ends us. */
    signal(SIGPIPE, SIG_IGN);
    /* Tokens live in our memory: a crash writes no core file, and (Linux)
     * other processes of the user cannot ptrace us or read /proc/<pid>/mem. */
    (void)setrlimit(RLIMIT_CORE, &no_core);
#ifdef __linux__
    (void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
#endif
}

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

int em_platform_spawn_detached(char *const argv[])
{
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attr;
    pthread_attr_t thread_attr;
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
    /* A belt for a descriptor a library opened without close-on-exec: the
     * browser must never hold our TLS connections or the listener. */
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
    posix_spawn_file_actions_addclosefrom_np(&actions, 3);
#endif
    posix_spawnattr_init(&attr);
#ifdef POSIX_SPAWN_CLOEXEC_DEFAULT
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_CLOEXEC_DEFAULT);     /* macOS */
#endif
    rc = posix_spawnp(&pid, argv[0], &actions, &attr, argv, env);
    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&actions);
    free(env);
    if (rc != 0)
        return rc;
    /* The browser may live for hours: reap it off the request's thread. */
    pthread_attr_init(&thread_attr);
    pthread_attr_setdetachstate(&thread_attr, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&thread, &thread_attr, reap, (void *)(intptr_t)pid) != 0)
        waitpid(pid, NULL, WNOHANG);
    pthread_attr_destroy(&thread_attr);
    return 0;
}

int em_platform_open_url(const char *url, em_error *err)
{
    /* Only macOS's open opens URLs (on Linux, open may be openvt). */
#ifdef __APPLE__
    char *opener[] = {"open", (char *)url, NULL};
#else
    char *opener[] = {"xdg-open", (char *)url, NULL};
#endif
    int why = em_platform_spawn_detached(opener);

    if (why != 0)
        return em_error_set(err, EM_ENOTFOUND, "%s could not be started (%s)", opener[0], strerror(why));
    return EM_OK;
}

/* Linux waits on the monotonic clock (a clock change never stretches a
 * wait); macOS's condition variables know only the wall clock. */
#ifdef __APPLE__
#define COND_CLOCK CLOCK_REALTIME
#else
#define COND_CLOCK CLOCK_MONOTONIC
#endif

void em_platform_cond_init(pthread_cond_t *cond)
{
#ifdef __APPLE__
    pthread_cond_init(cond, NULL);
#else
    pthread_condattr_t attr;

    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, COND_CLOCK);
    pthread_cond_init(cond, &attr);
    pthread_condattr_destroy(&attr);
#endif
}

clockid_t em_platform_cond_clock(void)
{
    return COND_CLOCK;
}
