/* fuzz_cache_file.c - the token cache on untrusted file contents: another
 * tool, a crash or an attacker may have left anything in tokens.json.
 *
 * Each input becomes tokens.json (0600) in a private temp folder; the cache
 * must either read it or set it aside with a warning, answer lookups, and
 * every rewrite must give a file that em_cache_check_text accepts, with the
 * new tokens findable and nothing leaked.
 */
#define _DEFAULT_SOURCE     /* mkdtemp */

#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cache/cache.h"
#include "util/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NOW ((time_t)1700000000)
#define ENV "login.microsoftonline.com"
#define CLIENT "fb78d390-0c51-40cd-8e17-fdbfab77341b"
#define TID "11111111-2222-3333-4444-555555555555"
#define OID "00000000-0000-0000-0000-0000000000a1"

static char dir[64];
static char file[128];

/* require() without NDEBUG's say: the replay tests build as RelWithDebInfo. */
static void require(bool ok)
{
    if (!ok)
        abort();
}

static void remove_folder(void)
{
    char cmd[128];

    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
}

static void prepare(void)
{
    if (dir[0] != '\0')
        return;
    strcpy(dir, "/tmp/emfuzzcache-XXXXXX");
    require(mkdtemp(dir) != NULL);
    snprintf(file, sizeof file, "%s/" EM_CACHE_FILE_NAME, dir);
    atexit(remove_folder);
}

/* Empties the folder of everything but the lock (set-aside copies too). */
static void clean(void)
{
    char cmd[160];

    snprintf(cmd, sizeof cmd, "rm -f '%s'/" EM_CACHE_FILE_NAME "*", dir);
    require(system(cmd) == 0);
}

static bool file_ok(void)
{
    static char text[EM_CACHE_MAX_FILE / 4];
    em_error err = {0};
    ssize_t n;
    int fd = open(file, O_RDONLY);

    if (fd < 0)
        return false;
    n = read(fd, text, sizeof text);
    close(fd);
    return n > 0 && em_cache_check_text(text, (size_t)n, &err) == EM_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    em_cache *cache = NULL;
    em_cache_accounts *accounts = NULL;
    em_cache_token *token = NULL;
    em_tokens *tokens = NULL;
    em_cache_entry entry = {0};
    em_error err = {0};
    char warning[EM_ERROR_MESSAGE_MAX];
    size_t i;
    int fd, rc;

    /* The parser and the shape check alone. */
    rc = em_cache_check_text((const char *)data, size, &err);
    require(rc == EM_OK || rc == EM_EPARSE || rc == EM_ENOMEM);
    require(em_json_outstanding() == 0);

    prepare();
    clean();
    fd = open(file, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    require(fd >= 0);
    require(size == 0 || write(fd, data, size) == (ssize_t)size);
    close(fd);

    require(em_cache_open(&cache, dir, &err) == EM_OK);
    require(em_cache_lock(cache, 1000, NULL, &err) == EM_OK);
    /* Set aside exactly when it is not a cache. */
    require(em_cache_take_warning(cache, warning, sizeof warning) == (rc != EM_OK));

    rc = em_cache_find_accounts(&accounts, cache, ENV, NULL, NULL, &err);
    require(rc == EM_OK || rc == EM_ENOTFOUND);
    for (i = 0; accounts != NULL && i < accounts->count; i++) {
        rc = em_cache_load_tokens(&tokens, cache, &accounts->items[i], CLIENT,
                                  "https://outlook.office365.com/.default", NOW, &err);
        require(rc == EM_OK || rc == EM_ENOTFOUND);
        require(rc != EM_OK || tokens->access_token != NULL || tokens->refresh_token != NULL);
        em_tokens_free(&tokens);
    }
    em_cache_accounts_free(&accounts);

    entry.local_account_id = OID;
    entry.realm = TID;
    entry.environment = ENV;
    entry.client_id = CLIENT;
    entry.target = "https://outlook.office365.com/.default openid";
    entry.username = "fuzz@contoso.com";
    entry.access_token = "at";
    entry.expires_on = NOW + 3600;
    entry.refresh_token = "rt";
    entry.id_token = "id";
    require(em_cache_store(cache, &entry, NOW, &err) == EM_OK);
    require(file_ok());
    require(em_cache_find_access_token(&token, cache, OID "." TID, ENV, CLIENT, TID,
                                       "https://outlook.office365.com/.default", NOW, &err) == EM_OK);
    require(strcmp(token->secret, "at") == 0);
    em_cache_token_free(&token);
    require(em_cache_remove_account(cache, OID "." TID, ENV, &err) == EM_OK);
    require(file_ok());
    require(em_cache_find_refresh_token(&token, cache, OID "." TID, ENV, CLIENT, &err) == EM_ENOTFOUND);
    em_cache_unlock(cache);
    em_cache_close(&cache);
    require(em_json_outstanding() == 0);
    return 0;
}
