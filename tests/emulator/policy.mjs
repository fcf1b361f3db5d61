// Rules shared by the grants and the authorize endpoint.
import { AAD } from './aad-errors.mjs';
import { tenantById } from './directory.mjs';

// Maps a parseScope() error to the AAD answer.
export function scopeError(err, authority) {
  switch (err.kind) {
    case 'missing': return AAD.missingParameter('scope');
    case 'unknownResource':
      return AAD.unknownResource(err.scope, authority.tenant ? authority.tenant.displayName : authority.segment);
    case 'multipleResources': return AAD.multipleResources();
    default: return AAD.invalidScope(err.scope);
  }
}

// Can this user get a token from this authority for this app?
export function userError(user, authority, app) {
  if (!authority.multi && authority.tenant.id !== user.tenantId) {
    return AAD.userNotInTenant(user, authority.tenant, app);
  }
  if (app.tenantId && app.tenantId !== user.tenantId) {
    return AAD.unknownClient(app.appId, tenantById(user.tenantId).displayName);
  }
  if (user.disabled) return AAD.userDisabled();
  return null;
}
