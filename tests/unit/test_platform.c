/* test_platform.c - the platform layer (platform.h) on the platform the
 * tests are built for: Linux natively, Windows under Wine. The same
 * assertions hold on both; what differs is how (modes | ACLs, identity |
 * DPAPI, flock | LockFileEx, rename | MoveFileExW). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "test_util.h"
#include "platform/platform.h"
#include "util/buf.h"

static char dir[512];

static int make_dir(void **state)
{
    char *tmp = getenv("TEMP") != NULL ? getenv("TEMP") : getenv("TMPDIR");

    (void)state;
    snprintf(dir, sizeof dir, "%s/em-platform-XXXXXX", tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
    return mkdtemp(dir) != NULL ? 0 : -1;
}

static int remove_dir(void **state)
{
    (void)state;
    return test_remove_tree(dir);
}

static void path_in(char *out, size_t size, const char *name)
{
    snprintf(out, size, "%s%s%s", dir, em_platform_separator(), name);
}

/* Sealing round-trips, and what comes back sealed is not the plain text
 * on Windows (DPAPI); altered content does not unseal there. */
static void test_seal(void **state)
{
    static const char secret[] = "{\"RefreshToken\":{\"k\":{\"secret\":\"rt-secret\"}}}";
    em_buf sealed = EM_BUF_INIT, plain = EM_BUF_INIT, again = EM_BUF_INIT;
    em_error err = {0};

    (void)state;
    assert_int_equal(em_platform_seal(&sealed, secret, strlen(secret), &err), EM_OK);
    assert_int_equal(em_platform_unseal(&plain, sealed.data, sealed.len, &err), EM_OK);
    assert_int_equal(plain.len, strlen(secret));
    assert_memory_equal(plain.data, secret, plain.len);
    if (sealed.len != strlen(secret) || memcmp(sealed.data, secret, sealed.len) != 0) {
        /* A real protection (Windows): no plain secret inside, and one
         * flipped byte makes it fail with a clear error. */
        assert_null(strstr(sealed.data, "rt-secret"));
        sealed.data[sealed.len - 1] ^= 0x5a;     /* its signature */
        assert_int_equal(em_platform_unseal(&again, sealed.data, sealed.len, &err), EM_EACCESS);
        assert_non_null(strstr(err.message, "DPAPI"));
        assert_int_equal(again.len, 0);
    }
    em_buf_free(&sealed);
    em_buf_free(&plain);
    em_buf_free(&again);
}

/* A private folder, a file written atomically into it, read back with the
 * same stamp; a second write changes the stamp; no temp file is left. */
static void test_private_files(void **state)
{
    char folder[600], file[700], refusal[200], narrowed[64];
    em_private_dir *d = NULL;
    em_private_file *written = NULL, *read = NULL, *second = NULL;
    em_buf text = EM_BUF_INIT;
    em_error err = {0};
    bool too_big = true;

    (void)state;
    snprintf(folder, sizeof folder, "%s%sa%sb", dir, em_platform_separator(), em_platform_separator());
    assert_int_equal(em_private_folder(&d, folder, narrowed, sizeof narrowed, &err), EM_OK);
    assert_string_equal(narrowed, "");
    assert_string_equal(em_private_dir_path(d), folder);
    snprintf(file, sizeof file, "%s%stokens.json", folder, em_platform_separator());

    assert_int_equal(em_private_open(&read, d, "tokens.json", refusal, sizeof refusal, &err), EM_OK);
    assert_null(read);
    assert_string_equal(refusal, "");       /* no file yet */

    assert_int_equal(em_private_write(&written, d, "tokens.json", "one", 3, &err), EM_OK);
    assert_int_equal(em_private_open(&read, d, "tokens.json", refusal, sizeof refusal, &err), EM_OK);
    assert_non_null(read);
    assert_true(em_file_stamp_equal(em_private_stamp(read), em_private_stamp(written)));
    assert_int_equal(em_private_read(&text, read, 1024, &too_big, &err), EM_OK);
    assert_false(too_big);
    assert_int_equal(text.len, 3);
    assert_memory_equal(text.data, "one", 3);
    em_private_close(&read);
    /* Without a folder, the name is a whole path. */
    assert_int_equal(em_private_open(&read, NULL, file, refusal, sizeof refusal, &err), EM_OK);
    assert_non_null(read);
    em_private_close(&read);

    assert_int_equal(em_private_write(&second, d, "tokens.json", "two!", 4, &err), EM_OK);
    assert_false(em_file_stamp_equal(em_private_stamp(second), em_private_stamp(written)));
    assert_int_equal(em_private_open(&read, d, "tokens.json", refusal, sizeof refusal, &err), EM_OK);
    assert_non_null(read);
    text.len = 0;
    assert_int_equal(em_private_read(&text, read, 2, &too_big, &err), EM_OK);
    assert_true(too_big);                   /* more than max */
    em_private_close(&read);
    em_private_close(&written);
    em_private_close(&second);
    em_buf_free(&text);

    /* A leftover temp file is removed; setting aside renames, once. */
    {
        char tmp[800], aside[800];
        FILE *f;

        snprintf(tmp, sizeof tmp, "%s.tmp-0123456789abcdef", file);
        f = fopen(tmp, "wb");
        assert_non_null(f);
        fclose(f);
        em_private_remove_temps(d, "tokens.json");
        assert_null(fopen(tmp, "rb"));
        assert_int_equal(em_private_set_aside(aside, sizeof aside, d, "tokens.json", &err), EM_OK);
        assert_non_null(strstr(aside, "tokens.json.corrupt-"));
        assert_int_equal(em_private_open(&read, d, "tokens.json", refusal, sizeof refusal, &err), EM_OK);
        assert_null(read);
        assert_string_equal(refusal, "");
        f = fopen(aside, "rb");
        assert_non_null(f);
        fclose(f);
    }
    em_private_dir_close(&d);
    assert_null(d);
}

/* The folder is held: moved away and replaced (by another user, in a
 * shared parent), the files still go to the folder that was checked,
 * never to the replacement. POSIX: the move succeeds, the write lands in
 * the moved folder through its descriptor. Windows: the held folder
 * cannot be moved at all. */
static void test_private_folder_held(void **state)
{
    char folder[600], moved[600], in_folder[700], in_moved[700], narrowed[64];
    em_private_dir *d = NULL;
    em_private_file *written = NULL;
    em_error err = {0};
    FILE *f;

    (void)state;
    path_in(folder, sizeof folder, "cache");
    path_in(moved, sizeof moved, "moved");
    snprintf(in_folder, sizeof in_folder, "%s%stokens.json", folder, em_platform_separator());
    snprintf(in_moved, sizeof in_moved, "%s%stokens.json", moved, em_platform_separator());
    assert_int_equal(em_private_folder(&d, folder, narrowed, sizeof narrowed, &err), EM_OK);
    if (rename(folder, moved) == 0) {
        print_message("the held folder was moved; the write must follow it\n");
        assert_int_equal(mkdir(folder, 0700), 0);       /* the replacement */
        assert_int_equal(em_private_write(&written, d, "tokens.json", "x", 1, &err), EM_OK);
        assert_null(fopen(in_folder, "rb"));
        f = fopen(in_moved, "rb");
    } else {
        print_message("the held folder could not be moved\n");
        assert_int_equal(em_private_write(&written, d, "tokens.json", "x", 1, &err), EM_OK);
        f = fopen(in_folder, "rb");
    }
    assert_non_null(f);
    fclose(f);
    em_private_close(&written);
    em_private_dir_close(&d);
}

/* One holder at a time; released, it can be taken again. */
static void test_lock(void **state)
{
    char narrowed[64];
    em_private_dir *d = NULL;
    em_file_lock *first = NULL, *second = NULL;
    em_error err = {0};

    (void)state;
    assert_int_equal(em_private_folder(&d, dir, narrowed, sizeof narrowed, &err), EM_OK);
    assert_int_equal(em_file_lock_try(&first, d, "tokens.lock", &err), EM_OK);
    assert_non_null(first);
    /* flock and LockFileEx both refuse a second open handle of the same
     * process, as they refuse another process. */
    assert_int_equal(em_file_lock_try(&second, d, "tokens.lock", &err), EM_OK);
    assert_null(second);
    em_file_lock_release(&first);
    assert_null(first);
    assert_int_equal(em_file_lock_try(&second, d, "tokens.lock", &err), EM_OK);
    assert_non_null(second);
    em_file_lock_release(&second);
    em_private_dir_close(&d);
}

static void write_file(const char *path, const char *text, size_t len)
{
    FILE *f = fopen(path, "wb");

    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, len, f), len);
    fclose(f);
}

/* A file the user names is read only when it is a regular file: a FIFO
 * (a named pipe on Windows) or a folder is refused at once, never waited
 * on; the size is bounded; a missing file is NotFound. */
static void test_user_named_file(void **state)
{
    char path[600];
    em_buf out = EM_BUF_INIT;
    em_error err = {0};

    (void)state;
    path_in(path, sizeof path, "cert.pem");
    write_file(path, "12345", 5);
    assert_int_equal(em_platform_read_file(&out, path, 5, &err), EM_OK);
    assert_int_equal(out.len, 5);
    assert_memory_equal(out.data, "12345", 5);
    em_buf_free(&out);
    assert_int_equal(em_platform_read_file(&out, path, 4, &err), EM_EINVAL);
    assert_non_null(strstr(err.message, "larger than"));
    em_buf_free(&out);
    write_file(path, "", 0);
    assert_int_equal(em_platform_read_file(&out, path, 4, &err), EM_EINVAL);
    assert_string_equal(err.message, "is empty");

    path_in(path, sizeof path, "missing.pem");
    assert_int_equal(em_platform_read_file(&out, path, 1024, &err), EM_ENOTFOUND);
    assert_int_not_equal(em_platform_read_file(&out, dir, 1024, &err), EM_OK);     /* a folder */
    assert_int_equal(test_make_blocking_file(path, sizeof path, dir, "em-fifo"), 0);
    assert_int_equal(em_platform_read_file(&out, path, 1024, &err), EM_EINVAL);
    assert_non_null(strstr(err.message, "is not a regular file"));
    assert_int_equal(out.len, 0);
    em_buf_free(&out);
}

/* The process set-up leaves no memory image behind: no core file and
 * not dumpable (Linux), no crash dialog (Windows). */
typedef struct listing {
    char names[4][64];
    int count;
    int stop_after;             /* 0: never */
} listing;

static bool list_one(void *ud, const char *name)
{
    listing *l = ud;

    if (l->count < 4)
        snprintf(l->names[l->count], sizeof l->names[0], "%s", name);
    l->count++;
    return l->stop_after == 0 || l->count < l->stop_after;
}

static bool listed(const listing *l, const char *name)
{
    for (int i = 0; i < l->count && i < 4; i++) {
        if (strcmp(l->names[i], name) == 0)
            return true;
    }
    return false;
}

/* A folder and file names outside ASCII and any ANSI code page (a profile
 * folder C:\Users\Jürgen-Юрий) are listed in UTF-8 as they are, "." and ".." never; the listing stops
 * when asked; a missing folder is EM_ENOTFOUND. */
static void test_list_folder(void **state)
{
    char folder[600], file[700], other[700];
    listing l = {0};
    em_error err = {0};

    (void)state;
    path_in(folder, sizeof folder, "Zertifikate-J\xc3\xbcrgen-\xd0\xae\xd1\x80\xd0\xb8\xd0\xb9");
    snprintf(file, sizeof file, "%s%s" "schl\xc3\xbcssel.pem", folder, em_platform_separator());
    snprintf(other, sizeof other, "%s%s" "a.pfx", folder, em_platform_separator());
    assert_int_equal(test_make_named_folder(folder), 0);
    assert_int_equal(test_make_named_file(file, "x"), 0);
    assert_int_equal(test_make_named_file(other, "y"), 0);
    assert_int_equal(em_platform_list_folder(folder, list_one, &l, &err), EM_OK);
    assert_int_equal(l.count, 2);
    assert_true(listed(&l, "schl\xc3\xbcssel.pem"));
    assert_true(listed(&l, "a.pfx"));
    memset(&l, 0, sizeof l);
    l.stop_after = 1;
    assert_int_equal(em_platform_list_folder(folder, list_one, &l, &err), EM_OK);
    assert_int_equal(l.count, 1);
    assert_int_equal(test_remove_named(file, false), 0);
    assert_int_equal(test_remove_named(other, false), 0);
    assert_int_equal(test_remove_named(folder, true), 0);
    assert_int_equal(em_platform_list_folder(folder, list_one, &l, &err), EM_ENOTFOUND);
}

static void test_process_setup(void **state)
{
    (void)state;
    em_platform_init();
    assert_false(test_dumps_allowed());
}

/* The per-user folders end in the product's folder name. */
static void test_user_folders(void **state)
{
    char *cache = NULL, *config = NULL;
    em_error err = {0};

    (void)state;
    assert_int_equal(em_platform_user_folder(&cache, EM_FOLDER_CACHE, &err), EM_OK);
    assert_int_equal(em_platform_user_folder(&config, EM_FOLDER_CONFIG, &err), EM_OK);
    assert_non_null(strstr(cache, em_platform_separator()));
    assert_true(strstr(cache, "exchangemfa") != NULL || strstr(cache, "ExchangeMfa") != NULL);
    assert_string_not_equal(cache, config);
    free(cache);
    free(config);
}

/* A certificate no store holds: NotFound (POSIX has no store at all). */
static void test_certificate_store_miss(void **state)
{
    em_buf pfx = EM_BUF_INIT;
    em_error err = {0};

    (void)state;
    assert_int_equal(em_platform_find_certificate(&pfx, "0123456789ABCDEF0123456789ABCDEF01234567", &err),
                     EM_ENOTFOUND);
    assert_int_equal(pfx.len, 0);
}

/* A timed wait on the platform's clock waits (about) as long as asked. */
static void test_timed_wait(void **state)
{
    pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    pthread_cond_t cond;
    struct timespec deadline, start, end;
    long waited;

    (void)state;
    em_platform_cond_init(&cond);
    clock_gettime(CLOCK_MONOTONIC, &start);
    em_platform_deadline(&deadline, 200);
    pthread_mutex_lock(&lock);
    while (pthread_cond_timedwait(&cond, &lock, &deadline) == 0)
        ;
    pthread_mutex_unlock(&lock);
    clock_gettime(CLOCK_MONOTONIC, &end);
    waited = (end.tv_sec - start.tv_sec) * 1000 + (end.tv_nsec - start.tv_nsec) / 1000000;
    assert_true(waited >= 150);
    assert_true(waited < 5000);
    pthread_cond_destroy(&cond);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seal),
        cmocka_unit_test_setup_teardown(test_private_files, make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(test_private_folder_held, make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(test_lock, make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(test_user_named_file, make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(test_list_folder, make_dir, remove_dir),
        cmocka_unit_test(test_process_setup),
        cmocka_unit_test(test_user_folders),
        cmocka_unit_test(test_certificate_store_miss),
        cmocka_unit_test(test_timed_wait),
    };

    em_platform_init();
    return cmocka_run_group_tests_name("platform", tests, NULL, NULL);
}
