/* security.c (Windows) - UTF-16 conversion and user-only ACLs: the
 * Windows counterpart of 0700/0600 and st_uid == geteuid(). */
#include "platform/win32/win32.h"

#include <aclapi.h>
#include <sddl.h>
#include <stdlib.h>
#include <wchar.h>

wchar_t *em_win_wide(const char *utf8)
{
    int n = MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, utf8, -1, NULL, 0);
    wchar_t *w;

    if (n <= 0)
        return NULL;
    w = malloc((size_t)n * sizeof *w);
    if (w != NULL && MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, utf8, -1, w, n) != n) {
        free(w);
        w = NULL;
    }
    return w;
}

char *em_win_utf8(const wchar_t *wide)
{
    int n = WideCharToMultiByte(CP_UTF8, 0, wide, -1, NULL, 0, NULL, NULL);
    char *s;

    if (n <= 0)
        return NULL;
    s = malloc((size_t)n);
    if (s != NULL && WideCharToMultiByte(CP_UTF8, 0, wide, -1, s, n, NULL, NULL) != n) {
        free(s);
        s = NULL;
    }
    return s;
}

/* The token's user (TokenUser) or owner (TokenOwner) SID; free() it. */
static PSID token_sid(TOKEN_INFORMATION_CLASS which)
{
    HANDLE token = NULL;
    DWORD size = 0;
    void *info = NULL;
    PSID sid = NULL, copy = NULL;

    if (!OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &token))
        return NULL;
    GetTokenInformation(token, which, NULL, 0, &size);
    info = size > 0 ? malloc(size) : NULL;
    if (info != NULL && GetTokenInformation(token, which, info, size, &size)) {
        sid = which == TokenUser ? ((TOKEN_USER *)info)->User.Sid : ((TOKEN_OWNER *)info)->Owner;
        copy = malloc(GetLengthSid(sid));
        if (copy != NULL && !CopySid(GetLengthSid(sid), copy, sid)) {
            free(copy);
            copy = NULL;
        }
    }
    free(info);
    CloseHandle(token);
    return copy;
}

PSECURITY_DESCRIPTOR em_win_user_only_sd(void)
{
    PSID user = token_sid(TokenUser);
    LPWSTR user_text = NULL;
    PSECURITY_DESCRIPTOR sd = NULL;
    wchar_t sddl[256] = L"D:P(A;OICI;FA;;;";

    /* P: protected (nothing inherited from above); OICI: files and folders
     * below inherit it; FA: full access; the user's SID alone. */
    if (user != NULL && ConvertSidToStringSidW(user, &user_text) &&
        wcslen(sddl) + wcslen(user_text) + 2 < sizeof sddl / sizeof sddl[0]) {
        wcscat(sddl, user_text);
        wcscat(sddl, L")");
        if (!ConvertStringSecurityDescriptorToSecurityDescriptorW(sddl, SDDL_REVISION_1, &sd, NULL))
            sd = NULL;
    }
    LocalFree(user_text);
    free(user);
    return sd;
}

static bool is_well_known(PSID sid, WELL_KNOWN_SID_TYPE type)
{
    return IsWellKnownSid(sid, type) != FALSE;
}

bool em_win_check_private(HANDLE handle, const wchar_t *path, bool *foreign, bool *open)
{
    PSID owner = NULL, user = token_sid(TokenUser), default_owner = token_sid(TokenOwner);
    PACL dacl = NULL;
    PSECURITY_DESCRIPTOR sd = NULL;
    SECURITY_INFORMATION what = OWNER_SECURITY_INFORMATION | DACL_SECURITY_INFORMATION;
    DWORD rc;
    bool ok = false;

    *foreign = false;
    *open = false;
    if (user == NULL)
        goto out;
    rc = handle != NULL ? GetSecurityInfo(handle, SE_FILE_OBJECT, what, &owner, NULL, &dacl, NULL, &sd)
                        : GetNamedSecurityInfoW(path, SE_FILE_OBJECT, what, &owner, NULL, &dacl, NULL, &sd);
    if (rc != ERROR_SUCCESS)
        goto out;
    ok = true;
    /* An elevated administrator's files are owned by Administrators. */
    *foreign = owner == NULL || !(EqualSid(owner, user) ||
                                  (default_owner != NULL && EqualSid(owner, default_owner)));
    if (dacl == NULL) {
        *open = true;
        goto out;
    }
    for (DWORD i = 0; i < dacl->AceCount; i++) {
        ACE_HEADER *ace = NULL;
        PSID sid;

        ACCESS_MASK mask;

        if (!GetAce(dacl, i, (void **)&ace) || ace->AceType != ACCESS_ALLOWED_ACE_TYPE)
            continue;
        sid = (PSID)&((ACCESS_ALLOWED_ACE *)ace)->SidStart;
        mask = ((ACCESS_ALLOWED_ACE *)ace)->Mask;
        /* Only what lets others read or change the content counts. */
        if ((mask & (FILE_READ_DATA | FILE_WRITE_DATA | FILE_APPEND_DATA | GENERIC_READ | GENERIC_WRITE |
                     GENERIC_ALL | WRITE_DAC | WRITE_OWNER)) == 0)
            continue;
        if (EqualSid(sid, user) || is_well_known(sid, WinLocalSystemSid) ||
            is_well_known(sid, WinBuiltinAdministratorsSid) || is_well_known(sid, WinCreatorOwnerSid) ||
            (default_owner != NULL && EqualSid(sid, default_owner)))
            continue;
        *open = true;
    }
out:
    LocalFree(sd);
    free(user);
    free(default_owner);
    return ok;
}

bool em_win_make_private(const wchar_t *path)
{
    PSECURITY_DESCRIPTOR sd = em_win_user_only_sd();
    PACL dacl = NULL;
    BOOL present = FALSE, defaulted = FALSE;
    bool ok = false;

    if (sd != NULL && GetSecurityDescriptorDacl(sd, &present, &dacl, &defaulted) && present)
        ok = SetNamedSecurityInfoW((LPWSTR)path, SE_FILE_OBJECT,
                                   DACL_SECURITY_INFORMATION | PROTECTED_DACL_SECURITY_INFORMATION,
                                   NULL, NULL, dacl, NULL) == ERROR_SUCCESS;
    LocalFree(sd);
    return ok;
}
