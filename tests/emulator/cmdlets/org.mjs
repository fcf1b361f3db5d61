// Get-OrganizationConfig, Set-OrganizationConfig, Get-AcceptedDomain.
import { EXO } from '../exchange-errors.mjs';
import { changesOf, writeChanges, unchanged } from './common.mjs';

function organizationConfig(store) {
  const { tenant } = store;
  return {
    Name: tenant.domain,
    DisplayName: tenant.displayName,
    Identity: tenant.domain,
    Guid: tenant.id,
    'Guid@odata.type': '#Guid',
    ExchangeObjectId: tenant.id,
    OrganizationId: `NAMPR01A001.PROD.OUTLOOK.COM/Microsoft Exchange Hosted Organizations/${tenant.domain} - `
      + `NAMPR01A001.PROD.OUTLOOK.COM/ConfigurationUnits/${tenant.domain}/Configuration`,
    IsDehydrated: false,
    OAuth2ClientProfileEnabled: true,
    AuditDisabled: false,
    CustomerLockboxEnabled: false,
    FocusedInboxOn: true,
    MailTipsAllTipsEnabled: true,
    SmtpClientAuthenticationDisabled: true,
    ...store.orgChanges,
  };
}

function acceptedDomains(tenant) {
  return [
    { Name: tenant.domain, DomainName: tenant.domain, Identity: tenant.domain, DomainType: 'Authoritative', Default: true },
    { Name: `${tenant.name}.mail.onmicrosoft.com`, DomainName: `${tenant.name}.mail.onmicrosoft.com`,
      Identity: `${tenant.name}.mail.onmicrosoft.com`, DomainType: 'Authoritative', Default: false },
  ];
}

function setOrganizationConfig({ store }, params) {
  const current = organizationConfig(store);
  const { changes, error } = changesOf(current, params);
  if (error) return { error };
  if (Object.keys(changes).length === 0) return unchanged(store.tenant.domain);
  writeChanges(store.orgChanges, changes, store.now());
  return { objects: [] };
}

function getAcceptedDomain({ tenant }, params) {
  const domains = acceptedDomains(tenant);
  if (params.Identity === undefined) return { objects: domains };
  const id = String(params.Identity).toLowerCase();
  const found = domains.find((d) => d.Name.toLowerCase() === id);
  return found ? { objects: [found] } : { error: EXO.notFound(params.Identity) };
}

export const ORG_CMDLETS = {
  'Get-OrganizationConfig': ({ store }) => ({ objects: [organizationConfig(store)] }),
  'Set-OrganizationConfig': setOrganizationConfig,
  'Get-AcceptedDomain': getAcceptedDomain,
};
