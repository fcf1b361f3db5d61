/* guid.h - random (version 4) GUIDs for connection ids and client-request-id. */
#ifndef EM_GUID_H
#define EM_GUID_H

#define EM_GUID_LEN 36  /* "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx" */

/* Fills out (EM_GUID_LEN + 1 bytes) from RAND_bytes. EM_OK or EM_EINTERNAL
 * when the random generator fails. */
int em_guid_new(char out[EM_GUID_LEN + 1]);

#endif
