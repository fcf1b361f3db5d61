/* win32.h - helpers shared by the Windows implementation of platform.h
 * only: UTF-8 <-> UTF-16, the current user's SID, user-only security. */
#ifndef EM_PLATFORM_WIN32_H
#define EM_PLATFORM_WIN32_H

#include <stdbool.h>
#include <winsock2.h>     /* before windows.h, as Winsock asks */
#include <windows.h>

/* UTF-16 copy of a UTF-8 string; caller frees; NULL on bad input or memory. */
wchar_t *em_win_wide(const char *utf8);

/* UTF-8 copy of a UTF-16 string; caller frees. */
char *em_win_utf8(const wchar_t *wide);

/* A security descriptor whose DACL grants the current user alone full
 * control, protected from inheritance (children inherit it); LocalFree it.
 * NULL on failure. */
PSECURITY_DESCRIPTOR em_win_user_only_sd(void);

/* Checks the owner and DACL of an open handle or (handle NULL) a path:
 * *foreign when another user owns it, *open when its DACL lets a SID other
 * than the user, SYSTEM or Administrators read or change the content (a
 * NULL DACL lets everyone in). false when the security information cannot be read. */
bool em_win_check_private(HANDLE handle, const wchar_t *path, bool *foreign, bool *open);

/* Replaces the DACL of path by the user-only one; false on failure. */
bool em_win_make_private(const wchar_t *path);

#endif
