/* test_descriptors.c - nothing of the helper's reaches the browser: every
 * descriptor it (and curl, and libmicrohttpd) opens is close-on-exec, and
 * the browser starts with stdin, stdout and stderr on /dev/null and nothing
 * else (issue 13, item 5). Linux: it reads /proc/<pid>/fd. The Windows side
 * (CreateProcessW without inherited handles) is platform/win32/process.c.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "test_util.h"
#include "identity/browser.h"
#include "identity/loopback.h"
#include "net/http.h"
#include "util/buf.h"
#include "fake_server.h"

static char dir[256];
static int leaked_socket = -1, leaked_file = -1;
static bool present_before[4096];   /* inherited from whoever ran the test */

static int make_dir(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/em-descriptors-XXXXXX");
    return mkdtemp(dir) != NULL ? 0 : -1;
}

static int remove_dir(void **state)
{
    (void)state;
    unsetenv("BROWSER");
    close(leaked_socket);
    close(leaked_file);
    return test_remove_tree(dir);
}

/* Descriptors 3 and up of this process without FD_CLOEXEC, listed in out
 * as "fd -> target; " (empty: none), leaving out those marked in
 * present_before; with mark, marks them instead. */
static void inheritable_descriptors(char *out, size_t size, bool mark)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    size_t n = 0;

    out[0] = '\0';
    assert_non_null(d);
    while ((e = readdir(d)) != NULL) {
        char link[300], target[256] = "";
        int fd = atoi(e->d_name), flags;
        ssize_t len;

        if (e->d_name[0] == '.' || fd < 3 || fd == dirfd(d) ||
            (fd < (int)(sizeof present_before) && present_before[fd]))
            continue;
        flags = fcntl(fd, F_GETFD);
        if (flags < 0 || (flags & FD_CLOEXEC) != 0)
            continue;
        if (mark && fd < (int)(sizeof present_before)) {
            present_before[fd] = true;
            continue;
        }
        snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
        len = readlink(link, target, sizeof target - 1);
        target[len > 0 ? len : 0] = '\0';
        n += (size_t)snprintf(out + n, n < size ? size - n : 0, "%d -> %s; ", fd, target);
    }
    closedir(d);
}

/* ---- the browser's descriptors ---- */

/* $BROWSER is this script: find (its child) lists the shell's descriptors
 * from /proc into the file "seen", which find opens itself (a shell
 * redirection would open it in the shell), then it is renamed into place. */
static void write_fake_browser(char *script, size_t size, char *seen, size_t seen_size)
{
    FILE *f;

    snprintf(script, size, "%s/browser.sh", dir);
    snprintf(seen, seen_size, "%s/seen", dir);
    f = fopen(script, "w");
    assert_non_null(f);
    fprintf(f, "#!/bin/sh\n"
               "find /proc/$$/fd -mindepth 1 -fprintf '%s.tmp' '%%f %%l\\n'\n"
               "mv '%s.tmp' '%s'\n", seen, seen, seen);
    fclose(f);
    assert_int_equal(chmod(script, 0700), 0);
}

static void test_browser_gets_null_stdio_only(void **state)
{
    char script[300], seen[300], line[600], expected[320];
    em_error err = {0};
    FILE *f = NULL;
    int lines = 0;

    (void)state;
    leaked_socket = socket(AF_INET, SOCK_STREAM, 0);       /* as curl 7.88 makes them */
    leaked_file = open("/dev/zero", O_RDONLY);
    assert_true(leaked_socket >= 3 && leaked_file >= 3);
    write_fake_browser(script, sizeof script, seen, sizeof seen);
    setenv("BROWSER", script, 1);
    assert_int_equal(em_browser_open("https://login.example/authorize?x=1", &err), EM_OK);
    for (int i = 0; i < 200 && (f = fopen(seen, "r")) == NULL; i++)
        usleep(50 * 1000);
    assert_non_null(f);
    /* "<fd> <target>" */
    while (fgets(line, sizeof line, f) != NULL) {
        const char *target = strchr(line, ' ') + 1;

        line[strcspn(line, "\n")] = '\0';
        lines++;
        if (atoi(line) <= 2) {
            assert_string_equal(target, "/dev/null");
        } else {
            /* The shell's own descriptor on the script it runs. */
            snprintf(expected, sizeof expected, "%s", script);
            assert_string_equal(target, expected);
        }
    }
    fclose(f);
    assert_true(lines >= 3);
}

/* ---- every descriptor of the helper's is close-on-exec ---- */

typedef struct audit {
    char inheritable[1024];
} audit;

/* Runs while curl's connection is open (and the listener listens). */
static void audit_route(void *ctx, struct MHD_Connection *conn, const char *url, const char *form,
                        int *status, em_buf *body, char *location, size_t location_size)
{
    audit *a = ctx;

    (void)conn;
    (void)url;
    (void)form;
    (void)location;
    (void)location_size;
    inheritable_descriptors(a->inheritable, sizeof a->inheritable, false);
    *status = 200;
    em_buf_puts(body, "{}");
}

static void test_every_descriptor_closes_on_exec(void **state)
{
    pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    audit a = {{0}};
    fake_server server = {0};
    em_loopback_expect expect = {"state-1", NULL, false};
    em_loopback *lb = NULL;
    em_http_response resp;
    em_http_request req = {0};
    em_error err = {0};
    char url[128];

    (void)state;
    inheritable_descriptors(a.inheritable, sizeof a.inheritable, true);
    strcpy(a.inheritable, "(not audited)");
    server.route = audit_route;
    server.ctx = &a;
    server.lock = &lock;
    assert_true(fake_server_start(&server));
    assert_int_equal(em_loopback_start(&lb, &expect, NULL, &err), EM_OK);
    snprintf(url, sizeof url, "%s/audit", server.base);
    req.method = "GET";
    req.url = url;
    assert_int_equal(em_http_perform(&resp, &req, NULL, &err), EM_OK);
    assert_int_equal(resp.status, 200);
    em_http_response_free(&resp);
    assert_string_equal(a.inheritable, "");
    em_loopback_free(&lb);
    MHD_stop_daemon(server.daemon);
}

static int global_setup(void **state)
{
    em_error err = {0};

    (void)state;
    return em_http_global_init(&err) == EM_OK ? 0 : -1;
}

static int global_teardown(void **state)
{
    (void)state;
    em_http_global_cleanup();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_browser_gets_null_stdio_only, make_dir, remove_dir),
        cmocka_unit_test(test_every_descriptor_closes_on_exec),
    };

    return cmocka_run_group_tests(tests, global_setup, global_teardown);
}
