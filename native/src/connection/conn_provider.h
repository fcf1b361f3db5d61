/* conn_provider.h - a connection's identity provider and public client
 * (conn_provider.c), shared by connection.c and conn_cache.c: private to
 * the connection module.
 */
#ifndef EM_CONN_PROVIDER_H
#define EM_CONN_PROVIDER_H

#include "connection/connection.h"
#include "identity/oidc.h"
#include "protocol/request.h"
#include "util/error.h"

/* The connection's provider (borrowed from the table), discovered when
 * first needed (a sign-in served by a cached access token needs none).
 * Under renew_lock, or before the connection is shared. Errors of
 * em_oidc_discover, EM_ENOMEM. */
int em_conn_need_provider(em_conn *conn, em_request *req, em_error *err);

/* The public client of conn; every string borrowed from conn. */
em_oidc_client em_conn_client(const em_conn *conn);

/* Frees the table's providers (em_conn_table_free, nothing else running). */
void em_conn_providers_free(em_conn_table *table);

#endif
