/* test_cache.c - the token cache: format, modes, atomic writes, set-aside,
 * expiry and scope rules, reload, the lock across threads and processes. */
#define _DEFAULT_SOURCE     /* mkdtemp */
#define _XOPEN_SOURCE 700   /* nftw */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util/buf.h"
#include "cache/cache.h"
#include "util/json.h"
#include "protocol/rpc.h"

#define NOW ((time_t)1700000000)
#define ENV "login.microsoftonline.com"
#define CLIENT "fb78d390-0c51-40cd-8e17-fdbfab77341b"
#define OID "00000000-0000-0000-0000-0000000000a1"
#define TID "11111111-2222-3333-4444-555555555555"
#define HOME_ID OID "." TID
#define SCOPE "https://outlook.office365.com/.default openid profile offline_access"

typedef struct fixture {
    char dir[64];
    char file[128];
} fixture;

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);

    if (f == NULL)
        return -1;
    strcpy(f->dir, "/tmp/emcache-XXXXXX");
    if (mkdtemp(f->dir) == NULL)
        return -1;
    snprintf(f->file, sizeof f->file, "%s/" EM_CACHE_FILE_NAME, f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;

    nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    assert_int_equal(em_json_outstanding(), 0);
    return 0;
}

static em_cache *open_cache_at(const char *dir)
{
    em_cache *c = NULL;
    em_error err = {0};

    assert_int_equal(em_cache_open(&c, dir, &err), EM_OK);
    return c;
}

static em_cache *open_cache(const fixture *f)
{
    return open_cache_at(f->dir);
}

static void lock(em_cache *c)
{
    em_error err = {0};

    assert_int_equal(em_cache_lock(c, 5000, NULL, &err), EM_OK);
}

static em_cache_entry sample(const char *oid, const char *upn, const char *at, time_t expires,
                             const char *rt)
{
    em_cache_entry e = {0};

    e.local_account_id = oid;
    e.realm = TID;
    e.environment = ENV;
    e.client_id = CLIENT;
    e.target = SCOPE;
    e.username = upn;
    e.access_token = at;
    e.expires_on = expires;
    e.refresh_on = expires - 1800;
    e.refresh_token = rt;
    e.id_token = "header.idtoken.sig";
    return e;
}

static void store(em_cache *c, const em_cache_entry *e)
{
    em_error err = {0};

    lock(c);
    assert_int_equal(em_cache_store(c, e, NOW, &err), EM_OK);
    em_cache_unlock(c);
}

static yajl_val parse_file(const char *path)
{
    yajl_val v = NULL;
    em_error err = {0};
    size_t len = 0;
    char *text = NULL;
    FILE *fp = fopen(path, "rb");

    assert_non_null(fp);
    text = malloc(EM_CACHE_MAX_FILE);
    assert_non_null(text);
    len = fread(text, 1, EM_CACHE_MAX_FILE, fp);
    fclose(fp);
    assert_int_equal(em_json_parse(&v, text, len, &err), EM_OK);
    free(text);
    return v;
}

static void write_file(const char *path, const char *text, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);

    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    assert_int_equal(fchmod(fd, mode), 0);
    close(fd);
}

/* Names of the folder other than . and .. joined by spaces. */
static void list_dir(char *out, size_t size, const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;

    out[0] = '\0';
    assert_non_null(d);
    for (e = readdir(d); e != NULL; e = readdir(d)) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        strncat(out, e->d_name, size - strlen(out) - 2);
        strcat(out, " ");
    }
    closedir(d);
}

static bool has_aside(const char *dir)
{
    char names[1024];

    list_dir(names, sizeof names, dir);
    return strstr(names, EM_CACHE_FILE_NAME ".corrupt-") != NULL;
}

static void assert_aside_mode_0600(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char path[512];
    struct stat st;
    int found = 0;

    assert_non_null(d);
    for (e = readdir(d); e != NULL; e = readdir(d)) {
        if (strncmp(e->d_name, EM_CACHE_FILE_NAME ".corrupt-", 20) != 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        assert_int_equal(lstat(path, &st), 0);
        if (S_ISREG(st.st_mode))
            assert_int_equal(st.st_mode & 0777, 0600);
        found++;
    }
    closedir(d);
    assert_true(found > 0);
}

static long ms_since(const struct timespec *start)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return (long)(now.tv_sec - start->tv_sec) * 1000 + (now.tv_nsec - start->tv_nsec) / 1000000;
}

/* ---- tests ---- */

static void test_round_trip(void **state)
{
    fixture *f = *state;
    em_cache *c = open_cache(f);
    em_cache_entry e = sample(OID, "Admin@Contoso.onmicrosoft.com", "at-secret", NOW + 3600, "rt-secret");
    em_cache_token *at = NULL, *rt = NULL;
    em_cache_accounts *accounts = NULL;
    em_tokens *tokens = NULL;
    em_error err = {0};
    yajl_val root, v;

    store(c, &e);
    em_cache_close(&c);
    assert_null(c);

    c = open_cache(f);
    lock(c);
    assert_int_equal(em_cache_find_access_token(&at, c, HOME_ID, ENV, CLIENT, TID,
                                                "offline_access HTTPS://Outlook.Office365.com/.default",
                                                NOW, &err), EM_OK);
    assert_string_equal(at->secret, "at-secret");
    assert_string_equal(at->target, "https://outlook.office365.com/.default openid profile offline_access");
    assert_int_equal(at->expires_on, NOW + 3600);
    assert_int_equal(at->refresh_on, NOW + 1800);
    assert_int_equal(at->cached_at, NOW);
    assert_int_equal(em_cache_find_refresh_token(&rt, c, HOME_ID, ENV, CLIENT, &err), EM_OK);
    assert_string_equal(rt->secret, "rt-secret");
    assert_int_equal(em_cache_find_accounts(&accounts, c, ENV, CLIENT, "admin@contoso.ONMICROSOFT.com",
                                            &err), EM_OK);
    assert_int_equal(accounts->count, 1);
    assert_string_equal(accounts->items[0].home_account_id, HOME_ID);
    assert_string_equal(accounts->items[0].realm, TID);
    assert_string_equal(accounts->items[0].local_account_id, OID);
    assert_string_equal(accounts->items[0].username, "Admin@Contoso.onmicrosoft.com");
    assert_int_equal(em_cache_load_tokens(&tokens, c, &accounts->items[0], CLIENT, SCOPE, NOW, &err),
                     EM_OK);
    assert_string_equal(tokens->access_token, "at-secret");
    assert_string_equal(tokens->refresh_token, "rt-secret");
    assert_string_equal(tokens->id_token, "header.idtoken.sig");
    assert_string_equal(tokens->tenant_id, TID);
    assert_string_equal(tokens->object_id, OID);
    assert_int_equal(tokens->expires_at, NOW + 3600);
    assert_int_equal(tokens->refresh_at, NOW + 1800);
    em_tokens_free(&tokens);
    /* Later: the access token is expired but the refresh token still serves. */
    assert_int_equal(em_cache_load_tokens(&tokens, c, &accounts->items[0], CLIENT, SCOPE,
                                          NOW + 7200, &err), EM_OK);
    assert_null(tokens->access_token);
    assert_string_equal(tokens->refresh_token, "rt-secret");
    em_tokens_free(&tokens);
    em_cache_accounts_free(&accounts);
    assert_int_equal(em_cache_find_accounts(&accounts, c, ENV, CLIENT, "other@contoso.com", &err),
                     EM_ENOTFOUND);
    assert_int_equal(em_cache_find_accounts(&accounts, c, ENV, "another-client", NULL, &err),
                     EM_ENOTFOUND);
    assert_int_equal(em_cache_find_accounts(&accounts, c, "login.microsoftonline.us", NULL, NULL, &err),
                     EM_ENOTFOUND);
    em_cache_unlock(c);
    em_cache_token_free(&at);
    em_cache_token_free(&rt);
    assert_null(at);
    em_cache_close(&c);

    /* MSAL's shape, keys lower case, timestamps as strings. */
    root = parse_file(f->file);
    v = em_json_get(em_json_get(root, "AccessToken"),
                    HOME_ID "-" ENV "-accesstoken-" CLIENT "-" TID
                    "-https://outlook.office365.com/.default openid profile offline_access");
    assert_non_null(v);
    assert_string_equal(em_json_get_string(v, "credential_type"), "AccessToken");
    assert_string_equal(em_json_get_string(v, "expires_on"), "1700003600");
    assert_string_equal(em_json_get_string(v, "extended_expires_on"), "1700003600");
    assert_string_equal(em_json_get_string(v, "refresh_on"), "1700001800");
    assert_string_equal(em_json_get_string(v, "cached_at"), "1700000000");
    v = em_json_get(em_json_get(root, "RefreshToken"), HOME_ID "-" ENV "-refreshtoken-" CLIENT "--");
    assert_string_equal(em_json_get_string(v, "secret"), "rt-secret");
    assert_null(em_json_get(v, "realm"));
    v = em_json_get(em_json_get(root, "IdToken"), HOME_ID "-" ENV "-idtoken-" CLIENT "-" TID "-");
    assert_string_equal(em_json_get_string(v, "secret"), "header.idtoken.sig");
    v = em_json_get(em_json_get(root, "Account"), HOME_ID "-" ENV "-" TID);
    assert_string_equal(em_json_get_string(v, "authority_type"), "MSSTS");
    assert_string_equal(em_json_get_string(v, "username"), "Admin@Contoso.onmicrosoft.com");
    v = em_json_get(em_json_get(root, "AppMetadata"), "appmetadata-" ENV "-" CLIENT);
    assert_string_equal(em_json_get_string(v, "client_id"), CLIENT);
    v = em_json_get(root, "ExchangeMfa");
    {
        long long version = 0;

        assert_true(em_json_get_int(&version, v, "cache_version"));
        assert_int_equal(version, EM_CACHE_VERSION);
    }
    em_json_free(&root);
}

static void test_entry_from_tokens(void **state)
{
    fixture *f = *state;
    em_cache *c = open_cache(f);
    em_tokens t = {0};
    em_cache_entry e;
    em_cache_token *at = NULL;
    em_error err = {0};

    t.access_token = "at-from-tokens";
    t.refresh_token = "rt-from-tokens";
    t.expires_at = NOW + 3600;
    t.refresh_at = NOW + 3000;
    t.tenant_id = TID;
    t.object_id = OID;
    t.username = "admin@contoso.onmicrosoft.com";
    em_cache_entry_from_tokens(&e, &t, ENV, CLIENT, SCOPE);
    store(c, &e);
    lock(c);
    assert_int_equal(em_cache_find_access_token(&at, c, HOME_ID, ENV, CLIENT, TID, SCOPE, NOW, &err),
                     EM_OK);
    assert_string_equal(at->secret, "at-from-tokens");
    assert_int_equal(at->refresh_on, NOW + 3000);
    em_cache_token_free(&at);
    em_cache_unlock(c);
    em_cache_close(&c);
}

static void test_modes(void **state)
{
    fixture *f = *state;
    char sub[128], file[256], names[1024];
    em_cache *c = NULL;
    em_cache_entry e = sample(OID, "a@b", "at", NOW + 3600, "rt");
    em_error err = {0};
    struct stat st;
    mode_t old;

    /* A folder (and its missing parents) created 0700, whatever the umask. */
    snprintf(sub, sizeof sub, "%s/a/b/" EM_CACHE_DIR_NAME, f->dir);
    old = umask(0);
    assert_int_equal(em_cache_open(&c, sub, &err), EM_OK);
    assert_int_equal(stat(sub, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    snprintf(file, sizeof file, "%s/a", f->dir);
    assert_int_equal(stat(file, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    store(c, &e);
    umask(old);
    snprintf(file, sizeof file, "%s/" EM_CACHE_FILE_NAME, sub);
    assert_int_equal(stat(file, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    snprintf(file, sizeof file, "%s/" EM_CACHE_LOCK_NAME, sub);
    assert_int_equal(stat(file, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    /* No temp file is left behind. */
    list_dir(names, sizeof names, sub);
    assert_true(strcmp(names, "tokens.json tokens.lock ") == 0 ||
                strcmp(names, "tokens.lock tokens.json ") == 0);
    assert_false(em_cache_take_warning(c, names, sizeof names));
    em_cache_close(&c);

    /* A temp file left by a writer that died is removed under the lock. */
    snprintf(file, sizeof file, "%s/" EM_CACHE_FILE_NAME ".tmp-0123456789abcdef", sub);
    write_file(file, "{\"half", 0600);
    c = open_cache_at(sub);
    lock(c);
    em_cache_unlock(c);
    em_cache_close(&c);
    assert_int_equal(access(file, F_OK), -1);

    /* A folder of ours open to others is narrowed, with a warning. */
    assert_int_equal(chmod(sub, 0755), 0);
    assert_int_equal(em_cache_open(&c, sub, &err), EM_OK);
    assert_int_equal(stat(sub, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    assert_true(em_cache_take_warning(c, names, sizeof names));
    assert_non_null(strstr(names, "0755"));
    assert_false(em_cache_take_warning(c, names, sizeof names));
    em_cache_close(&c);

    /* A shared, sticky folder (a /tmp given by mistake): refused, untouched. */
    snprintf(file, sizeof file, "%s/shared", f->dir);
    assert_int_equal(mkdir(file, 0700), 0);
    assert_int_equal(chmod(file, 01777), 0);
    assert_int_equal(em_cache_open(&c, file, &err), EM_EACCESS);
    assert_null(c);
    assert_int_equal(stat(file, &st), 0);
    assert_int_equal(st.st_mode & 07777, 01777);

    /* Not a folder: refused. */
    snprintf(file, sizeof file, "%s/plain", f->dir);
    write_file(file, "x", 0600);
    assert_int_equal(em_cache_open(&c, file, &err), EM_EACCESS);
    assert_null(c);
}

/* Hostile layouts (issue 13, item 4): the folder is never reached through
 * a link, never in a parent others can write to without the sticky bit or
 * that another user owns, and once checked it is the folder written to,
 * even when its path is swapped for a link afterwards. */
static void test_hostile_folder_layouts(void **state)
{
    fixture *f = *state;
    char target[128], link[160], parent[128], sub[192], moved[192], file[256];
    em_cache *c = NULL;
    em_cache_entry e = sample(OID, "a@b", "at", NOW + 3600, "rt");
    em_error err = {0};
    struct stat st;

    /* A link to a folder of ours that is open to others: refused, the
     * target neither narrowed nor written to. */
    snprintf(target, sizeof target, "%s/target", f->dir);
    snprintf(link, sizeof link, "%s/link", f->dir);
    assert_int_equal(mkdir(target, 0755), 0);
    assert_int_equal(chmod(target, 0755), 0);
    assert_int_equal(symlink(target, link), 0);
    assert_int_equal(em_cache_open(&c, link, &err), EM_EACCESS);
    assert_null(c);
    assert_non_null(strstr(err.message, "is a symbolic link"));
    assert_int_equal(stat(target, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0755);

    /* A parent every user can write to, without the sticky bit: refused. */
    snprintf(parent, sizeof parent, "%s/open", f->dir);
    snprintf(sub, sizeof sub, "%s/" EM_CACHE_DIR_NAME, parent);
    assert_int_equal(mkdir(parent, 0700), 0);
    assert_int_equal(chmod(parent, 0777), 0);
    assert_int_equal(em_cache_open(&c, sub, &err), EM_EACCESS);
    assert_null(c);
    assert_non_null(strstr(err.message, "which every user can write to (mode 0777"));
    /* With the sticky bit (as /tmp): only the folder's owner may rename it. */
    assert_int_equal(chmod(parent, 01777), 0);
    c = open_cache_at(sub);
    em_cache_close(&c);
    /* A parent another user owns: refused (root only can give it away). */
    if (geteuid() == 0) {
        assert_int_equal(chmod(parent, 0755), 0);
        assert_int_equal(chown(parent, 65534, 65534), 0);
        assert_int_equal(em_cache_open(&c, sub, &err), EM_EACCESS);
        assert_non_null(strstr(err.message, "belongs to another user (uid 65534) who could replace it"));
        assert_int_equal(chown(parent, 0, 0), 0);
    }

    /* Swapped after the check: the folder is moved away and a link to an
     * open folder put in its place. Writing goes on in the folder that was
     * checked (through its descriptor); the link's target gets nothing. */
    snprintf(sub, sizeof sub, "%s/swapped", f->dir);
    snprintf(moved, sizeof moved, "%s/moved", f->dir);
    c = open_cache_at(sub);
    assert_int_equal(rename(sub, moved), 0);
    assert_int_equal(symlink(target, sub), 0);
    store(c, &e);
    em_cache_close(&c);
    snprintf(file, sizeof file, "%s/" EM_CACHE_FILE_NAME, target);
    assert_int_equal(access(file, F_OK), -1);
    snprintf(file, sizeof file, "%s/" EM_CACHE_LOCK_NAME, target);
    assert_int_equal(access(file, F_OK), -1);
    snprintf(file, sizeof file, "%s/" EM_CACHE_FILE_NAME, moved);
    assert_int_equal(stat(file, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(stat(target, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0755);
}

static void test_foreign_folder_refused(void **state)
{
    fixture *f = *state;
    em_cache *c = NULL;
    em_error err = {0};

    if (geteuid() != 0)
        skip();     /* only root can give a folder away */
    assert_int_equal(chown(f->dir, 65534, 65534), 0);
    assert_int_equal(em_cache_open(&c, f->dir, &err), EM_EACCESS);
    assert_null(c);
    assert_non_null(strstr(err.message, "another user"));
    assert_int_equal(chown(f->dir, 0, 0), 0);
}

/* A child rewrites the cache with large, changing secrets while the parent
 * reads the file without any lock: every read must be a whole file. */
static void test_reader_never_sees_half(void **state)
{
    fixture *f = *state;
    em_cache *c = open_cache(f);
    em_cache_entry e = sample(OID, "a@b", "first", NOW + 3600, "rt");
    struct timespec start;
    int reads = 0, status = 0;
    pid_t pid;

    store(c, &e);
    em_cache_close(&c);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        em_cache *cc = NULL;
        em_error err = {0};
        size_t size = 100000;
        char *big = malloc(size + 1);
        int i;

        if (big == NULL || em_cache_open(&cc, f->dir, &err) != EM_OK)
            _exit(2);
        clock_gettime(CLOCK_MONOTONIC, &start);
        for (i = 0;; i++) {
            em_cache_entry ce = sample(OID, "a@b", big, NOW + 3600, "rt");

            memset(big, 'a' + i % 26, size);
            big[size - (size_t)(i % 5000)] = '\0';  /* the size changes too */
            if (em_cache_lock(cc, 5000, NULL, &err) != EM_OK || em_cache_store(cc, &ce, NOW, &err) != EM_OK)
                _exit(3);
            em_cache_unlock(cc);
            if (ms_since(&start) >= 800 && i > 5)
                break;
        }
        em_cache_close(&cc);
        free(big);
        _exit(0);
    }
    for (;;) {
        em_buf text = EM_BUF_INIT;
        em_error err = {0};
        char chunk[65536];
        ssize_t n;
        int fd = open(f->file, O_RDONLY);

        assert_true(fd >= 0);
        for (n = read(fd, chunk, sizeof chunk); n > 0; n = read(fd, chunk, sizeof chunk))
            assert_int_equal(em_buf_append(&text, chunk, (size_t)n), EM_OK);
        close(fd);
        assert_int_equal(em_cache_check_text(text.data, text.len, &err), EM_OK);
        em_buf_free(&text);
        reads++;
        if (waitpid(pid, &status, WNOHANG) == pid)
            break;
    }
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_true(reads > 10);
}

static void expect_set_aside(const fixture *f, const char *content, mode_t mode, const char *why)
{
    em_cache *c = open_cache(f);
    em_cache_entry e = sample(OID, "a@b", "fresh", NOW + 3600, "rt");
    em_cache_token *at = NULL;
    em_error err = {0};
    char warning[EM_ERROR_MESSAGE_MAX];

    write_file(f->file, content, mode);
    lock(c);
    assert_true(em_cache_take_warning(c, warning, sizeof warning));
    assert_non_null(strstr(warning, "set aside"));
    assert_non_null(strstr(warning, why));
    assert_true(has_aside(f->dir));
    assert_aside_mode_0600(f->dir);
    assert_int_equal(access(f->file, F_OK), -1);
    assert_int_equal(em_cache_find_access_token(&at, c, HOME_ID, ENV, CLIENT, TID, SCOPE, NOW, &err),
                     EM_ENOTFOUND);
    /* A fresh cache works. */
    assert_int_equal(em_cache_store(c, &e, NOW, &err), EM_OK);
    em_cache_unlock(c);
    em_cache_close(&c);
    c = open_cache(f);
    lock(c);
    assert_false(em_cache_take_warning(c, warning, sizeof warning));
    assert_int_equal(em_cache_find_access_token(&at, c, HOME_ID, ENV, CLIENT, TID, SCOPE, NOW, &err),
                     EM_OK);
    assert_string_equal(at->secret, "fresh");
    em_cache_token_free(&at);
    em_cache_unlock(c);
    em_cache_close(&c);
}

static void remove_asides(const fixture *f)
{
    char cmd[256];

    snprintf(cmd, sizeof cmd, "rm -f %s/" EM_CACHE_FILE_NAME ".corrupt-*", f->dir);
    assert_int_equal(system(cmd), 0);
}

static void test_corrupt_set_aside(void **state)
{
    fixture *f = *state;

    expect_set_aside(f, "this is not json {", 0600, "not a token cache");
    remove_asides(f);
    expect_set_aside(f, "[1, 2, 3]", 0600, "top level");
    remove_asides(f);
    expect_set_aside(f, "{\"AccessToken\": [\"x\"]}", 0600, "AccessToken");
    remove_asides(f);
    expect_set_aside(f, "{\"RefreshToken\": {\"k\": \"v\"}}", 0600, "RefreshToken");
    remove_asides(f);
    expect_set_aside(f, "", 0600, "not a token cache");
}

static void test_foreign_file_set_aside(void **state)
{
    fixture *f = *state;
    em_cache *c = NULL;
    char target[160], warning[EM_ERROR_MESSAGE_MAX];
    em_error err = {0};
    struct stat st;

    /* Readable by others: the tokens may have leaked; set aside (0600). */
    expect_set_aside(f, "{}", 0644, "mode 0644");
    remove_asides(f);
    expect_set_aside(f, "{}", 0620, "open to other users");
    remove_asides(f);

    /* A symbolic link is not followed. */
    snprintf(target, sizeof target, "%s/elsewhere.json", f->dir);
    write_file(target, "{}", 0600);
    assert_int_equal(unlink(f->file), 0);
    assert_int_equal(symlink(target, f->file), 0);
    c = open_cache(f);
    lock(c);
    assert_true(em_cache_take_warning(c, warning, sizeof warning));
    assert_non_null(strstr(warning, "symbolic link"));
    em_cache_unlock(c);
    em_cache_close(&c);
    assert_int_equal(stat(target, &st), 0);     /* the link's target is untouched */
    remove_asides(f);

    if (geteuid() != 0) {
        /* Ours but unreadable (root reads anything, so only as a user). */
        expect_set_aside(f, "{}", 0000, "cannot be read");
        remove_asides(f);
    }
    if (geteuid() == 0) {
        /* Owned by someone else. */
        write_file(f->file, "{}", 0600);
        assert_int_equal(chown(f->file, 65534, 65534), 0);
        c = open_cache(f);
        assert_int_equal(em_cache_lock(c, 1000, NULL, &err), EM_OK);
        assert_true(em_cache_take_warning(c, warning, sizeof warning));
        assert_non_null(strstr(warning, "another user"));
        em_cache_unlock(c);
        em_cache_close(&c);
        assert_true(has_aside(f->dir));
    }
}

static void test_expiry_margin(void **state)
{
    fixture *f = *state;
    em_cache *c = open_cache(f);
    em_cache_entry e = sample(OID, "a@b", "at", NOW + 3600, "rt");
    em_cache_token *at = NULL;
    em_error err = {0};

    store(c, &e);
    lock(c);
    /* 301 s left: usable; 300 s or less: expired (MSAL's 5 minutes). */
    assert_int_equal(em_cache_find_access_token(&at, c, HOME_ID, ENV, CLIENT, TID, SCOPE,
                                                NOW + 3600 - 301, &err), EM_OK);
    em_cache_token_free(&at);
    assert_int_equal(em_cache_find_access_token(&at, c, HOME_ID, ENV, CLIENT, TID, SCOPE,
                                                NOW + 3600 - 300, &err), EM_ENOTFOUND);
    assert_null(at);
    assert_int_equal(em_cache_find_access_token(&at, c, HOME_ID, ENV, CLIENT, TID, SCOPE,
                                                NOW + 4000, &err), EM_ENOTFOUND);
    /* Past refresh_on it is still returned: the caller decides to refresh. */
    assert_int_equal(em_cache_find_access_token(&at, c, HOME_ID, ENV, CLIENT, TID, SCOPE,
                                                NOW + 2000, &err), EM_OK);
    assert_true(at->refresh_on <= NOW + 2000);
    em_cache_token_free(&at);
    /* Other account, client, realm, environment: not found. */
    assert_int_equal(em_cache_find_access_token(&at, c, "x.y", ENV, CLIENT, TID, SCOPE, NOW, &err),
                     EM_ENOTFOUND);
    assert_int_equal(em_cache_find_access_token(&at, c, HOME_ID, ENV, "other", TID, SCOPE, NOW, &err),
                     EM_ENOTFOUND);
    assert_int_equal(em_cache_find_access_token(&at, c, HOME_ID, ENV, CLIENT, "other", SCOPE, NOW, &err),
                     EM_ENOTFOUND);
    assert_int_equal(em_cache_find_access_token(&at, c, HOME_ID, "login.microsoftonline.us", CLIENT,
                                                TID, SCOPE, NOW, &err), EM_ENOTFOUND);
    /* Case does not matter in ids. */
    assert_int_equal(em_cache_find_access_token(&at, c, "00000000-0000-0000-0000-0000000000A1." TID,
                                                "LOGIN.microsoftonline.com", CLIENT, TID, SCOPE,
                                                NOW, &err), EM_OK);
    em_cache_token_free(&at);
    em_cache_unlock(c);
    em_cache_close(&c);
}

static size_t section_len(const fixture *f, const char *name)
{
    yajl_val root = parse_file(f->file);
    yajl_val sec = em_json_get(root, name);
    size_t n = YAJL_IS_OBJECT(sec) ? sec->u.object.len : 0;

    em_json_free(&root);
    return n;
}

static void test_scope_matching(void **state)
{
    fixture *f = *state;
    em_cache *c = open_cache(f);
    em_cache_entry e = sample(OID, "a@b", "exo", NOW + 3600, "rt");
    em_cache_token *at = NULL;
    em_error err = {0};

    e.target = "  HTTPS://outlook.office365.com/.default  openid profile  offline_access openid";
    store(c, &e);
    e.target = "https://graph.microsoft.com/User.Read https://graph.microsoft.com/Mail.Read";
    e.access_token = "graph";
    store(c, &e);
    assert_int_equal(section_len(f, "AccessToken"), 2);
    lock(c);
    assert_int_equal(em_cache_find_access_token(&at, c, HOME_ID, ENV, CLIENT, TID,
                                                "https://outlook.office365.com/.default", NOW, &err),
                     EM_OK);
    assert_string_equal(at->secret, "exo");
    assert_string_equal(at->target, "https://outlook.office365.com/.default openid profile offline_access");
    em_cache_token_free(&at);
    assert_int_equal(em_cache_find_access_token(&at, c, HOME_ID, ENV, CLIENT, TID,
                                                "offline_access https://outlook.office365.com/.DEFAULT openid",
                                                NOW, &err), EM_OK);
    assert_string_equal(at->secret, "exo");
    em_cache_token_free(&at);
    assert_int_equal(em_cache_find_access_token(&at, c, HOME_ID, ENV, CLIENT, TID,
                                                "https://graph.microsoft.com/mail.read openid",
                                                NOW, &err), EM_OK);
    assert_string_equal(at->secret, "graph");
    em_cache_token_free(&at);
    /* Every scope asked for must be there. */
    assert_int_equal(em_cache_find_access_token(&at, c, HOME_ID, ENV, CLIENT, TID,
                                                "https://graph.microsoft.com/Mail.Read https://graph.microsoft.com/Mail.Send",
                                                NOW, &err), EM_ENOTFOUND);
    assert_int_equal(em_cache_find_access_token(&at, c, HOME_ID, ENV, CLIENT, TID,
                                                "https://outlook.office365.com/.default https://graph.microsoft.com/Mail.Read",
                                                NOW, &err), EM_ENOTFOUND);
    em_cache_unlock(c);
    /* A new token whose scopes overlap replaces the old one. */
    e.target = "https://graph.microsoft.com/Mail.Read";
    e.access_token = "graph2";
    store(c, &e);
    assert_int_equal(section_len(f, "AccessToken"), 2);
    lock(c);
    assert_int_equal(em_cache_find_access_token(&at, c, HOME_ID, ENV, CLIENT, TID,
                                                "https://graph.microsoft.com/User.Read", NOW, &err),
                     EM_ENOTFOUND);
    assert_int_equal(em_cache_find_access_token(&at, c, HOME_ID, ENV, CLIENT, TID,
                                                "https://graph.microsoft.com/Mail.Read", NOW, &err),
                     EM_OK);
    assert_string_equal(at->secret, "graph2");
    em_cache_token_free(&at);
    em_cache_unlock(c);
    em_cache_close(&c);
}

static void test_reload_and_unknown_members(void **state)
{
    fixture *f = *state;
    em_cache *c = NULL;
    em_cache_entry e = sample(OID, "a@b", "one", NOW + 3600, "rt");
    em_cache_token *at = NULL;
    em_error err = {0};
    yajl_val root;
    int status = 0;
    pid_t pid;

    write_file(f->file,
               "{\"Foreign\": {\"keep\": [1, true, null, \"x\"]},"
               " \"AccessToken\": {\"other-key\": {\"home_account_id\": \"z.z\", \"x_custom\": \"kept\"}},"
               " \"Account\": {}}", 0600);
    c = open_cache(f);
    store(c, &e);
    lock(c);
    assert_int_equal(em_cache_find_access_token(&at, c, HOME_ID, ENV, CLIENT, TID, SCOPE, NOW, &err),
                     EM_OK);
    assert_string_equal(at->secret, "one");
    em_cache_token_free(&at);
    em_cache_unlock(c);

    /* Another process replaces the access token. */
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        em_cache *cc = NULL;
        em_cache_entry ce = sample(OID, "a@b", "two", NOW + 3600, "rt");

        if (em_cache_open(&cc, f->dir, &err) != EM_OK || em_cache_lock(cc, 5000, NULL, &err) != EM_OK ||
            em_cache_store(cc, &ce, NOW, &err) != EM_OK)
            _exit(1);
        em_cache_unlock(cc);
        em_cache_close(&cc);
        _exit(0);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    lock(c);
    assert_int_equal(em_cache_find_access_token(&at, c, HOME_ID, ENV, CLIENT, TID, SCOPE, NOW, &err),
                     EM_OK);
    assert_string_equal(at->secret, "two");
    em_cache_token_free(&at);
    em_cache_unlock(c);

    /* Someone edits the file in place (same inode): noticed too. */
    write_file(f->file, "{}", 0600);
    lock(c);
    assert_int_equal(em_cache_find_access_token(&at, c, HOME_ID, ENV, CLIENT, TID, SCOPE, NOW, &err),
                     EM_ENOTFOUND);
    em_cache_unlock(c);
    em_cache_close(&c);

    /* What we did not write survived every rewrite but the last by hand;
     * check it with a fresh file. */
    write_file(f->file,
               "{\"Foreign\": {\"keep\": [1, true, null, \"x\"]},"
               " \"AccessToken\": {\"other-key\": {\"home_account_id\": \"z.z\", \"x_custom\": \"kept\"}}}",
               0600);
    c = open_cache(f);
    store(c, &e);
    em_cache_close(&c);
    root = parse_file(f->file);
    assert_int_equal(em_json_get(em_json_get(root, "Foreign"), "keep")->u.array.len, 4);
    assert_string_equal(em_json_get_string(em_json_get(em_json_get(root, "AccessToken"), "other-key"),
                                           "x_custom"), "kept");
    assert_non_null(em_json_get(root, "IdToken"));
    em_json_free(&root);
}

/* lock, read the counter (an access token's secret), add one, store. */
static int increment(em_cache *c)
{
    em_cache_token *at = NULL;
    em_error err = {0};
    char next[32];
    long n = 0;
    int rc;

    rc = em_cache_lock(c, 10000, NULL, &err);
    if (rc != EM_OK)
        return rc;
    rc = em_cache_find_access_token(&at, c, HOME_ID, ENV, CLIENT, TID, SCOPE, NOW, &err);
    if (rc == EM_OK)
        n = strtol(at->secret, NULL, 10);
    em_cache_token_free(&at);
    if (rc == EM_OK || rc == EM_ENOTFOUND) {
        em_cache_entry e = sample(OID, "a@b", next, NOW + 3600, NULL);

        snprintf(next, sizeof next, "%ld", n + 1);
        rc = em_cache_store(c, &e, NOW, &err);
    }
    em_cache_unlock(c);
    return rc;
}

static long read_counter(const fixture *f)
{
    em_cache *c = open_cache(f);
    em_cache_token *at = NULL;
    em_error err = {0};
    long n;

    lock(c);
    assert_int_equal(em_cache_find_access_token(&at, c, HOME_ID, ENV, CLIENT, TID, SCOPE, NOW, &err),
                     EM_OK);
    n = strtol(at->secret, NULL, 10);
    em_cache_token_free(&at);
    em_cache_unlock(c);
    em_cache_close(&c);
    return n;
}

static void test_processes_exclude(void **state)
{
    fixture *f = *state;
    pid_t pids[2];
    int i, status;

    for (i = 0; i < 2; i++) {
        pids[i] = fork();
        assert_true(pids[i] >= 0);
        if (pids[i] == 0) {
            em_cache *c = NULL;
            em_error err = {0};
            int k;

            if (em_cache_open(&c, f->dir, &err) != EM_OK)
                _exit(1);
            for (k = 0; k < 50; k++) {
                if (increment(c) != EM_OK)
                    _exit(2);
            }
            em_cache_close(&c);
            _exit(0);
        }
    }
    for (i = 0; i < 2; i++) {
        assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
    }
    assert_int_equal(read_counter(f), 100);
}

static void test_lock_released_when_killed(void **state)
{
    fixture *f = *state;
    em_cache *c = open_cache(f);
    struct timespec start;
    em_error err = {0};
    int fds[2], status;
    char ready = 0;
    long waited;
    pid_t pid;

    assert_int_equal(pipe(fds), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        em_cache *cc = NULL;

        close(fds[0]);
        alarm(20);      /* never outlives a failed test */
        if (em_cache_open(&cc, f->dir, &err) != EM_OK || em_cache_lock(cc, 5000, NULL, &err) != EM_OK)
            _exit(1);
        if (write(fds[1], "k", 1) != 1)
            _exit(2);
        for (;;)
            pause();
    }
    close(fds[1]);
    assert_int_equal(read(fds[0], &ready, 1), 1);
    close(fds[0]);
    /* Held by the child: we time out, within the time asked. */
    clock_gettime(CLOCK_MONOTONIC, &start);
    assert_int_equal(em_cache_lock(c, 200, NULL, &err), EM_ETIMEOUT);
    waited = ms_since(&start);
    assert_true(waited >= 200 && waited < 1000);
    assert_non_null(strstr(err.message, "another process"));
    /* Killed while holding it: the kernel released it. */
    assert_int_equal(kill(pid, SIGKILL), 0);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    clock_gettime(CLOCK_MONOTONIC, &start);
    assert_int_equal(em_cache_lock(c, 2000, NULL, &err), EM_OK);
    assert_true(ms_since(&start) < 500);
    em_cache_unlock(c);
    em_cache_close(&c);
}

typedef struct thread_arg {
    em_cache *cache;
    atomic_int *inside;
    int overlaps;
    int failures;
} thread_arg;

static void *increment_thread(void *p)
{
    thread_arg *a = p;
    em_cache_token *at = NULL;
    em_error err = {0};
    int k;

    for (k = 0; k < 50; k++) {
        char next[32];
        long n = 0;
        int rc;

        if (em_cache_lock(a->cache, 10000, NULL, &err) != EM_OK) {
            a->failures++;
            continue;
        }
        if (atomic_fetch_add(a->inside, 1) != 0)
            a->overlaps++;
        rc = em_cache_find_access_token(&at, a->cache, HOME_ID, ENV, CLIENT, TID, SCOPE, NOW, &err);
        if (rc == EM_OK)
            n = strtol(at->secret, NULL, 10);
        em_cache_token_free(&at);
        {
            em_cache_entry e = sample(OID, "a@b", next, NOW + 3600, NULL);

            snprintf(next, sizeof next, "%ld", n + 1);
            if (em_cache_store(a->cache, &e, NOW, &err) != EM_OK)
                a->failures++;
        }
        atomic_fetch_sub(a->inside, 1);
        em_cache_unlock(a->cache);
    }
    return NULL;
}

static void run_threads(const fixture *f, em_cache *one, em_cache *two, long expected)
{
    atomic_int inside = 0;
    thread_arg args[2] = {{one, &inside, 0, 0}, {two, &inside, 0, 0}};
    pthread_t threads[2];
    int i;

    for (i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&threads[i], NULL, increment_thread, &args[i]), 0);
    for (i = 0; i < 2; i++) {
        assert_int_equal(pthread_join(threads[i], NULL), 0);
        assert_int_equal(args[i].overlaps, 0);
        assert_int_equal(args[i].failures, 0);
    }
    assert_int_equal(read_counter(f), expected);
}

static void test_threads_exclude(void **state)
{
    fixture *f = *state;
    em_cache *c = open_cache(f);
    em_cache *d = open_cache(f);

    /* Two threads, one handle: the mutex. */
    run_threads(f, c, c, 100);
    /* Two threads, two handles of one process: the file lock. */
    run_threads(f, c, d, 200);
    em_cache_close(&c);
    em_cache_close(&d);
}

/* ---- cancellation through a real request (rpc.c) ---- */

typedef struct cancel_app {
    const char *dir;
    em_cache *shared;
    pthread_mutex_t lock;
    em_buf out;
    int lines;
} cancel_app;

static int cancel_write(void *ud, const char *line, size_t len)
{
    cancel_app *a = ud;

    pthread_mutex_lock(&a->lock);
    (void)em_buf_append(&a->out, line, len);
    a->lines++;
    pthread_mutex_unlock(&a->lock);
    return 0;
}

/* Waits for the cache lock: on the shared handle (the mutex) when params
 * has "shared", else on a handle of its own (the file lock). */
static int method_lock_wait(char **out, em_request *req, yajl_val params, void *app, em_error *err)
{
    cancel_app *a = app;
    em_cache *own = NULL;
    em_cache *c = a->shared;
    int rc;

    if (em_json_get(params, "shared") == NULL) {
        rc = em_cache_open(&own, a->dir, err);
        if (rc != EM_OK)
            return rc;
        c = own;
    }
    em_request_notify(req, "waiting", "{}");
    rc = em_cache_lock(c, 20000, req, err);
    if (rc == EM_OK)
        em_cache_unlock(c);
    em_cache_close(&own);
    if (rc == EM_OK)
        *out = strdup("{}");
    return rc;
}

static void wait_for_lines(cancel_app *a, int n)
{
    int i, lines = 0;

    for (i = 0; i < 500 && lines < n; i++) {
        pthread_mutex_lock(&a->lock);
        lines = a->lines;
        pthread_mutex_unlock(&a->lock);
        if (lines < n)
            usleep(10000);
    }
    assert_true(lines >= n);
}

static void cancel_while_waiting(cancel_app *a, const char *request)
{
    static const em_rpc_method methods[] = {{"lockWait", method_lock_wait}, {NULL, NULL}};
    em_rpc *rpc = NULL;
    struct timespec start;
    const char cancel[] = "{\"jsonrpc\":\"2.0\",\"method\":\"cancel\",\"params\":{\"id\":1}}\n";

    a->lines = 0;
    em_buf_free(&a->out);
    assert_int_equal(em_rpc_new(&rpc, methods, a, NULL, cancel_write, a), EM_OK);
    em_rpc_feed(rpc, request, strlen(request));
    wait_for_lines(a, 1);
    usleep(150000);     /* well into the wait */
    clock_gettime(CLOCK_MONOTONIC, &start);
    em_rpc_feed(rpc, cancel, strlen(cancel));
    em_rpc_wait_idle(rpc);
    assert_true(ms_since(&start) < 1000);
    assert_int_equal(a->lines, 2);
    assert_non_null(strstr(a->out.data, "\"id\":1,\"error\""));
    assert_non_null(strstr(a->out.data, "\"name\":\"Cancelled\""));
    em_rpc_free(&rpc);
}

static void test_lock_cancelled(void **state)
{
    fixture *f = *state;
    cancel_app a;

    memset(&a, 0, sizeof a);
    a.dir = f->dir;
    pthread_mutex_init(&a.lock, NULL);
    a.shared = open_cache(f);
    lock(a.shared);
    /* Another handle: waiting on the file lock. */
    cancel_while_waiting(&a, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"lockWait\"}\n");
    /* The same handle from another thread: waiting on the mutex. */
    cancel_while_waiting(&a, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"lockWait\",\"params\":{\"shared\":true}}\n");
    em_cache_unlock(a.shared);
    em_cache_close(&a.shared);
    em_buf_free(&a.out);
    pthread_mutex_destroy(&a.lock);
}

static void test_lock_rules(void **state)
{
    fixture *f = *state;
    em_cache *c = open_cache(f);
    em_cache *d = open_cache(f);
    em_cache_entry e = sample(OID, "a@b", "at", NOW + 3600, "rt");
    em_cache_token *at = NULL;
    em_error err = {0};

    /* Every access needs the lock of this thread. */
    assert_int_equal(em_cache_store(c, &e, NOW, &err), EM_EINVAL);
    assert_int_equal(em_cache_find_access_token(&at, c, HOME_ID, ENV, CLIENT, TID, SCOPE, NOW, &err),
                     EM_EINVAL);
    assert_int_equal(em_cache_remove_account(c, HOME_ID, ENV, &err), EM_EINVAL);
    lock(c);
    /* Not recursive, and one cache lock at a time per thread. */
    assert_int_equal(em_cache_lock(c, 100, NULL, &err), EM_EINVAL);
    assert_int_equal(em_cache_lock(d, 100, NULL, &err), EM_EINVAL);
    assert_int_equal(em_cache_find_access_token(&at, d, HOME_ID, ENV, CLIENT, TID, SCOPE, NOW, &err),
                     EM_EINVAL);
    /* Missing pieces. */
    e.environment = NULL;
    assert_int_equal(em_cache_store(c, &e, NOW, &err), EM_EINVAL);
    e = sample(NULL, "a@b", "at", NOW + 3600, "rt");
    assert_int_equal(em_cache_store(c, &e, NOW, &err), EM_EINVAL);
    e = sample(OID, "a@b", "at", NOW + 3600, "rt");
    e.realm = NULL;
    e.home_account_id = HOME_ID;
    assert_int_equal(em_cache_store(c, &e, NOW, &err), EM_EINVAL);
    em_cache_unlock(c);
    em_cache_unlock(c);     /* harmless */
    lock(d);
    em_cache_unlock(d);
    em_cache_close(&c);
    em_cache_close(&d);
}

/* The renewal lock (docs/cache.md, "Single flight"): one holder among all
 * handles and processes, a bounded wait, the cache lock free for others
 * meanwhile, never taken under the cache lock, dropped when its holder is
 * killed. */
static void test_renewal_lock(void **state)
{
    fixture *f = *state;
    em_cache *c = open_cache(f);
    em_cache *d = open_cache(f);
    em_cache_renewal *held = NULL, *other = NULL;
    em_error err = {0};
    pid_t child;
    int status;

    assert_int_equal(em_cache_renewal_begin(&held, c, 0, NULL, &err), EM_OK);
    assert_int_equal(em_cache_renewal_begin(&other, d, 100, NULL, &err), EM_ETIMEOUT);
    assert_null(other);
    assert_non_null(strstr(err.message, "renewal"));
    /* Another process waits in vain too, while the cache lock is free for it. */
    child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        em_cache *e = NULL;
        em_cache_renewal *r = NULL;
        bool ok = em_cache_open(&e, f->dir, NULL) == EM_OK &&
                  em_cache_renewal_begin(&r, e, 100, NULL, NULL) == EM_ETIMEOUT &&
                  em_cache_lock(e, 1000, NULL, NULL) == EM_OK;
        _exit(ok ? 0 : 1);
    }
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    /* Lock order: renewal, then cache; never the other way round. */
    lock(d);
    assert_int_equal(em_cache_renewal_begin(&other, d, 100, NULL, &err), EM_EINVAL);
    em_cache_unlock(d);
    em_cache_renewal_end(&held);
    assert_null(held);
    assert_int_equal(em_cache_renewal_begin(&other, d, 100, NULL, &err), EM_OK);
    em_cache_renewal_end(&other);
    em_cache_renewal_end(&other);   /* harmless */
    /* A holder killed: the system drops its lock. */
    child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        em_cache *e = NULL;
        em_cache_renewal *r = NULL;

        if (em_cache_open(&e, f->dir, NULL) == EM_OK && em_cache_renewal_begin(&r, e, 0, NULL, NULL) == EM_OK)
            kill(getpid(), SIGKILL);
        _exit(1);
    }
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(em_cache_renewal_begin(&other, d, 5000, NULL, &err), EM_OK);
    em_cache_renewal_end(&other);
    em_cache_close(&c);
    em_cache_close(&d);
}

static void test_remove_account(void **state)
{
    fixture *f = *state;
    em_cache *c = open_cache(f);
    em_cache_entry a = sample(OID, "a@contoso.com", "at-a", NOW + 3600, "rt-a");
    em_cache_entry b = sample("00000000-0000-0000-0000-0000000000b2", "b@contoso.com", "at-b",
                              NOW + 3600, "rt-b");
    em_cache_accounts *accounts = NULL;
    em_cache_token *t = NULL;
    em_error err = {0};

    store(c, &a);
    store(c, &b);
    assert_int_equal(section_len(f, "Account"), 2);
    lock(c);
    assert_int_equal(em_cache_remove_account(c, HOME_ID, ENV, &err), EM_OK);
    assert_int_equal(em_cache_find_access_token(&t, c, HOME_ID, ENV, CLIENT, TID, SCOPE, NOW, &err),
                     EM_ENOTFOUND);
    assert_int_equal(em_cache_find_refresh_token(&t, c, HOME_ID, ENV, CLIENT, &err), EM_ENOTFOUND);
    assert_int_equal(em_cache_find_refresh_token(&t, c, "00000000-0000-0000-0000-0000000000b2." TID,
                                                 ENV, CLIENT, &err), EM_OK);
    assert_string_equal(t->secret, "rt-b");
    em_cache_token_free(&t);
    assert_int_equal(em_cache_find_accounts(&accounts, c, ENV, NULL, NULL, &err), EM_OK);
    assert_int_equal(accounts->count, 1);
    assert_string_equal(accounts->items[0].username, "b@contoso.com");
    em_cache_accounts_free(&accounts);
    assert_null(accounts);
    /* Nothing left to remove: fine. */
    assert_int_equal(em_cache_remove_account(c, HOME_ID, ENV, &err), EM_OK);
    em_cache_unlock(c);
    em_cache_close(&c);
    assert_int_equal(section_len(f, "Account"), 1);
    assert_int_equal(section_len(f, "AccessToken"), 1);
    assert_int_equal(section_len(f, "RefreshToken"), 1);
    assert_int_equal(section_len(f, "IdToken"), 1);
    assert_int_equal(section_len(f, "AppMetadata"), 1);
}

static void test_ids(void **state)
{
    char out[128];
    em_tokens t = {0};
    em_error err = {0};

    (void)state;
    assert_int_equal(em_cache_environment(out, sizeof out,
                                          "https://Login.MicrosoftOnline.com/organizations", &err), EM_OK);
    assert_string_equal(out, "login.microsoftonline.com");
    assert_int_equal(em_cache_environment(out, sizeof out, "https://127.0.0.1:4443/t/v2.0?x", &err), EM_OK);
    assert_string_equal(out, "127.0.0.1:4443");
    assert_int_equal(em_cache_environment(out, sizeof out, "https://login.microsoftonline.us", &err), EM_OK);
    assert_string_equal(out, "login.microsoftonline.us");
    assert_int_equal(em_cache_environment(out, sizeof out, "http://login.microsoftonline.com/x", &err),
                     EM_EINVAL);
    assert_int_equal(em_cache_environment(out, sizeof out, "https:///x", &err), EM_EINVAL);
    assert_int_equal(em_cache_environment(out, sizeof out, "https://u@evil/x", &err), EM_EINVAL);
    assert_int_equal(em_cache_environment(out, 4, "https://login.microsoftonline.com", &err), EM_EINVAL);
    assert_int_equal(em_cache_home_account_id(out, sizeof out, &t, &err), EM_EINVAL);
    t.object_id = OID;
    t.tenant_id = TID;
    assert_int_equal(em_cache_home_account_id(out, sizeof out, &t, &err), EM_OK);
    assert_string_equal(out, HOME_ID);
    assert_int_equal(em_cache_home_account_id(out, 10, &t, &err), EM_EINVAL);
}

static void test_default_dir(void **state)
{
    char *old_xdg = getenv("XDG_CACHE_HOME") ? strdup(getenv("XDG_CACHE_HOME")) : NULL;
    char *old_home = getenv("HOME") ? strdup(getenv("HOME")) : NULL;
    char dir[256];
    em_error err = {0};

    (void)state;
    setenv("XDG_CACHE_HOME", "/x/cache", 1);
    setenv("HOME", "/home/u", 1);
    assert_int_equal(em_cache_default_dir(dir, sizeof dir, &err), EM_OK);
    assert_string_equal(dir, "/x/cache/exchangemfa");
    setenv("XDG_CACHE_HOME", "relative", 1);
    assert_int_equal(em_cache_default_dir(dir, sizeof dir, &err), EM_OK);
    assert_string_equal(dir, "/home/u/.cache/exchangemfa");
    unsetenv("XDG_CACHE_HOME");
    assert_int_equal(em_cache_default_dir(dir, sizeof dir, &err), EM_OK);
    assert_string_equal(dir, "/home/u/.cache/exchangemfa");
    assert_int_equal(em_cache_default_dir(dir, 8, &err), EM_EINVAL);
    unsetenv("HOME");
    assert_int_equal(em_cache_default_dir(dir, sizeof dir, &err), EM_ECONFIG);
    if (old_xdg != NULL)
        setenv("XDG_CACHE_HOME", old_xdg, 1);
    if (old_home != NULL)
        setenv("HOME", old_home, 1);
    free(old_xdg);
    free(old_home);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_entry_from_tokens, setup, teardown),
        cmocka_unit_test_setup_teardown(test_modes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_foreign_folder_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hostile_folder_layouts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reader_never_sees_half, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_set_aside, setup, teardown),
        cmocka_unit_test_setup_teardown(test_foreign_file_set_aside, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expiry_margin, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scope_matching, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reload_and_unknown_members, setup, teardown),
        cmocka_unit_test_setup_teardown(test_processes_exclude, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lock_released_when_killed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_threads_exclude, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lock_cancelled, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lock_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_renewal_lock, setup, teardown),
        cmocka_unit_test_setup_teardown(test_remove_account, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ids, setup, teardown),
        cmocka_unit_test_setup_teardown(test_default_dir, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
