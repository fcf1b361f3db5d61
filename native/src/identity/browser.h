/* browser.h - opens a URL in the user's browser without a shell.
 *
 * $BROWSER wins (its first ':'-separated entry, split on blanks; a "%s" in
 * an argument is replaced by the URL, else the URL is appended), then
 * xdg-open, then open (macOS). The child gets argv only (posix_spawnp, no
 * shell), stdin/stdout/stderr on /dev/null, and the helper's environment
 * without the managed identity secrets (IDENTITY_HEADER, MSI_SECRET). The
 * URL carries state and the PKCE challenge only, which may be seen.
 */
#ifndef EM_BROWSER_H
#define EM_BROWSER_H

#include "util/error.h"

/* Starts the browser on url and returns without waiting for it (a detached
 * thread reaps the child). EM_ENOTFOUND when no browser program could be
 * started (err says what was tried); EM_EINVAL for a URL that is not
 * http(s). */
int em_browser_open(const char *url, em_error *err);

#endif
