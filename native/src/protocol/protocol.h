/* protocol.h - the vocabulary of the module <-> helper protocol
 * (docs/protocol.md): method names, field names, limits and JSON-RPC codes.
 * Every string the helper reads from or writes to the pipe comes from here.
 */
#ifndef EM_PROTOCOL_H
#define EM_PROTOCOL_H

#define EM_PROTOCOL_VERSION 1
#define EM_HELPER_NAME "ExchangeMfa"
#ifndef EM_VERSION
#define EM_VERSION "0.1.0"
#endif

/* A line is at most this many bytes, newline excluded. */
#define EM_LINE_MAX (1024L * 1024L)

/* JSON-RPC error codes. */
#define EM_RPC_PARSE_ERROR      (-32700)
#define EM_RPC_INVALID_REQUEST  (-32600)
#define EM_RPC_METHOD_NOT_FOUND (-32601)
#define EM_RPC_INVALID_PARAMS   (-32602)
#define EM_RPC_SERVER_ERROR     (-32000)

/* Envelope. */
#define EM_F_JSONRPC    "jsonrpc"
#define EM_JSONRPC_VERSION "2.0"
#define EM_F_ID         "id"
#define EM_F_METHOD     "method"
#define EM_F_PARAMS     "params"
#define EM_F_RESULT     "result"
#define EM_F_ERROR      "error"
#define EM_F_CODE       "code"
#define EM_F_MESSAGE    "message"
#define EM_F_DATA       "data"

/* error.data */
#define EM_F_NAME       "name"
#define EM_F_HTTPSTATUS "httpStatus"
#define EM_F_SERVERCODE "serverCode"
#define EM_F_AADSTS     "aadsts"
#define EM_F_RETRYAFTER "retryAfter"
#define EM_F_TARGET     "target"
#define EM_F_EXCEPTIONTYPE "exceptionType"

/* Methods (module -> helper requests). */
#define EM_M_INITIALIZE "initialize"
#define EM_M_CONNECT    "connect"
#define EM_M_LIST       "list"
#define EM_M_DISCONNECT "disconnect"
#define EM_M_INVOKE     "invoke"
#define EM_M_SHUTDOWN   "shutdown"
/* Notifications from the module. */
#define EM_M_ACK        "ack"
#define EM_M_CANCEL     "cancel"
/* Notifications from the helper. */
#define EM_N_DEVICECODE "deviceCode"
#define EM_N_OBJECT     "object"
#define EM_N_WARNING    "warning"
#define EM_N_PAGE       "page"
#define EM_N_BROWSERURL "browserUrl"

/* initialize */
#define EM_F_PROTOCOLVERSION "protocolVersion"
#define EM_F_CLIENT          "client"
#define EM_F_HELPERVERSION   "helperVersion"
#define EM_F_LIBRARIES       "libraries"

/* connect and the session object */
#define EM_F_MODE            "mode"
#define EM_MODE_DEVICE       "device"
#define EM_MODE_INTERACTIVE  "interactive"
#define EM_MODE_CERTIFICATE  "certificate"
#define EM_MODE_MANAGEDIDENTITY "managedIdentity"
#define EM_MODE_FEDERATED    "federated"
#define EM_MODE_ACCESSTOKEN  "accessToken"
#define EM_MODE_PASSWORD     "password"
#define EM_F_TOKENCACHE      "tokenCache"
#define EM_TOKENCACHE_PERSISTENT "persistent"
#define EM_TOKENCACHE_MEMORY "memory"
#define EM_F_NOBROWSER       "noBrowser"
#define EM_F_PROMPT          "prompt"
#define EM_F_TIMEOUTSECONDS  "timeoutSeconds"
#define EM_F_REDIRECTURI     "redirectUri"
#define EM_F_CERTFILE        "certificateFilePath"
#define EM_F_CERTKEYFILE     "certificateKeyFilePath"
#define EM_F_CERTDATA        "certificateData"          /* secret */
#define EM_F_CERTTHUMBPRINT  "certificateThumbprint"
#define EM_F_CERTPASSWORD    "certificatePassword"      /* secret */
#define EM_F_ASSERTIONALG    "assertionAlgorithm"
#define EM_ALG_PS256         "PS256"
#define EM_ALG_RS256         "RS256"
#define EM_F_MIACCOUNTID     "managedIdentityAccountId"
#define EM_F_ACCESSTOKEN     "accessToken"              /* secret */
#define EM_F_PASSWORD        "password"                 /* secret */
#define EM_F_UPN             "userPrincipalName"
#define EM_F_APPID           "appId"
#define EM_F_ORGANIZATION    "organization"
#define EM_F_DELEGATEDORG    "delegatedOrganization"
#define EM_F_ENVIRONMENT     "environment"
#define EM_F_AUTHORITY       "authority"
#define EM_F_CONNECTIONURI   "connectionUri"
#define EM_F_RESOURCE        "resource"
#define EM_F_PRODUCT         "product"
#define EM_PRODUCT_EXCHANGE  "exchange"
#define EM_PRODUCT_COMPLIANCE "compliance"
#define EM_F_PAGESIZE        "pageSize"
#define EM_F_THROTTLELIMIT   "throttleLimit"
#define EM_F_CONNECTIONID    "connectionId"
#define EM_F_TENANTID        "tenantId"
#define EM_F_SIGNINMODE      "signInMode"
#define EM_SIGNIN_DEVICECODE "DeviceCode"
#define EM_SIGNIN_INTERACTIVE "Interactive"
#define EM_SIGNIN_CERTIFICATE "Certificate"
#define EM_SIGNIN_MANAGEDIDENTITY "ManagedIdentity"
#define EM_SIGNIN_FEDERATED  "Federated"
#define EM_SIGNIN_ACCESSTOKEN "AccessToken"
#define EM_SIGNIN_PASSWORD   "Password"
#define EM_SIGNIN_SILENT     "Silent"
#define EM_F_TOKENEXPIRES    "tokenExpiresUtc"
#define EM_F_STATE           "state"
#define EM_STATE_CONNECTED   "Connected"
#define EM_STATE_CLOSED      "Closed"
#define EM_STATE_BROKEN      "Broken"
#define EM_F_TOKENSTATUS     "tokenStatus"
#define EM_TOKEN_ACTIVE      "Active"
#define EM_TOKEN_EXPIRED     "Expired"
#define EM_TOKEN_REVOKED     "Revoked"
#define EM_F_CONNECTIONS     "connections"

/* disconnect */
#define EM_F_FORGETCACHE     "forgetCache"

/* browserUrl notification */
#define EM_F_URL             "url"

/* deviceCode notification */
#define EM_F_USERCODE        "userCode"
#define EM_F_VERIFICATIONURI "verificationUri"
#define EM_F_EXPIRESIN       "expiresIn"
#define EM_F_INTERVAL        "interval"

/* invoke and its notifications */
#define EM_F_CMDLET          "cmdlet"
#define EM_F_PARAMETERS      "parameters"
#define EM_F_RESULTSIZE      "resultSize"
#define EM_RESULTSIZE_UNLIMITED "Unlimited"
#define EM_F_SELECT          "select"
#define EM_F_REQUESTID       "requestId"
#define EM_F_VALUE           "value"
#define EM_F_TYPES           "types"
#define EM_F_PAGE            "page"
#define EM_F_OBJECTS         "objects"
#define EM_F_PAGES           "pages"
#define EM_F_MORE            "more"

#define EM_PAGESIZE_MAX      1000

#endif
