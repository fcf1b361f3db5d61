/* exo.c - Exchange admin REST paging: streaming page parser, error
 * mapping, and the InvokeCommand loop with flow control. */
#include "exchange/exo.h"
#include "util/buf.h"
#include "util/guid.h"
#include "identity/oidc.h"
#include "protocol/protocol.h"
#include "protocol/rpc.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <yajl/yajl_parse.h>

#define EXO_PAGE_TIMEOUT_MS 900000L     /* one page: the service's own limit per call, 15 min */
#define EXO_STALL_MS 60000L             /* under 1 byte/s this long: the page timed out */
#define EXO_RETRY_BASE_MS 2000L
#define EXO_ERROR_BODY_MAX (1024u * 1024u)
#define EXO_THROTTLE_TEXT "maximum number of concurrent requests"
#define EXO_MEMBER_MAX 128              /* longer member names get no type */
#define EXO_ITEM_DEPTH 3                /* page { value [ item { member */
#define EXO_PAGING_EXPIRED_TEXT "pagination request"

/* ---- page parser ---- */

typedef enum top_key { TOP_OTHER, TOP_VALUE, TOP_NEXTLINK, TOP_WARNINGS } top_key;

/* yajl 2.1 lexes a token cut by a chunk boundary again from its start on
 * every later chunk (quadratic: 20 s for one 40 MB string), and the page's
 * own limits apply only once a token has ended. So the reader finds token
 * boundaries itself: it hands yajl only text that ends between tokens,
 * holds back the token still arriving, and refuses it past
 * EM_EXO_TOKEN_MAX bytes. */
typedef enum token_kind { TOKEN_NONE, TOKEN_STRING, TOKEN_BARE } token_kind;

typedef struct token_scan {
    token_kind kind;                /* the token open at the end of what was scanned */
    bool escaped;                   /* in a string, after a backslash */
    size_t len;                     /* bytes of the open token so far */
    em_buf held;                    /* its bytes from earlier chunks, not yet given to yajl */
} token_scan;

struct em_exo_page {
    yajl_handle parser;
    token_scan scan;
    size_t member_bytes;            /* tokens of the current top-level member or item */
    yajl_gen gen;                   /* the item being re-generated */
    em_exo_object_fn on_object;
    void *ud;
    long max_objects;
    long objects;
    int depth;                      /* containers open */
    top_key key;                    /* key of the top-level member being read */
    bool seen_value;                /* the `value` array was opened */
    bool in_value;                  /* inside `value` (depth 2 = its items) */
    bool in_warnings;               /* inside `@adminapi.warnings` */
    bool item_open;                 /* a container item is being generated */
    bool dropping;                  /* skipping an annotation's value, or an item after full */
    int drop_depth;                 /* depth of the map holding that member */
    bool full;                      /* max_objects delivered: later items are skipped */
    bool tail_broken;               /* after full, the rest did not parse: ignored */
    char member[EXO_MEMBER_MAX + 1];/* the item's member being read (depth 3), "" if too long */
    bool hint_pending;              /* the dropped value is member's type hint */
    em_buf types;                   /* the item's typed members: ",Name:Kind,..." */
    bool done;                      /* the top object closed */
    bool invalid;                   /* yajl refused the text */
    int failure;                    /* em_code set by a callback */
    char failure_message[256];
    char *next_link;
    char *warnings[EM_EXO_WARNINGS_MAX];
    size_t warning_count;
};

static int fail(em_exo_page *p, int code, const char *message)
{
    p->failure = code;
    snprintf(p->failure_message, sizeof(p->failure_message), "%s", message);
    return 0;
}

static int deliver_item(em_exo_page *p)
{
    const unsigned char *text = NULL;
    size_t len = 0;
    int rc = EM_OK;

    if (yajl_gen_get_buf(p->gen, &text, &len) != yajl_gen_status_ok)
        return fail(p, EM_EBADRESPONSE, "an item of the page could not be re-encoded");
    if (p->on_object != NULL)
        rc = p->on_object(p->ud, (const char *)text, len);
    yajl_gen_clear(p->gen);
    yajl_gen_reset(p->gen, NULL);
    p->types.len = 0;
    if (p->types.data != NULL)
        p->types.data[0] = '\0';
    if (rc != EM_OK)
        return fail(p, rc, "the item could not be passed on");
    p->objects++;
    /* Later items are skipped, but the page is read on: the warnings may
     * follow `value` (reference section 7). */
    if (p->max_objects > 0 && p->objects >= p->max_objects)
        p->full = true;
    return 1;
}

/* The kind of a type hint ("System.Guid", "#Guid", ...) the module turns
 * into a typed value, or NULL. */
static const char *hint_kind(const char *s, size_t len)
{
    static const struct {
        const char *hint;
        const char *kind;
    } kinds[] = {
        {"System.Guid", "Guid"}, {"#Guid", "Guid"},
        {"System.DateTime", "DateTime"}, {"#DateTime", "DateTime"},
        {"System.DateTimeOffset", "DateTime"}, {"#DateTimeOffset", "DateTime"},
        {"System.Int32", "Int32"}, {"#Int32", "Int32"},
        {"System.Int64", "Int64"}, {"#Int64", "Int64"},
    };
    size_t i;

    for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        if (strlen(kinds[i].hint) == len && memcmp(kinds[i].hint, s, len) == 0)
            return kinds[i].kind;
    }
    return NULL;
}

/* Notes member as typed (once: both hint styles name it). One short string
 * per item, not an object: the module's JSON reader pays per member. */
static int add_type(em_exo_page *p, const char *kind)
{
    char entry[EXO_MEMBER_MAX + 3];

    if (kind == NULL || !em_exo_valid_property(p->member))
        return 1;
    snprintf(entry, sizeof(entry), ",%s:", p->member);
    if (p->types.len > 0 && strstr(p->types.data, entry) != NULL)
        return 1;
    if (em_buf_printf(&p->types, "%s%s", entry, kind) != EM_OK)
        return fail(p, EM_ENOMEM, "out of memory reading the page");
    return 1;
}

/* Exchange's sizes: "1.5 GB (1,610,612,736 bytes)", and "Unlimited". */
static const char *value_kind(const char *s, size_t len)
{
    static const char bytes[] = " bytes)";

    if (len > sizeof(bytes) - 1 && memcmp(s + len - (sizeof(bytes) - 1), bytes, sizeof(bytes) - 1) == 0)
        return "Size";
    if (len == 9 && memcmp(s, "Unlimited", 9) == 0)
        return "Unlimited";
    return NULL;
}

/* Re-generates one event of an item; a status other than ok fails the page. */
static int gen_checked(em_exo_page *p, int status)
{
    const unsigned char *text = NULL;
    size_t len = 0;

    if (status != yajl_gen_status_ok)
        return fail(p, EM_EBADRESPONSE, "an item of the page could not be re-encoded");
    yajl_gen_get_buf(p->gen, &text, &len);
    if (len > EM_EXO_ITEM_MAX)
        return fail(p, EM_EBADRESPONSE, "an item of the page is larger than 8 MiB");
    return 1;
}

/* Bounds a top-level member or an item by the bytes of its tokens (kept or
 * skipped alike), so a member of many small tokens cannot run unbounded. */
static int count_member(em_exo_page *p, size_t len)
{
    p->member_bytes += len + 1;
    if (p->member_bytes > EM_EXO_ITEM_MAX)
        return fail(p, EM_EBADRESPONSE, "a member of the page is larger than 8 MiB");
    return 1;
}

typedef enum ev { EV_NULL, EV_BOOL, EV_NUMBER, EV_STRING, EV_MAP, EV_ARRAY } ev;

static int gen_event(em_exo_page *p, ev type, const char *s, size_t len, int b)
{
    switch (type) {
    case EV_NULL:
        return gen_checked(p, yajl_gen_null(p->gen));
    case EV_BOOL:
        return gen_checked(p, yajl_gen_bool(p->gen, b));
    case EV_NUMBER:
        return gen_checked(p, yajl_gen_number(p->gen, s, len));
    case EV_STRING:
        return gen_checked(p, yajl_gen_string(p->gen, (const unsigned char *)s, len));
    case EV_MAP:
        return gen_checked(p, yajl_gen_map_open(p->gen));
    default:
        return gen_checked(p, yajl_gen_array_open(p->gen));
    }
}

static int store_string(em_exo_page *p, char **slot, const char *s, size_t len, size_t max)
{
    char *copy;

    if (len > max)
        len = max;
    copy = strndup(s, len);
    if (copy == NULL)
        return fail(p, EM_ENOMEM, "out of memory reading the page");
    em_json_utf8_fix(copy);     /* truncation may cut a character */
    free(*slot);
    *slot = copy;
    return 1;
}

static int on_value(em_exo_page *p, ev type, const char *s, size_t len, int b)
{
    bool opens = type == EV_MAP || type == EV_ARRAY;

    if (opens && p->depth >= EM_JSON_MAX_DEPTH)
        return fail(p, EM_EBADRESPONSE, "the page is nested too deeply");
    if (p->depth == 2 && p->in_value)
        p->member_bytes = 0;        /* a new item */
    if (!count_member(p, len))
        return 0;
    if (p->depth == 0) {
        if (type != EV_MAP)
            return fail(p, EM_EBADRESPONSE, "the page is not a JSON object");
        p->depth = 1;
        return 1;
    }
    if (p->item_open) {
        if (p->dropping) {
            if (opens) {
                p->depth++;
            } else if (p->depth == p->drop_depth) {
                p->dropping = false;
                if (p->hint_pending && type == EV_STRING)
                    return add_type(p, hint_kind(s, len));
            }
            p->hint_pending = false;
            return 1;
        }
        if (type == EV_STRING && p->depth == EXO_ITEM_DEPTH && !add_type(p, value_kind(s, len)))
            return 0;
        if (opens)
            p->depth++;
        return gen_event(p, type, s, len, b);
    }
    if (p->depth == 1) {
        switch (p->key) {
        case TOP_VALUE:
            if (type != EV_ARRAY)
                return fail(p, EM_EBADRESPONSE, "the page's value is not an array");
            p->seen_value = true;
            p->in_value = true;
            break;
        case TOP_NEXTLINK:
            if (type == EV_STRING)
                return store_string(p, &p->next_link, s, len, EM_EXO_LINK_MAX);
            if (type != EV_NULL)
                return fail(p, EM_EBADRESPONSE, "the page's @odata.nextLink is not a string");
            break;
        case TOP_WARNINGS:
            if (type == EV_ARRAY)
                p->in_warnings = true;
            break;
        default:
            break;
        }
        if (opens)
            p->depth++;
        return 1;
    }
    if (p->depth == 2 && p->in_value && p->full) {
        if (opens) {
            p->item_open = true;
            p->dropping = true;
            p->drop_depth = 2;
            p->depth++;
        }
        return 1;
    }
    if (p->depth == 2 && p->in_value) {
        p->member[0] = '\0';       /* a new item: no member read yet */
        if (!gen_event(p, type, s, len, b))
            return 0;
        if (!opens)
            return deliver_item(p);
        p->item_open = true;
        p->depth++;
        return 1;
    }
    if (p->depth == 2 && p->in_warnings && type == EV_STRING &&
        p->warning_count < EM_EXO_WARNINGS_MAX) {
        if (!store_string(p, &p->warnings[p->warning_count], s, len, EM_EXO_WARNING_LEN_MAX))
            return 0;
        p->warning_count++;
    }
    if (opens)
        p->depth++;
    return 1;
}

static int on_end(void *ctx, bool map)
{
    em_exo_page *p = ctx;

    p->depth--;
    if (p->item_open) {
        if (p->dropping) {
            if (p->depth == p->drop_depth)
                p->dropping = false;
            if (p->depth == 2)
                p->item_open = false;   /* a skipped item ended */
            return 1;
        }
        if (!gen_checked(p, map ? yajl_gen_map_close(p->gen) : yajl_gen_array_close(p->gen)))
            return 0;
        if (p->depth == 2) {
            p->item_open = false;
            return deliver_item(p);
        }
        return 1;
    }
    if (p->depth == 1) {
        p->in_value = false;
        p->in_warnings = false;
    }
    if (p->depth == 0)
        p->done = true;
    return 1;
}

static int cb_null(void *ctx)
{
    return on_value(ctx, EV_NULL, NULL, 0, 0);
}

static int cb_bool(void *ctx, int b)
{
    return on_value(ctx, EV_BOOL, NULL, 0, b);
}

static int cb_number(void *ctx, const char *s, size_t len)
{
    return on_value(ctx, EV_NUMBER, s, len, 0);
}

static int cb_string(void *ctx, const unsigned char *s, size_t len)
{
    return on_value(ctx, EV_STRING, (const char *)s, len, 0);
}

static int cb_start_map(void *ctx)
{
    return on_value(ctx, EV_MAP, NULL, 0, 0);
}

static int cb_start_array(void *ctx)
{
    return on_value(ctx, EV_ARRAY, NULL, 0, 0);
}

static int cb_end_map(void *ctx)
{
    return on_end(ctx, true);
}

static int cb_end_array(void *ctx)
{
    return on_end(ctx, false);
}

/* Whether s (len bytes, not NUL-terminated) contains needle. */
static bool contains(const unsigned char *s, size_t len, const char *needle)
{
    size_t n = strlen(needle), i;

    for (i = 0; i + n <= len; i++) {
        if (memcmp(s + i, needle, n) == 0)
            return true;
    }
    return false;
}

static bool key_is(const unsigned char *s, size_t len, const char *name)
{
    return strlen(name) == len && memcmp(s, name, len) == 0;
}

static int cb_map_key(void *ctx, const unsigned char *s, size_t len)
{
    em_exo_page *p = ctx;

    if (p->depth == 1)
        p->member_bytes = 0;        /* a new top-level member */
    if (!count_member(p, len))
        return 0;
    if (p->depth == 1) {
        p->key = key_is(s, len, "value") ? TOP_VALUE
               : key_is(s, len, "@odata.nextLink") ? TOP_NEXTLINK
               : key_is(s, len, "@adminapi.warnings") ? TOP_WARNINGS : TOP_OTHER;
        return 1;
    }
    if (!p->item_open || p->dropping)
        return 1;
    if (p->depth == EXO_ITEM_DEPTH) {
        size_t n = len <= EXO_MEMBER_MAX ? len : 0;

        memcpy(p->member, s, n);
        p->member[n] = '\0';
    }
    /* Annotations in both of Exchange's styles ("@odata.type",
     * "Prop@odata.type", "Prop@data.type") are dropped; a member's type
     * hint is noted for the module. */
    if (contains(s, len, "@odata.") || contains(s, len, "@data.")) {
        char *at = memchr(p->member, '@', strlen(p->member));

        p->dropping = true;
        p->drop_depth = p->depth;
        p->hint_pending = p->depth == EXO_ITEM_DEPTH && at != NULL && at != p->member &&
                          (strcmp(at, "@odata.type") == 0 || strcmp(at, "@data.type") == 0);
        if (p->hint_pending)
            *at = '\0';
        return 1;
    }
    return gen_checked(p, yajl_gen_string(p->gen, s, len));
}

static const yajl_callbacks page_callbacks = {
    cb_null, cb_bool, NULL, NULL, cb_number, cb_string,
    cb_start_map, cb_map_key, cb_end_map, cb_start_array, cb_end_array,
};

int em_exo_page_new(em_exo_page **out, long max_objects, em_exo_object_fn on_object, void *ud)
{
    em_exo_page *p = calloc(1, sizeof(*p));

    *out = NULL;
    if (p == NULL)
        return EM_ENOMEM;
    p->max_objects = max_objects;
    p->on_object = on_object;
    p->ud = ud;
    p->parser = yajl_alloc(&page_callbacks, &em_json_alloc_funcs, p);
    p->gen = em_json_gen_new();
    if (p->parser == NULL || p->gen == NULL) {
        em_exo_page_free(&p);
        return EM_ENOMEM;
    }
    *out = p;
    return EM_OK;
}

void em_exo_page_free(em_exo_page **pp)
{
    em_exo_page *p;
    size_t i;

    if (pp == NULL || *pp == NULL)
        return;
    p = *pp;
    if (p->parser != NULL)
        yajl_free(p->parser);
    if (p->gen != NULL)
        yajl_gen_free(p->gen);
    free(p->next_link);
    em_buf_free(&p->scan.held);
    em_buf_free(&p->types);
    for (i = 0; i < p->warning_count; i++)
        free(p->warnings[i]);
    free(p);
    *pp = NULL;
}

static int parse_status(em_exo_page *p, yajl_status st, const char *data, size_t len,
                        em_error *err)
{
    unsigned char *msg;
    int rc;

    if (st == yajl_status_ok || p->full)
        return EM_OK;
    if (st == yajl_status_client_canceled && p->failure != EM_OK)
        return em_error_set(err, p->failure, "%s", p->failure_message);
    p->invalid = true;
    msg = yajl_get_error(p->parser, 0, (const unsigned char *)data, len);
    rc = em_error_set(err, EM_EBADRESPONSE, "Exchange sent a page that is not valid JSON: %.*s",
                      msg != NULL ? (int)strcspn((const char *)msg, "\r\n") : 11,
                      msg != NULL ? (const char *)msg : "parse error");
    if (msg != NULL)
        yajl_free_error(p->parser, msg);
    if (err != NULL)
        em_json_utf8_fix(err->message);
    return rc;
}

/* Bytes that may continue a number or a literal (true, false, null). */
static bool bare_byte(unsigned char c)
{
    return isalnum(c) || c == '-' || c == '+' || c == '.';
}

/* Follows the tokens of data; returns the offset of the token still open at
 * its end (len when none opened in data), or fails past EM_EXO_TOKEN_MAX. */
static int scan_tokens(em_exo_page *p, size_t *open_at, const char *data, size_t len)
{
    token_scan *t = &p->scan;
    size_t i;

    *open_at = len;
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)data[i];

        if (t->kind == TOKEN_STRING) {
            if (t->escaped) {
                t->escaped = false;
            } else if (c == '\\') {
                t->escaped = true;
            } else if (c == '"') {
                t->kind = TOKEN_NONE;
                continue;
            }
        } else {
            if (t->kind == TOKEN_BARE && !bare_byte(c))
                t->kind = TOKEN_NONE;
            if (t->kind == TOKEN_NONE && (c == '"' || bare_byte(c))) {
                t->kind = c == '"' ? TOKEN_STRING : TOKEN_BARE;
                t->len = 0;
                *open_at = i;
            }
        }
        if (t->kind != TOKEN_NONE && ++t->len > EM_EXO_TOKEN_MAX)
            return fail(p, EM_EBADRESPONSE, "a token of the page is longer than 8 MiB");
    }
    if (t->kind == TOKEN_NONE)
        *open_at = len;
    return 1;
}

/* Gives yajl len bytes; an error status becomes the page's error. */
static int parse_piece(em_exo_page *p, const char *data, size_t len, em_error *err)
{
    yajl_status st;

    if (len == 0 || p->tail_broken)
        return EM_OK;
    st = yajl_parse(p->parser, (const unsigned char *)data, len);
    if (st != yajl_status_ok && p->full && p->failure == EM_OK) {
        p->tail_broken = true;  /* what was wanted arrived; the rest is not needed */
        return EM_OK;
    }
    return parse_status(p, st, data, len, err);
}

/* Hands yajl the held token (now complete, or wanted at the end). */
static int parse_held(em_exo_page *p, em_error *err)
{
    int rc = parse_piece(p, p->scan.held.data, p->scan.held.len, err);

    em_buf_free(&p->scan.held);
    return rc;
}

int em_exo_page_feed(em_exo_page *p, const char *data, size_t len, em_error *err)
{
    size_t open_at = len;
    bool continues = p->scan.kind != TOKEN_NONE;    /* a held token goes on in data */
    int rc;

    if (p->tail_broken)
        return EM_OK;
    if (p->failure != EM_OK || !scan_tokens(p, &open_at, data, len))
        return em_error_set(err, p->failure, "%s", p->failure_message);
    if (continues && open_at == len && p->scan.kind != TOKEN_NONE) {
        /* the held token is still arriving: nothing is complete yet */
        return em_buf_append(&p->scan.held, data, len) == EM_OK
            ? EM_OK : em_error_set(err, EM_ENOMEM, "out of memory reading the page");
    }
    rc = parse_held(p, err);
    if (rc == EM_OK)
        rc = parse_piece(p, data, open_at, err);
    if (rc == EM_OK && em_buf_append(&p->scan.held, data + open_at, len - open_at) != EM_OK)
        rc = em_error_set(err, EM_ENOMEM, "out of memory reading the page");
    return rc;
}

int em_exo_page_finish(em_exo_page *p, em_error *err)
{
    yajl_status st;
    int rc;

    if (p->full)
        return EM_OK;
    if (p->failure != EM_OK)
        return em_error_set(err, p->failure, "%s", p->failure_message);
    rc = parse_held(p, err);
    if (rc != EM_OK || p->full)
        return p->full ? EM_OK : rc;
    st = yajl_complete_parse(p->parser);
    if (!p->done && p->failure == EM_OK)
        return em_error_set(err, EM_EBADRESPONSE, "Exchange sent an incomplete page");
    rc = parse_status(p, st, NULL, 0, err);
    if (rc != EM_OK)
        return rc;
    if (!p->seen_value)
        return em_error_set(err, EM_EBADRESPONSE, "Exchange sent a page without a value array");
    return EM_OK;
}

bool em_exo_page_cut(const em_exo_page *p)
{
    return !p->done && !p->full && !p->invalid && p->failure == EM_OK;
}

bool em_exo_page_full(const em_exo_page *p)
{
    return p->full;
}

bool em_exo_page_read_enough(const em_exo_page *p)
{
    return p->full && (p->done || p->tail_broken);
}

const char *em_exo_page_item_types(const em_exo_page *p)
{
    return p->types.len > 0 ? p->types.data + 1 : NULL;   /* without the leading comma */
}

long em_exo_page_objects(const em_exo_page *p)
{
    return p->objects;
}

const char *em_exo_page_next_link(const em_exo_page *p)
{
    return p->next_link;
}

size_t em_exo_page_warning_count(const em_exo_page *p)
{
    return p->warning_count;
}

const char *em_exo_page_warning(const em_exo_page *p, size_t i)
{
    return i < p->warning_count ? p->warnings[i] : NULL;
}

/* ---- errors ---- */

/* Copies the first line of text (at most len bytes) into out, printable only. */
static void first_line(char *out, size_t size, const char *text, size_t len)
{
    size_t i, n = 0;

    for (i = 0; i < len && n + 1 < size; i++) {
        unsigned char c = (unsigned char)text[i];

        if (c == '\n' || c == '\r')
            break;
        out[n++] = (c < 0x20 || c == 0x7f) ? ' ' : (char)c;
    }
    out[n] = '\0';
    em_json_utf8_fix(out);
}

/* details[0].message is "id|Exception.Full.Name|text" (id may be empty), or
 * plain text: *type gets the middle part (or NULL), the text is returned. */
static const char *split_details(const char *details, char *type, size_t type_size)
{
    const char *first = strchr(details, '|');
    const char *second = first ? strchr(first + 1, '|') : NULL;

    if (second == NULL)
        return details;
    snprintf(type, type_size, "%.*s", (int)(second - first - 1), first + 1);
    return second[1] != '\0' ? second + 1 : details;
}

/* Whether a body that is not JSON has anything readable (a missing role is
 * reported as 403 with NUL bytes or nothing). */
static bool readable(const char *text)
{
    for (; *text != '\0'; text++) {
        if (!isspace((unsigned char)*text))
            return true;
    }
    return false;
}

/* The plain-text throttling answer ("You have reached the maximum number of
 * concurrent requests per tenant"), whatever its status. */
static bool throttle_text(const em_http_response *resp)
{
    return resp->body.len > 0 &&
           contains((const unsigned char *)resp->body.data, resp->body.len, EXO_THROTTLE_TEXT);
}

/* A code or class name from the answer (a header, the body): printable
 * ASCII only, as scripts branch on it; anything else becomes '?'. */
static void copy_name(char *out, size_t size, const char *name)
{
    size_t n = 0;

    for (; name != NULL && name[n] != '\0' && n + 1 < size; n++)
        out[n] = name[n] >= 0x20 && name[n] <= 0x7e ? name[n] : '?';
    out[n] = '\0';
}

/* em_exo_map_error; cmdlet (may be NULL) names what a missing role blocks. */
static int map_error(const em_http_response *resp, const char *cmdlet, em_error *err)
{
    yajl_val root = NULL, error = NULL, details, inner, internal;
    const char *code = NULL, *message = NULL, *type = NULL, *detail_text = NULL;
    char text[EM_ERROR_MESSAGE_MAX] = "", detail_type[EM_ERROR_CODE_MAX] = "";
    em_code rc;

    if (resp->body.len > 0)
        em_json_parse(&root, resp->body.data, resp->body.len, NULL);
    error = em_json_get(root, "error");
    if (error != NULL) {
        /* error.message is generic ("Invalid Operation"); the text for the
         * user is in details[0] and/or innererror.internalexception. */
        code = em_json_get_string(error, "code");
        details = em_json_get(error, "details");
        if (YAJL_IS_ARRAY(details) && details->u.array.len > 0 &&
            em_json_get_string(details->u.array.values[0], "message") != NULL)
            detail_text = split_details(em_json_get_string(details->u.array.values[0], "message"),
                                        detail_type, sizeof(detail_type));
        inner = em_json_get(error, "innererror");
        internal = em_json_get(inner, "internalexception");
        message = detail_text ? detail_text
                : em_json_get_string(internal, "message") ? em_json_get_string(internal, "message")
                : em_json_get_string(inner, "message") ? em_json_get_string(inner, "message")
                : em_json_get_string(error, "message");
        type = em_json_get_string(internal, "type") ? em_json_get_string(internal, "type")
             : em_json_get_string(inner, "type");
        if (type == NULL && detail_type[0] != '\0')
            type = detail_type;
    }
    if (type == NULL)
        type = resp->exception_type;
    if (resp->status >= 300 && resp->status < 400)
        /* Not followed: the bearer token would go to a host nobody chose.
         * Security & Compliance is reported to route tenants to a regional
         * host this way (docs/compliance.md). */
        snprintf(text, sizeof(text), "The endpoint answered with a redirect (HTTP %ld), which is not followed. "
                 "Connect with -ConnectionUri set to the tenant's regional host (for Security & Compliance: "
                 "https://<region>.ps.compliance.protection.outlook.com).", resp->status);
    else if (message != NULL)
        first_line(text, sizeof(text), message, strlen(message));
    else if (root == NULL && resp->body.len > 0)
        first_line(text, sizeof(text), resp->body.data, resp->body.len);
    if (!readable(text)) {
        if (resp->status == 403)
            snprintf(text, sizeof(text), "The account lacks the Exchange role (RBAC) needed to run %s: "
                     "Exchange answered 403 Forbidden", cmdlet != NULL ? cmdlet : "this cmdlet");
        else
            snprintf(text, sizeof(text), "Exchange answered HTTP %ld", resp->status);
    }

    if (resp->status == 404 || (type != NULL && strstr(type, "ManagementObjectNotFoundException")) ||
        (code != NULL && strstr(code, "ManagementObjectNotFoundException")))
        rc = EM_ENOTFOUND;
    else if (resp->status == 401)
        rc = EM_EUNAUTHORIZED;
    else if (resp->status == 403)
        rc = EM_EACCESS;
    else if (resp->status == 429 || (root == NULL && throttle_text(resp)))
        rc = EM_ETHROTTLED;
    else if (resp->status >= 300 && resp->status < 400)
        rc = EM_EHTTP;
    else
        rc = EM_EEXCHANGE;
    em_error_set(err, rc, "%s", text);
    if (err != NULL) {
        /* "Microsoft.Exchange....ManagementObjectNotFoundException" -> the class */
        const char *exception = type && strrchr(type, '.') ? strrchr(type, '.') + 1 : type;
        const char *server_code = code ? code : exception;

        err->http_status = resp->status;
        copy_name(err->server_code, sizeof(err->server_code), server_code);
        copy_name(err->exception_type, sizeof(err->exception_type), exception);
        if (resp->retry_after != NULL && isdigit((unsigned char)resp->retry_after[0]))
            err->retry_after = strtol(resp->retry_after, NULL, 10);
    }
    em_json_free(&root);
    return rc;
}

int em_exo_map_error(const em_http_response *resp, em_error *err)
{
    return map_error(resp, NULL, err);
}

/* ---- retry policy ---- */

static const char *const transient_exceptions[] = {
    "DCOverloadedException", "ServerInMMException", "StorageTransientException",
    "ADTransientException", NULL,
};

/* 503, 504, or a 5xx naming one of Exchange's transient server exceptions
 * (innererror.type). */
static bool transient_answer(const em_http_response *resp)
{
    em_error scratch = {0};
    size_t i;

    if (resp->status == 502 || resp->status == 503 || resp->status == 504)
        return true;
    if (resp->status < 500 || resp->status > 599)
        return false;
    em_exo_map_error(resp, &scratch);
    for (i = 0; transient_exceptions[i] != NULL; i++) {
        if (strcmp(scratch.exception_type, transient_exceptions[i]) == 0)
            return true;
    }
    return false;
}

/* base_ms * 2^waits, capped, with equal jitter: [d/2, d]. */
static long backoff_ms(long base_ms, int waits, unsigned jitter)
{
    long d = base_ms;
    int i;

    for (i = 0; i < waits && d < EM_EXO_WAIT_MAX_MS; i++)
        d *= 2;
    if (d > EM_EXO_WAIT_MAX_MS)
        d = EM_EXO_WAIT_MAX_MS;
    return d / 2 + (long)(jitter % (unsigned long)(d - d / 2 + 1));
}

em_exo_retry_action em_exo_retry_decide(long *out, int rc, const em_http_response *resp,
                                        const em_exo_retries *done, bool replayable,
                                        long base_ms, unsigned jitter)
{
    bool answered = rc == EM_OK && resp != NULL;

    *out = 0;
    if (answered && resp->status == 401) {
        /* One recovery per cause: a claims challenge may follow a renewal. */
        bool claims = resp->www_authenticate != NULL &&
                      strstr(resp->www_authenticate, "insufficient_claims") != NULL;

        if (claims ? done->claims_met : done->renewed)
            return EM_EXO_GIVE_UP;
        return claims ? EM_EXO_CLAIMS : EM_EXO_RENEW;
    }
    if (done->waits >= EM_EXO_RETRIES_MAX)
        return EM_EXO_GIVE_UP;
    if (answered) {
        if (resp->status != 429 && !throttle_text(resp) && !transient_answer(resp))
            return EM_EXO_GIVE_UP;
        /* A gateway's 502 may come after Exchange ran the cmdlet. */
        if (resp->status == 502 && !replayable)
            return EM_EXO_GIVE_UP;
        if (resp->retry_after != NULL && isdigit((unsigned char)resp->retry_after[0])) {
            long seconds = strtol(resp->retry_after, NULL, 10);

            *out = seconds > EM_EXO_WAIT_MAX_MS / 1000 ? EM_EXO_WAIT_MAX_MS : seconds * 1000;
            return EM_EXO_WAIT;
        }
    } else if (rc == EM_ETIMEOUT) {
        if (!replayable || done->timeouts >= EM_EXO_TIMEOUT_RETRIES_MAX)
            return EM_EXO_GIVE_UP;
    } else if (rc != EM_ENETWORK || !replayable) {
        return EM_EXO_GIVE_UP;
    }
    *out = backoff_ms(base_ms, done->waits, jitter);
    return EM_EXO_WAIT;
}

static long g_retry_base_ms = EXO_RETRY_BASE_MS;
static long g_stall_ms = EXO_STALL_MS;
static pthread_once_t g_knobs_once = PTHREAD_ONCE_INIT;

/* name's value when it is an integer in [min, max], else def. */
static long env_long(const char *name, long def, long min, long max)
{
    const char *value = getenv(name);
    char *end = NULL;
    long n;

    if (value == NULL || *value == '\0')
        return def;
    n = strtol(value, &end, 10);
    return *end == '\0' && n >= min && n <= max ? n : def;
}

static void read_knobs(void)
{
    g_retry_base_ms = env_long("EXCHANGEMFA_RETRY_BASE_MS", EXO_RETRY_BASE_MS, 1,
                               EM_EXO_WAIT_MAX_MS);
    g_stall_ms = env_long("EXCHANGEMFA_STALL_TIMEOUT_MS", EXO_STALL_MS, 1000, EXO_PAGE_TIMEOUT_MS);
}

long em_exo_retry_base_ms(void)
{
    pthread_once(&g_knobs_once, read_knobs);
    return g_retry_base_ms;
}

long em_exo_stall_ms(void)
{
    pthread_once(&g_knobs_once, read_knobs);
    return g_stall_ms;
}

unsigned em_exo_jitter(void)
{
    unsigned value = 0;

    if (RAND_bytes((unsigned char *)&value, sizeof(value)) != 1)
        value = 0;      /* no jitter is still a valid wait */
    return value;
}

/* Reads only: a request that may have reached Exchange can be sent again. */
static bool replayable(const char *cmdlet)
{
    return strncasecmp(cmdlet, "Get-", 4) == 0 || strncasecmp(cmdlet, "Search-", 7) == 0;
}

/* ---- invoke ---- */

bool em_exo_valid_cmdlet(const char *name)
{
    const char *s;

    if (name == NULL || *name == '\0' || strlen(name) > 128)
        return false;
    for (s = name; *s; s++) {
        if (!isalnum((unsigned char)*s) && *s != '-')
            return false;
    }
    return true;
}

bool em_exo_valid_property(const char *name)
{
    const char *s;

    if (name == NULL || *name == '\0' || strlen(name) > 128)
        return false;
    for (s = name; *s; s++) {
        if (!isalnum((unsigned char)*s) && *s != '_' && *s != '.')
            return false;
    }
    return true;
}

/* State shared by the page loop and the body callback. */
typedef struct invoke_state {
    const em_exo_call *call;
    em_request *req;
    em_exo_page *page;
    long total;                 /* objects sent in earlier pages */
    long page_sent;             /* objects of this page sent, over all its attempts */
    long page_seen;             /* objects of this page parsed in this attempt */
    int page_rc;                /* the parser's failure, when it stopped the transfer */
    em_error page_err;
} invoke_state;

static int send_object(void *ud, const char *json, size_t len)
{
    invoke_state *s = ud;
    em_buf params = EM_BUF_INIT;
    int rc;

    /* A retried page: its first page_sent objects went out already. */
    if (s->page_seen++ < s->page_sent)
        return EM_OK;
    rc = em_buf_puts(&params, "{\"" EM_F_VALUE "\":");
    if (rc == EM_OK)
        rc = em_buf_append(&params, json, len);
    if (rc == EM_OK && em_exo_page_item_types(s->page) != NULL) {
        rc = em_buf_puts(&params, ",\"" EM_F_TYPES "\":\"");
        if (rc == EM_OK)
            rc = em_buf_puts(&params, em_exo_page_item_types(s->page));
        if (rc == EM_OK)
            rc = em_buf_puts(&params, "\"");
    }
    if (rc == EM_OK)
        rc = em_buf_puts(&params, "}");
    if (rc == EM_OK)
        rc = em_request_notify(s->req, EM_N_OBJECT, params.data);
    if (rc == EM_OK)
        s->page_sent++;
    em_buf_free(&params);
    return rc;
}

static int on_body(void *ud, const char *data, size_t len)
{
    invoke_state *s = ud;

    s->page_rc = em_exo_page_feed(s->page, data, len, &s->page_err);
    /* Stop the transfer on a bad page, or once resultSize objects were sent
     * and the page's warnings read. */
    return s->page_rc != EM_OK || em_exo_page_read_enough(s->page);
}

/* ---- SecureString parameters ---- */

/* Exchange's public key for SecureString parameter values, as Microsoft's
 * module ships it (docs/exchange.md, "SecureString"): the service decrypts
 * them. EXCHANGEMFA_EXO_PUBLIC_KEY names a PEM file that replaces it (a
 * rotated key; the tests' emulator key). */
static const char exo_public_key_pem[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA31yPXtYRltEiVLHXaiF3\n"
    "nNtXPBqfNd0YNioi9HwVBOv9CPJhVpDE7sfszHZ0W9uHQP3kZE63zn8Dr/zXknMW\n"
    "uECGuqYOM170R1dc6FTybvkWYK4uFMuwnnNFfKYrhXTGINSfwvYglhaYuBhQIk3f\n"
    "n4hStf5qBA4Pt8BQyhZmMvov/gMh10yCbWDMi7MuXs7XoIBycTreQ7w2knCIrTD7\n"
    "sqtCzIxpowBhP0FyorIVwr+dQNSPhYfxbSlY2k2RrSmva6xgowDdzesUK1p6Y+jZ\n"
    "3PlSB9CuapaCDLMOGyc2tXMEtSjK+RW8k/8rtTLXaOWvMvfdMbF47S5TzkppcRhY\n"
    "TQIDAQAB\n"
    "-----END PUBLIC KEY-----\n";

/* The module marks a SecureString value as {"@exchangemfa.secureString": text}. */
#define EXO_SECURE_MARK "@exchangemfa.secureString"

static EVP_PKEY *exo_public_key(em_error *err)
{
    const char *path = getenv("EXCHANGEMFA_EXO_PUBLIC_KEY");
    EVP_PKEY *key = NULL;
    BIO *bio;
    FILE *f;

    if (path != NULL && *path != '\0') {
        f = fopen(path, "r");
        if (f != NULL) {
            key = PEM_read_PUBKEY(f, NULL, NULL, NULL);
            fclose(f);
        }
    } else if ((bio = BIO_new_mem_buf(exo_public_key_pem, -1)) != NULL) {
        key = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
        BIO_free(bio);
    }
    if (key == NULL)
        em_error_set(err, EM_ECONFIG, "the public key for SecureString parameters could not be read%s%s",
                     path != NULL && *path != '\0' ? " from " : "", path != NULL ? path : "");
    return key;
}

/* base64(RSA PKCS#1 v1.5 encryption of text's UTF-8 bytes), as Exchange
 * expects a SecureString parameter. */
static int encrypt_secure(char **out, const char *text, em_error *err)
{
    EVP_PKEY *key = exo_public_key(err);
    EVP_PKEY_CTX *ctx = NULL;
    unsigned char *cipher = NULL;
    size_t len = 0;
    int rc = EM_OK;

    *out = NULL;
    if (key == NULL)
        return EM_ECONFIG;
    ctx = EVP_PKEY_CTX_new(key, NULL);
    if (ctx == NULL || EVP_PKEY_encrypt_init(ctx) <= 0 ||
        EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) <= 0 ||
        EVP_PKEY_encrypt(ctx, NULL, &len, (const unsigned char *)text, strlen(text)) <= 0 ||
        (cipher = malloc(len)) == NULL ||
        EVP_PKEY_encrypt(ctx, cipher, &len, (const unsigned char *)text, strlen(text)) <= 0 ||
        (*out = malloc(4 * ((len + 2) / 3) + 1)) == NULL)
        rc = em_error_set(err, EM_EINVAL, "a SecureString parameter could not be encrypted "
                          "(too long for the key, or out of memory)");
    else
        EVP_EncodeBlock((unsigned char *)*out, cipher, (int)len);
    free(cipher);
    EVP_PKEY_CTX_free(ctx);
    EVP_PKEY_free(key);
    return rc;
}

/* Copies a parameter value, encrypting the SecureStrings the module marked
 * (at any depth). */
static int gen_parameter(yajl_gen g, yajl_val v, em_error *err)
{
    char *cipher = NULL;
    size_t i;
    int rc;

    if (YAJL_IS_OBJECT(v) && v->u.object.len == 1 && strcmp(v->u.object.keys[0], EXO_SECURE_MARK) == 0 &&
        YAJL_IS_STRING(v->u.object.values[0])) {
        rc = encrypt_secure(&cipher, v->u.object.values[0]->u.string, err);
        if (rc == EM_OK && em_json_gen_str(g, cipher) != yajl_gen_status_ok)
            rc = em_error_set(err, EM_ENOMEM, "parameters could not be encoded");
        free(cipher);
        return rc;
    }
    if (YAJL_IS_OBJECT(v)) {
        if (yajl_gen_map_open(g) != yajl_gen_status_ok)
            return em_error_set(err, EM_ENOMEM, "parameters could not be encoded");
        for (i = 0; i < v->u.object.len; i++) {
            if (em_json_gen_str(g, v->u.object.keys[i]) != yajl_gen_status_ok)
                return em_error_set(err, EM_ENOMEM, "parameters could not be encoded");
            rc = gen_parameter(g, v->u.object.values[i], err);
            if (rc != EM_OK)
                return rc;
        }
        return yajl_gen_map_close(g) == yajl_gen_status_ok ? EM_OK
                                                           : em_error_set(err, EM_ENOMEM, "parameters could not be encoded");
    }
    if (YAJL_IS_ARRAY(v)) {
        if (yajl_gen_array_open(g) != yajl_gen_status_ok)
            return em_error_set(err, EM_ENOMEM, "parameters could not be encoded");
        for (i = 0; i < v->u.array.len; i++) {
            rc = gen_parameter(g, v->u.array.values[i], err);
            if (rc != EM_OK)
                return rc;
        }
        return yajl_gen_array_close(g) == yajl_gen_status_ok ? EM_OK
                                                             : em_error_set(err, EM_ENOMEM, "parameters could not be encoded");
    }
    return em_json_gen_value(g, v) == yajl_gen_status_ok ? EM_OK
                                                         : em_error_set(err, EM_ENOMEM, "parameters could not be encoded");
}

/* params when it is an object, else {}. */
static int gen_params_object(yajl_gen g, yajl_val params, em_error *err)
{
    if (YAJL_IS_OBJECT(params))
        return gen_parameter(g, params, err);
    if (yajl_gen_map_open(g) != yajl_gen_status_ok || yajl_gen_map_close(g) != yajl_gen_status_ok)
        return em_error_set(err, EM_ENOMEM, "parameters could not be encoded");
    return EM_OK;
}

static int build_body(char **out, const em_exo_call *call, em_error *err)
{
    yajl_gen g = em_json_gen_new();
    int st, rc = EM_OK;

    *out = NULL;
    if (g == NULL)
        return em_error_set(err, EM_ENOMEM, "out of memory");
    st = yajl_gen_map_open(g);
    if (st == yajl_gen_status_ok)
        st = em_json_gen_str(g, "CmdletInput");
    if (st == yajl_gen_status_ok)
        st = yajl_gen_map_open(g);
    if (st == yajl_gen_status_ok)
        st = em_json_gen_kv_str(g, "CmdletName", call->cmdlet);
    if (st == yajl_gen_status_ok)
        st = em_json_gen_str(g, "Parameters");
    if (st == yajl_gen_status_ok)
        rc = gen_params_object(g, call->parameters, err);
    if (rc == EM_OK && st == yajl_gen_status_ok)
        st = yajl_gen_map_close(g);
    if (rc == EM_OK && st == yajl_gen_status_ok)
        st = yajl_gen_map_close(g);
    if (rc == EM_OK)
        rc = st == yajl_gen_status_ok ? em_json_gen_dup(out, g) : em_error_set(err, EM_EINVAL, "parameters could not be encoded");
    yajl_gen_free(g);
    return rc;
}

static int build_url(char **out, const em_exo_call *call, em_error *err)
{
    em_buf url = EM_BUF_INIT;
    size_t i;
    int rc;

    *out = NULL;
    rc = em_buf_printf(&url, "%s/adminapi/beta/%s/InvokeCommand", call->connection_uri,
                       call->tenant);
    for (i = 0; rc == EM_OK && YAJL_IS_ARRAY(call->select) && i < call->select->u.array.len; i++) {
        yajl_val name = call->select->u.array.values[i];

        if (!YAJL_IS_STRING(name) || !em_exo_valid_property(name->u.string)) {
            em_buf_free(&url);
            return em_error_set(err, EM_EINVAL, "select must list property names");
        }
        /* "$" percent-encoded, as the service expects; first page only: the
         * nextLink the service returns already carries the selection. */
        rc = em_buf_printf(&url, "%s%s", i == 0 ? "?%24select=" : ",", name->u.string);
    }
    if (rc == EM_OK)
        *out = em_buf_detach(&url);
    em_buf_free(&url);
    return *out != NULL ? EM_OK : em_error_set(err, EM_ENOMEM, "out of memory");
}

/* A nextLink must stay on the connection's origin: the bearer goes with it. */
static bool same_origin(const char *link, const char *origin)
{
    size_t n = strlen(origin);

    return strncasecmp(link, origin, n) == 0 && (link[n] == '/' || link[n] == '?');
}

/* Header lines for one page; the Authorization line holds the token. */
typedef struct page_headers {
    em_buf lines[10];
    const char *list[11];
} page_headers;

static void page_headers_free(page_headers *h)
{
    size_t i;

    for (i = 0; i < sizeof(h->lines) / sizeof(h->lines[0]); i++)
        em_buf_free(&h->lines[i]);
}

static int page_headers_build(page_headers *h, const em_exo_call *call, const char *token,
                              const char *request_id, long max_page)
{
    int rc = EM_OK, n = 0;

    memset(h, 0, sizeof(*h));
    rc |= em_buf_printf(&h->lines[n++], "Authorization: Bearer %s", token);
    rc |= em_buf_puts(&h->lines[n++], "Content-Type: application/json");
    rc |= em_buf_puts(&h->lines[n++], "Accept: application/json");
    rc |= em_buf_printf(&h->lines[n++], "X-CmdletName: %s", call->cmdlet);
    rc |= em_buf_printf(&h->lines[n++], "client-request-id: %s", request_id);
    rc |= em_buf_printf(&h->lines[n++], "connection-id: %s", call->connection_id);
    rc |= em_buf_printf(&h->lines[n++], "Prefer: odata.maxpagesize=%ld", max_page);
    rc |= em_buf_puts(&h->lines[n++], "X-ResponseFormat: json");
    rc |= em_buf_puts(&h->lines[n++], "X-ClientApplication: " EM_HELPER_NAME "/" EM_VERSION);
    if (call->anchor_mailbox != NULL && call->anchor_mailbox[0] != '\0')
        rc |= em_buf_printf(&h->lines[n++], strchr(call->anchor_mailbox, ':') != NULL ? "X-AnchorMailbox: %s"
                                                                                 : "X-AnchorMailbox: UPN:%s",
                            call->anchor_mailbox);
    if (rc != EM_OK)
        return EM_ENOMEM;
    for (int i = 0; i < n; i++)
        h->list[i] = h->lines[i].data;
    h->list[n] = NULL;
    return EM_OK;
}

/* One attempt at a page with token: a fresh parser, the request. EM_OK
 * with *out the answer (any status; also when resultSize objects ended the
 * transfer early), or a transport failure or the parser's. */
static int attempt_page(em_http_response *out, invoke_state *s, const char *token,
                        const char *url, const char *body, const char *request_id,
                        long max_page, em_error *err)
{
    const em_exo_call *call = s->call;
    em_http_request hreq = {0};
    page_headers headers;
    int rc;

    memset(&headers, 0, sizeof(headers));
    em_exo_page_free(&s->page);
    s->page_seen = 0;
    rc = em_exo_page_new(&s->page, call->result_size > 0 ? call->result_size - s->total : 0,
                         send_object, s);
    if (rc == EM_OK)
        rc = page_headers_build(&headers, call, token, request_id, max_page);
    if (rc != EM_OK) {
        page_headers_free(&headers);
        return em_error_set(err, rc, "out of memory");
    }
    hreq.method = "POST";
    hreq.url = url;
    hreq.headers = headers.list;
    hreq.body = body;
    hreq.body_len = strlen(body);
    hreq.timeout_ms = EXO_PAGE_TIMEOUT_MS;
    hreq.stall_ms = em_exo_stall_ms();
    hreq.max_body = EXO_ERROR_BODY_MAX;
    hreq.on_body = on_body;
    hreq.on_body_ud = s;
    s->page_rc = EM_OK;
    em_http_response_free(out);
    rc = em_http_perform(out, &hreq, s->req, err);
    page_headers_free(&headers);
    if (rc == EM_ECANCELLED && !em_request_cancelled(s->req)) {
        /* We stopped the transfer ourselves: a bad page, or enough objects. */
        if (s->page_rc != EM_OK) {
            *err = s->page_err;
            return s->page_rc;
        }
        if (em_exo_page_full(s->page))
            return EM_OK;
    }
    return rc;
}

/* The error after the last attempt; says how many there were when the
 * page was retried, and why a write was not. */
static int give_up(int rc, const em_http_response *resp, const em_exo_retries *done,
                   int attempts, const char *cmdlet, em_error *err)
{
    char message[EM_ERROR_MESSAGE_MAX] = "";
    bool answered = rc == EM_OK;

    if (answered) {
        rc = map_error(resp, cmdlet, err);
        if (rc == EM_EUNAUTHORIZED && (done->renewed || done->claims_met))
            return em_error_set(err, rc, "Exchange refused the access token even after a "
                                "renewal: connect again");
    }
    if (err == NULL || (!answered && rc != EM_ENETWORK && rc != EM_ETIMEOUT))
        return rc;
    snprintf(message, sizeof(message), "%s", err->message);
    if (!answered && !replayable(cmdlet))
        return em_error_set(err, rc, "%s (not retried: %s may have run already)", message, cmdlet);
    if (done->waits > 0)
        return em_error_set(err, rc, "%s (gave up after %d attempts)", message, attempts);
    return rc;
}

/* Gives an attempt's place in the window back with what the answer said
 * about the service's limits (nothing when there was no answer). */
static void leave_window(em_exo_window *window, int rc, const em_http_response *resp)
{
    em_exo_window_answer answer;

    if (rc != EM_OK) {
        em_exo_window_leave(window, NULL);
        return;
    }
    em_exo_window_read_answer(&answer, resp->status, resp->status == 429 || throttle_text(resp),
                              resp->rate_limit_remaining, resp->rate_limit_reset);
    em_exo_window_leave(window, &answer);
}

/* Fetches one page at url, streaming its objects, retrying per
 * em_exo_retry_decide. On success *next is the nextLink to follow (caller
 * frees) or NULL, and s->page's counts are set. */
static int fetch_page(char **next, invoke_state *s, const char *url, const char *body,
                      const char *request_id, long max_page, em_error *err)
{
    const em_exo_call *call = s->call;
    em_http_response resp = {0};
    em_exo_retries done = {0};
    em_exo_retry_action action;
    char *token = NULL, *stale = NULL, *claims = NULL;
    long delay = 0;
    int attempts, rc = EM_OK;
    bool cut = false;

    *next = NULL;
    s->page_sent = 0;
    for (attempts = 1;; attempts++) {
        /* Renewed when stale is set, for the claims when set; a failure here
         * is the connection's (em_conn_bearer), not retried. */
        em_free_secret(&token);
        rc = call->get_token(&token, call->token_ud, stale, claims, s->req, err);
        em_free_secret(&stale);
        if (rc != EM_OK && rc != EM_ECANCELLED && claims != NULL)
            rc = em_error_set(err, rc, "Exchange asks for a new sign-in (a Conditional Access claims "
                                       "challenge): run Connect-ExchangeMfa again");
        free(claims);
        claims = NULL;
        if (rc != EM_OK)
            goto free_all;
        rc = em_exo_window_enter(call->window, s->req);
        if (rc != EM_OK) {
            rc = em_error_set(err, rc, "request cancelled");
            goto free_all;
        }
        rc = attempt_page(&resp, s, token, url, body, request_id, max_page, err);
        leave_window(call->window, rc, &resp);
        if (rc == EM_OK && resp.status >= 200 && resp.status < 300) {
            /* No Content (a cmdlet without output), or resultSize reached */
            if (resp.status == 204 || em_exo_page_full(s->page))
                break;
            rc = em_exo_page_finish(s->page, err);
            if (rc == EM_OK)
                break;
            if (!em_exo_page_cut(s->page))
                goto free_all;
            rc = EM_ENETWORK;   /* ended cleanly between two tokens: as a dropped connection */
            cut = true;
        } else {
            cut = false;
        }
        action = em_exo_retry_decide(&delay, rc, &resp, &done, replayable(call->cmdlet),
                                     em_exo_retry_base_ms(), em_exo_jitter());
        if (action == EM_EXO_GIVE_UP) {
            rc = give_up(rc, &resp, &done, attempts, call->cmdlet, err);
            /* The service answered every time, with pages cut short. */
            if (cut && err != NULL) {
                err->code = EM_EBADRESPONSE;
                rc = EM_EBADRESPONSE;
            }
            goto free_all;
        }
        if (action == EM_EXO_WAIT) {
            done.waits++;
            if (rc == EM_ETIMEOUT)
                done.timeouts++;
            /* em_request_sleep wakes at once on cancel. */
            if (em_request_sleep(s->req, delay) != EM_OK) {
                rc = em_error_set(err, EM_ECANCELLED, "request cancelled");
                goto free_all;
            }
            continue;
        }
        /* A 401: renew the token just refused, with the challenge's claims (CAE). */
        if (action == EM_EXO_CLAIMS)
            done.claims_met = true;
        else
            done.renewed = true;
        if (action == EM_EXO_CLAIMS) {
            rc = em_oidc_parse_claims_challenge(&claims, resp.www_authenticate, err);
            if (rc != EM_OK)
                goto free_all;
        }
        stale = token;
        token = NULL;
    }
    if (resp.status == 204 || em_exo_page_full(s->page))
        goto free_all;
    if (em_exo_page_objects(s->page) < s->page_sent) {
        rc = em_error_set(err, EM_EBADRESPONSE, "Exchange answered a retried page with fewer "
                          "objects than it sent before; the result may be incomplete");
        goto free_all;
    }
    if (em_exo_page_next_link(s->page) != NULL) {
        if (!same_origin(em_exo_page_next_link(s->page), call->connection_uri)) {
            rc = em_error_set(err, EM_EBADRESPONSE,
                              "Exchange sent a nextLink to another host; not followed");
            goto free_all;
        }
        *next = strdup(em_exo_page_next_link(s->page));
        if (*next == NULL)
            rc = em_error_set(err, EM_ENOMEM, "out of memory");
    }
free_all:
    em_http_response_free(&resp);
    em_free_secret(&token);
    em_free_secret(&stale);
    free(claims);
    return rc;
}

static int notify_page_end(invoke_state *s, long page, bool more)
{
    yajl_gen g = em_json_gen_new();
    char *params = NULL;
    size_t i;
    int st, rc = EM_OK;

    if (g == NULL)
        return EM_ENOMEM;
    for (i = 0; rc == EM_OK && i < em_exo_page_warning_count(s->page); i++)
        rc = em_request_notify_string(s->req, EM_N_WARNING, EM_F_MESSAGE,
                                      em_exo_page_warning(s->page, i));
    /* resultSize stopped the read with more to come: say so, as Exchange
     * does when its own ResultSize cuts a list. */
    if (rc == EM_OK && em_exo_page_full(s->page) && em_exo_page_next_link(s->page) != NULL &&
        em_exo_page_warning_count(s->page) == 0)
        rc = em_request_notify_string(s->req, EM_N_WARNING, EM_F_MESSAGE, EM_EXO_MORE_RESULTS);
    st = yajl_gen_map_open(g);
    if (st == yajl_gen_status_ok)
        st = em_json_gen_kv_int(g, EM_F_PAGE, page);
    if (st == yajl_gen_status_ok)
        st = em_json_gen_kv_int(g, EM_F_OBJECTS, s->total);
    if (st == yajl_gen_status_ok)
        st = em_json_gen_kv_bool(g, EM_F_MORE, more);
    if (st == yajl_gen_status_ok)
        st = yajl_gen_map_close(g);
    if (rc == EM_OK)
        rc = st == yajl_gen_status_ok ? em_json_gen_dup(&params, g) : EM_ENOMEM;
    if (rc == EM_OK)
        rc = em_request_notify(s->req, EM_N_PAGE, params);
    free(params);
    yajl_gen_free(g);
    return rc;
}

/* Exchange refuses a nextLink it no longer honours (older than 30 minutes,
 * or a page that lost its server): say what was delivered and what to do. */
static void explain_expired_link(em_error *err, long page, long delivered)
{
    char message[EM_ERROR_MESSAGE_MAX];

    if (err == NULL || err->code != EM_EEXCHANGE || err->http_status != 400 ||
        strstr(err->message, EXO_PAGING_EXPIRED_TEXT) == NULL)
        return;
    snprintf(message, sizeof(message), "%s", err->message);
    em_error_set(err, EM_EEXCHANGE, "Exchange no longer accepts the link to page %ld (\"%s\"): the %ld "
                 "objects already delivered stand, the rest was not read. Run the command again; "
                 "narrow a long read (-Filter, -ResultSize) so it ends within Exchange's 30 minutes",
                 page, message, delivered);
    snprintf(err->server_code, sizeof(err->server_code), "%s", "PaginationExpired");
}

int em_exo_invoke(em_exo_result *out, const em_exo_call *call, em_request *req, em_error *err)
{
    invoke_state s;
    char request_id[EM_GUID_LEN + 1];
    char *url = NULL, *next = NULL, *body = NULL;
    long page = 0, remaining, max_page;
    bool more = true;
    int rc;

    memset(out, 0, sizeof(*out));
    memset(&s, 0, sizeof(s));
    s.call = call;
    s.req = req;
    if (!em_exo_valid_cmdlet(call->cmdlet))
        return em_error_set(err, EM_EINVAL, "cmdlet must be a cmdlet name such as Get-Mailbox");
    rc = build_url(&url, call, err);
    if (rc != EM_OK)
        return rc;
    rc = build_body(&body, call, err);
    if (rc != EM_OK)
        goto free_all;
    rc = em_guid_new(request_id);
    if (rc != EM_OK) {
        em_error_set(err, rc, "the random generator failed");
        goto free_all;
    }
    while (more) {
        page++;
        /* Flow control: page k+2 waits for the module's ack of page k. */
        if (page >= 3) {
            rc = em_rpc_wait_ack(req, page - 2);
            if (rc != EM_OK) {
                em_error_set(err, rc, "request cancelled");
                goto free_all;
            }
        }
        remaining = call->result_size > 0 ? call->result_size - s.total : EM_PAGESIZE_MAX;
        max_page = call->page_size > 0 && call->page_size < EM_PAGESIZE_MAX ? call->page_size
                                                                           : EM_PAGESIZE_MAX;
        if (remaining < max_page)
            max_page = remaining;
        rc = fetch_page(&next, &s, url, body, request_id, max_page, err);
        if (rc != EM_OK) {
            if (page > 1)
                explain_expired_link(err, page, s.total);
            goto free_all;
        }
        s.total += em_exo_page_objects(s.page);
        more = next != NULL && (call->result_size == 0 || s.total < call->result_size);
        rc = notify_page_end(&s, page, more);
        if (rc != EM_OK) {
            em_error_set(err, rc, "out of memory");
            goto free_all;
        }
        free(url);
        url = next;
        next = NULL;
    }
    out->objects = s.total;
    out->pages = page;
free_all:
    em_exo_page_free(&s.page);
    free(url);
    free(next);
    free(body);
    return rc;
}
