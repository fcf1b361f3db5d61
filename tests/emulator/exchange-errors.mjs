// Error answers of the Exchange admin REST endpoint:
//   {"error":{"code","message","details":[{"code":"","target":"","message":"id|Type|text"}],
//    "innererror":{"message","type","internalexception":null}}}
// with the header x-ExceptionType: <short type name>.
import { randomUUID } from 'node:crypto';
import { sendJson, correlationId } from './http.mjs';

export function exchangeHeaders(req) {
  return {
    'request-id': randomUUID(),
    'client-request-id': correlationId(req),
    'X-Content-Type-Options': 'nosniff',
    'Cache-Control': 'no-cache',
  };
}

// e: {status, code, type (full .NET type), id, message, shape}. As the
// real service: error.message is generic; the text is in details[0]
// ("id|Type|text", id may be empty) and/or innererror.internalexception;
// shape 'details' leaves internalexception out, 'internal' leaves details
// out; '@adminapi.warnings' sits inside error.
export function exchangeErrorBody(e) {
  const error = {
    code: e.code,
    message: e.status === 400 ? 'Invalid Operation' : 'Error executing cmdlet',
  };
  if (e.shape !== 'internal') {
    error.details = [{ code: '', target: '', message: `${e.id ?? 'Ex6F9304'}|${e.type}|${e.message}` }];
  }
  error.innererror = {
    message: e.message,
    type: e.type,
    internalexception: e.shape === 'details' ? null : { message: e.message, type: e.type },
  };
  error['adminapi.warnings@odata.type'] = '#Collection(String)';
  error['@adminapi.warnings'] = [];
  return { error };
}

export function sendExchangeError(req, res, e, headers = {}) {
  const shortType = e.type.slice(e.type.lastIndexOf('.') + 1);
  const all = { ...exchangeHeaders(req), 'x-ExceptionType': shortType, ...headers };
  for (const name of Object.keys(all)) if (all[name] === undefined) delete all[name];
  sendJson(res, e.status, exchangeErrorBody(e), all);
}

const DC = 'NAMPR01A001DC001.NAMPR01A001.PROD.OUTLOOK.COM';

// PowerShell's parameter binding refusals all share one id and type.
function bindingError(message) {
  return {
    status: 400, code: 'BadRequest', id: 'Ex2A1D9F',
    type: 'System.Management.Automation.ParameterBindingException',
    message,
  };
}

export const EXO = {
  notFound: (identity) => ({
    status: 404, code: 'NotFound', id: 'Ex6F9304',
    type: 'Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException',
    message: `The operation couldn't be performed because object '${identity}' couldn't be found on '${DC}'.`,
  }),
  commandNotFound: (name) => ({
    status: 400, code: 'BadRequest', id: 'Ex0C4B5E',
    type: 'System.Management.Automation.CommandNotFoundException',
    message: `The term '${name}' is not recognized as a name of a cmdlet, function, script file, or executable `
      + 'program. Check the spelling of the name, or if a path was included, verify that the path is correct and try again.',
  }),
  parameterNotFound: (name) => bindingError(`A parameter cannot be found that matches parameter name '${name}'.`),
  badParameterValue: (name, value, why) => bindingError(
    `Cannot process argument transformation on parameter '${name}'. Cannot convert value "${value}": ${why}`),
  badRequest: (message) => ({
    status: 400, code: 'BadRequest', id: 'Ex4E8F21',
    type: 'Microsoft.Exchange.Admin.OData.Core.ODataBadRequestException',
    message,
  }),
  tenantNotFound: (tenant) => ({
    status: 404, code: 'NotFound', id: 'Ex7B52C0',
    type: 'Microsoft.Exchange.Configuration.Tasks.TenantNotFoundException',
    message: `The tenant '${tenant}' couldn't be found.`,
  }),
  tenantMismatch: (tid, tenant) => ({
    status: 403, code: 'Forbidden', id: 'Ex1D3A77',
    type: 'System.UnauthorizedAccessException',
    message: `The token's tenant '${tid}' doesn't match the organization '${tenant}' in the request URL.`,
  }),
  // Paging past the service's 30 minutes, or to a server that lost the
  // call's affinity.
  paginationExpired: () => ({
    status: 400, code: 'BadRequest', id: '',
    type: 'Microsoft.Exchange.Admin.OData.Core.ODataBadRequestException',
    message: 'Expired or Invalid pagination request. Default Expiry time is 00:30:00',
  }),
  forbidden: (cmdlet) => ({
    status: 403, code: 'Forbidden', id: 'Ex9F2B41',
    type: 'Microsoft.Exchange.Configuration.Tasks.AccessDeniedException',
    message: `The user doesn't have the RBAC role needed to run '${cmdlet}'.`,
  }),
  transient: (shortName) => ({
    status: 500, code: 'InternalServerError', id: 'Ex5C0E1A',
    type: `Microsoft.Exchange.Data.${/^Storage/.test(shortName) ? 'Storage' : 'Directory'}.${shortName}`,
    message: `A transient error occurred on the server (${shortName}). Please try again.`,
  }),
  throttled: () => ({
    status: 429, code: 'TooManyRequests', id: 'Ex3F7A10',
    type: 'Microsoft.Exchange.Admin.OData.Core.ThrottlingException',
    message: 'You have reached the maximum number of concurrent requests per tenant. Please wait and retry.',
  }),
  unavailable: (status) => ({
    status, code: status === 504 ? 'GatewayTimeout' : status === 500 ? 'InternalServerError' : 'ServiceUnavailable',
    id: 'Ex8D4C22',
    type: 'Microsoft.Exchange.Admin.OData.Core.ServiceUnavailableException',
    message: 'The service is temporarily unavailable. Please try again later.',
  }),
  // Exchange's words for an OPATH filter that does not parse; 1-based position.
  invalidFilter: (filter, position, detail) => bindingError(
    'Cannot bind parameter \'Filter\' to the target. Exception setting "Filter": "Invalid filter syntax. For a '
      + `description of the filter parameter syntax see the command help.\n"${filter}" at position ${position + 1}." (${detail})`),
  // A catalogue cmdlet the emulator has no model of (see cmdlets.mjs).
  notModelled: (name) => ({
    status: 400, code: 'BadRequest', id: 'ExE0D001',
    type: 'Microsoft.Exchange.Emulator.CmdletNotModelledException',
    message: `The emulator does not model '${name}'. The cmdlet exists in the catalogue; only its parameters were checked.`,
  }),
  missingParameter: (name) => bindingError(
    `Cannot process command because of one or more missing mandatory parameters: ${name}.`),
  notInSet: (name, value, values) => bindingError(
    `Cannot validate argument on parameter '${name}'. The argument "${value}" does not belong to the set `
      + `"${values.join(',')}" specified by the ValidateSet attribute. Supply an argument that is in the set and then try the command again.`),
  invalidArgument: (message) => ({
    status: 400, code: 'BadRequest', id: 'Ex8B1E05',
    type: 'Microsoft.Exchange.Configuration.Tasks.TaskArgumentException',
    message,
  }),
  nameInUse: (name) => ({
    status: 400, code: 'BadRequest', id: 'ExB0A7F4',
    type: 'Microsoft.Exchange.Data.Directory.ADObjectAlreadyExistsException',
    message: `The name "${name}" is already being used. Please try another name.`,
  }),
  proxyAddressInUse: (address, owner) => ({
    status: 400, code: 'BadRequest', id: 'Ex9D2D45',
    type: 'Microsoft.Exchange.Data.Directory.ADObjectAlreadyExistsException',
    message: `The proxy address "SMTP:${address}" is already being used by the proxy addresses or LegacyExchangeDN of `
      + `"${owner}". Please choose another proxy address.`,
  }),
  memberExists: (member, group) => ({
    status: 400, code: 'BadRequest', id: 'ExC7B3A1',
    type: 'Microsoft.Exchange.Management.Tasks.MemberAlreadyExistsException',
    message: `The recipient "${member}" is already a member of the group "${group}".`,
  }),
  notMember: (member, group) => ({
    status: 400, code: 'BadRequest', id: 'ExC7B3A2',
    type: 'Microsoft.Exchange.Management.Tasks.MemberNotFoundException',
    message: `The recipient "${member}" isn't a member of the group "${group}".`,
  }),
  permissionEntryExists: (user) => ({
    status: 400, code: 'BadRequest', id: 'ExA4E6D0',
    type: 'Microsoft.Exchange.Management.StoreTasks.UserAlreadyExistsInPermissionEntryException',
    message: `An existing permission entry was found for user: ${user}.`,
  }),
  permissionEntryMissing: (user) => ({
    status: 400, code: 'BadRequest', id: 'ExA4E6D1',
    type: 'Microsoft.Exchange.Management.StoreTasks.UserNotFoundInPermissionEntryException',
    message: `There is no existing permission entry found for user: ${user}.`,
  }),
  methodNotAllowed: () => ({
    status: 405, code: 'MethodNotAllowed', id: 'Ex6A0B33',
    type: 'Microsoft.Exchange.Admin.OData.Core.ODataBadRequestException',
    message: 'The requested resource does not support this HTTP method.',
  }),
};
