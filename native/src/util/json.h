/* json.h - yajl with our allocator: a bounded tree parser and generator
 * helpers.
 *
 * Every yajl handle the helper creates (yajl_alloc, yajl_gen_alloc) gets
 * em_json_alloc_funcs, which count live blocks so tests can assert that
 * nothing leaked. em_json_parse builds the same yajl_val tree as
 * yajl_tree_parse (so YAJL_IS_* / YAJL_GET_* work), but with our allocator
 * and a nesting limit, since untrusted lines and pages reach it.
 */
#ifndef EM_JSON_H
#define EM_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <yajl/yajl_common.h>
#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>
#include "util/error.h"

/* Deepest nesting em_json_parse accepts (objects + arrays). The module
 * refuses deeper requests before sending (HelperChannel.ps1's
 * $script:HelperJsonMaxDepth is the same number). */
#define EM_JSON_MAX_DEPTH 64
#define EM_JSON_MAX_DEPTH_TEXT "64"

/* The allocator to pass to yajl_alloc and yajl_gen_alloc. */
extern yajl_alloc_funcs em_json_alloc_funcs;

/* Blocks allocated through em_json_alloc_funcs and not yet freed. */
long em_json_outstanding(void);

/* Parses len bytes of JSON text (no NUL needed). On success *out is the
 * root (caller frees with em_json_free). Errors: EM_EPARSE (message says
 * where; also for nesting deeper than EM_JSON_MAX_DEPTH and for a string
 * or key holding a NUL), EM_ENOMEM. */
int em_json_parse(yajl_val *out, const char *text, size_t len, em_error *err);
void em_json_free(yajl_val *val);

/* Member key of object obj, or NULL (also when obj is not an object).
 * Borrowed from obj. */
yajl_val em_json_get(yajl_val obj, const char *key);
/* The string member key, or NULL when absent or not a string. Borrowed. */
const char *em_json_get_string(yajl_val obj, const char *key);
/* The integer member key into *out; false when absent or not an integer. */
bool em_json_get_int(long long *out, yajl_val obj, const char *key);
/* A count of seconds, member key, given as a JSON integer or a decimal
 * string (Microsoft's older endpoints send strings). Returns 1 and sets
 * *out, 0 when absent or null, -1 when malformed or negative. */
int em_json_get_seconds(long long *out, yajl_val obj, const char *key);

/* A generator with our allocator and UTF-8 validation on. Caller frees
 * with yajl_gen_free. NULL on ENOMEM. */
yajl_gen em_json_gen_new(void);

/* yajl_gen_string of a NUL-terminated string; yajl_gen_status. */
int em_json_gen_str(yajl_gen g, const char *s);
/* A key then a string value / an integer value / a boolean value. */
int em_json_gen_kv_str(yajl_gen g, const char *key, const char *value);
int em_json_gen_kv_int(yajl_gen g, const char *key, long long value);
int em_json_gen_kv_bool(yajl_gen g, const char *key, bool value);

/* Copies the generator's text into a new NUL-terminated string (caller
 * frees with free()); EM_ENOMEM, or EM_EINTERNAL when the generator is in
 * an error state or the text is incomplete. */
int em_json_gen_dup(char **out, yajl_gen g);

/* Appends a generated value: re-generates tree value v into g (used to copy
 * params through). Returns a yajl_gen_status. */
int em_json_gen_value(yajl_gen g, yajl_val v);

/* Replaces bytes of s that are not UTF-8 (for example a sequence cut by
 * truncation) with '?', in place, so yajl_gen accepts the text. Overlong
 * and surrogate forms are left to yajl's own validation. */
void em_json_utf8_fix(char *s);

#endif
