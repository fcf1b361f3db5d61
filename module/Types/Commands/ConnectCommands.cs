// Connect-ExchangeMfa and Microsoft's names for it, Connect-ExchangeOnline and
// Connect-IPPSSession: compiled cmdlets, so that a Connect from a cached token
// runs no script at all (docs/decisions.md, "Compiled commands"). Their help
// is docs/commands/<name>.md, built into MAML.
using System;
using System.Collections;
using System.Linq;
using System.Management.Automation;
using System.Management.Automation.Remoting;
using System.Security;
using System.Security.Cryptography.X509Certificates;

namespace ExchangeMfa
{
    [Cmdlet(VerbsCommunications.Connect, "ExchangeMfa", DefaultParameterSetName = "Interactive")]
    [OutputType("ExchangeMfa.Connection")]
    public sealed class ConnectExchangeMfaCommand : PSCmdlet
    {
        [Parameter(Position = 0, ParameterSetName = "Interactive")]
        [Parameter(Position = 0, ParameterSetName = "Device")]
        [Parameter(Position = 0, ParameterSetName = "InlineCredential")]
        [Parameter(Position = 0, ParameterSetName = "AccessToken")]
        [ValidateNotNullOrEmpty]
        public string UserPrincipalName { get; set; }

        [Parameter(Mandatory = true, ParameterSetName = "Device")]
        public SwitchParameter Device { get; set; }

        [Parameter(ParameterSetName = "Interactive")]
        public SwitchParameter NoBrowser { get; set; }

        [Parameter(ParameterSetName = "Interactive")]
        [ValidateRange(1, 3600)]
        public int BrowserTimeoutSeconds { get; set; }

        [Parameter(ParameterSetName = "Interactive")]
        [ValidateNotNullOrEmpty]
        public string RedirectUri { get; set; }

        [Parameter(Mandatory = true, ParameterSetName = "Credential")]
        public PSCredential Credential { get; set; }

        [Parameter(Mandatory = true, ParameterSetName = "InlineCredential")]
        public SwitchParameter InlineCredential { get; set; }

        [Parameter(ParameterSetName = "Interactive")]
        [Parameter(ParameterSetName = "Device")]
        [Parameter(ParameterSetName = "Credential")]
        [Parameter(ParameterSetName = "InlineCredential")]
        [Parameter(Mandatory = true, ParameterSetName = "CertificateFile")]
        [Parameter(Mandatory = true, ParameterSetName = "Certificate")]
        [Parameter(Mandatory = true, ParameterSetName = "CertificateThumbprint")]
        [Parameter(Mandatory = true, ParameterSetName = "ManagedIdentity")]
        [Parameter(ParameterSetName = "FederatedToken")]
        [Parameter(ParameterSetName = "AccessToken")]
        [ValidateNotNullOrEmpty]
        public string Organization { get; set; }

        [Parameter(ParameterSetName = "Interactive")]
        [Parameter(ParameterSetName = "Device")]
        [Parameter(ParameterSetName = "Credential")]
        [Parameter(ParameterSetName = "InlineCredential")]
        [Parameter(Mandatory = true, ParameterSetName = "CertificateFile")]
        [Parameter(Mandatory = true, ParameterSetName = "Certificate")]
        [Parameter(Mandatory = true, ParameterSetName = "CertificateThumbprint")]
        [Parameter(ParameterSetName = "FederatedToken")]
        [ValidateNotNullOrEmpty]
        public string AppId { get; set; }

        [Parameter(Mandatory = true, ParameterSetName = "CertificateFile")]
        [ValidateNotNullOrEmpty]
        public string CertificateFilePath { get; set; }

        [Parameter(ParameterSetName = "CertificateFile")]
        public SecureString CertificatePassword { get; set; }

        [Parameter(ParameterSetName = "CertificateFile")]
        [ValidateNotNullOrEmpty]
        public string CertificateKeyFilePath { get; set; }

        [Parameter(Mandatory = true, ParameterSetName = "Certificate")]
        public X509Certificate2 Certificate { get; set; }

        [Parameter(Mandatory = true, ParameterSetName = "CertificateThumbprint")]
        [ValidateNotNullOrEmpty]
        public string CertificateThumbprint { get; set; }

        [Parameter(ParameterSetName = "CertificateFile")]
        [Parameter(ParameterSetName = "Certificate")]
        [Parameter(ParameterSetName = "CertificateThumbprint")]
        [ValidateSet("PS256", "RS256")]
        public string AssertionAlgorithm { get; set; }

        [Parameter(Mandatory = true, ParameterSetName = "ManagedIdentity")]
        public SwitchParameter ManagedIdentity { get; set; }

        [Parameter(ParameterSetName = "ManagedIdentity")]
        [ValidateNotNullOrEmpty]
        public string ManagedIdentityAccountId { get; set; }

        [Parameter(Mandatory = true, ParameterSetName = "FederatedToken")]
        public SwitchParameter FederatedToken { get; set; }

        [Parameter(Mandatory = true, ParameterSetName = "AccessToken")]
        [ValidateNotNullOrEmpty]
        public string AccessToken { get; set; }

        [Parameter(ParameterSetName = "Interactive")]
        [Parameter(ParameterSetName = "Device")]
        [Parameter(ParameterSetName = "Credential")]
        [Parameter(ParameterSetName = "InlineCredential")]
        public SwitchParameter InMemoryTokenCache { get; set; }

        [Parameter]
        [ValidateNotNullOrEmpty]
        public string ConnectionUri { get; set; }

        [Parameter]
        [ValidateNotNullOrEmpty]
        public string AzureADAuthorizationEndpointUri { get; set; }

        [Parameter]
        [ValidateSet("O365Default", "O365USGovGCCHigh", "O365USGovDoD", "O365China")]
        public string ExchangeEnvironmentName { get; set; } = "O365Default";

        [Parameter]
        [ValidateRange(1, 1000)]
        public int PageSize { get; set; }

        [Parameter]
        [ValidateRange(1, 64)]
        public int ThrottleLimit { get; set; }

        [Parameter]
        public SwitchParameter ShowBanner { get; set; }

        [Parameter]
        public SwitchParameter SkipLoadingFormatData { get; set; }

        [Parameter]
        [ValidateNotNullOrEmpty]
        public string Resource { get; set; }

        [Parameter]
        [ValidatePattern("^[a-zA-Z0-9]+$")]
        [ValidateNotReservedPrefix]
        public string Prefix { get; set; }

        [Parameter]
        [ValidateNotNullOrEmpty]
        public string[] CommandName { get; set; }

        [Parameter]
        [ValidateNotNullOrEmpty]
        public string DelegatedOrganization { get; set; }

        // Connect-IPPSSession's way in (docs/compliance.md): the same sign-in
        // for the Security & Compliance endpoint. Not for direct use.
        [Parameter(DontShow = true)]
        [ValidateSet("ExchangeOnline", "SecurityCompliance")]
        public string Product { get; set; } = "ExchangeOnline";

        protected override void EndProcessing()
        {
            // A -CommandName typo fails before anybody signs in. The -Prefix
            // aliases are script, loaded only when used.
            if (CommandName != null) CommandCatalog.Resolve(CommandName, null, this);
            PSObject session = SignIn.Connect(this, MyInvocation.BoundParameters);
            if (!string.IsNullOrEmpty(Prefix))
            {
                string urlTenant = !string.IsNullOrEmpty(DelegatedOrganization) ? DelegatedOrganization : Json.Text(session, "organization");
                ModuleScope.Call("Import-ExchangeProxyModule", new Hashtable
                {
                    ["ConnectionId"] = Json.Text(session, "connectionId"),
                    ["Prefix"] = Prefix,
                    ["CommandName"] = CommandName,
                    ["Organization"] = urlTenant,
                    ["Product"] = Product,
                    ["Cmdlet"] = this,
                });
            }
            WriteObject(Connections.ToConnection(session, Prefix ?? ""));
        }
    }

    // -Prefix EXO names Microsoft's own Get-EXO* cmdlets.
    public sealed class ValidateNotReservedPrefixAttribute : ValidateArgumentsAttribute
    {
        protected override void Validate(object arguments, EngineIntrinsics engineIntrinsics)
        {
            if (string.Equals(arguments as string, "EXO", StringComparison.OrdinalIgnoreCase))
                throw new ValidationMetadataException("The prefix EXO is reserved for Microsoft's module.");
        }
    }

    // What Connect-ExchangeOnline and Connect-IPPSSession share: Microsoft's
    // parameters mapped onto Connect-ExchangeMfa, the one sign-in.
    public abstract class DropInConnectCommand : PSCmdlet
    {
        [Parameter] public string AccessToken { get; set; }
        [Parameter] public string AppId { get; set; }
        [Parameter] public SwitchParameter BypassMailboxAnchoring { get; set; }
        [Parameter] public X509Certificate2 Certificate { get; set; }
        [Parameter] public string CertificateFilePath { get; set; }
        [Parameter] public SecureString CertificatePassword { get; set; }
        [Parameter] public string CertificateThumbprint { get; set; }
        [Parameter] public PSCredential Credential { get; set; }
        [Parameter] public SwitchParameter Device { get; set; }
        [Parameter] public SwitchParameter DisableWAM { get; set; }
        [Parameter] public SwitchParameter EnableErrorReporting { get; set; }
        [Parameter] public string EXOModuleBasePath { get; set; }
        [Parameter] public string LogDirectoryPath { get; set; }
        [Parameter] [ValidateSet("Default", "All")] public string LogLevel { get; set; }
        [Parameter] public string Organization { get; set; }
        [Parameter] public SwitchParameter ShowBanner { get; set; }
        [Parameter] [ValidateRange(1, 64)] public int ThrottleLimit { get; set; }
        [Parameter] public string UserPrincipalName { get; set; }
        [Parameter] public SwitchParameter UseRPSSession { get; set; }

        // Microsoft's parameters that Connect-ExchangeMfa takes under the same
        // name and meaning; the others mean nothing here.
        private static readonly string[] carried =
        {
            "ConnectionUri", "AzureADAuthorizationEndpointUri", "ExchangeEnvironmentName", "DelegatedOrganization",
            "Prefix", "CommandName", "AccessToken", "AppId", "Certificate", "CertificateFilePath", "CertificatePassword",
            "CertificateThumbprint", "Credential", "Device", "InlineCredential", "ManagedIdentity",
            "ManagedIdentityAccountId", "Organization", "PageSize", "ShowBanner", "SkipLoadingFormatData", "UserPrincipalName",
            "ThrottleLimit",
        };

        protected abstract string Product { get; }

        // Empty values count as not given (Microsoft's module accepts them);
        // the parameters that mean nothing here are reported on the verbose
        // stream; -UseRPSSession gets a warning (REST is used). Then
        // Connect-ExchangeMfa binds them: its parameter sets decide the
        // sign-in, as for a direct call.
        protected override void EndProcessing()
        {
            var connect = new Hashtable(StringComparer.OrdinalIgnoreCase);
            foreach (DictionaryEntry entry in (IDictionary)MyInvocation.BoundParameters)
            {
                string name = (string)entry.Key;
                object value = entry.Value;
                if (carried.Contains(name, StringComparer.OrdinalIgnoreCase))
                {
                    if (value != null && !(value is string text && text.Length == 0)) connect[name] = value;
                }
                else if (name.Equals("UseRPSSession", StringComparison.OrdinalIgnoreCase))
                {
                    if (LanguagePrimitives.IsTrue(value))
                        WriteWarning("Remote PowerShell (RPS) is retired for Exchange Online and Security & Compliance; ExchangeMfa connects over the REST endpoint instead. Remove -UseRPSSession.");
                }
                else if (!CommonParameters.Contains(name) && !OptionalCommonParameters.Contains(name))
                {
                    WriteVerbose($"-{name} has no meaning for ExchangeMfa and is ignored (see Get-Help {MyInvocation.MyCommand.Name} -Parameter {name}).");
                }
            }
            if (Product != "ExchangeOnline") connect["Product"] = Product;
            try
            {
                // In the caller's scope, as a script calls a command. Its
                // information (the banner, a device code) is this command's,
                // as it comes: -InformationVariable and 6> work as for Microsoft's.
                InvokeCommand.InvokeScript(false, ScriptBlock.Create("param($Connect, $Cmdlet) Connect-ExchangeMfa @Connect 6>&1 | " +
                    "ForEach-Object { if ($_ -is [System.Management.Automation.InformationRecord]) { $Cmdlet.WriteInformation($_) } }"),
                    null, connect, this);
            }
            catch (RuntimeException e) when (e.ErrorRecord != null)
            {
                ThrowTerminatingError(e.ErrorRecord);
            }
        }
    }

    [Cmdlet(VerbsCommunications.Connect, "ExchangeOnline")]
    [OutputType(typeof(void))]
    public sealed class ConnectExchangeOnlineCommand : DropInConnectCommand
    {
        [Parameter(Position = 0)] public string ConnectionUri { get; set; }
        [Parameter(Position = 1)] public string AzureADAuthorizationEndpointUri { get; set; }
        [Parameter(Position = 2)]
        [ValidateSet("O365Default", "O365USGovGCCHigh", "O365USGovDoD", "O365China")]
        public string ExchangeEnvironmentName { get; set; }
        [Parameter(Position = 3)] public PSSessionOption PSSessionOption { get; set; }
        [Parameter(Position = 4)] public string DelegatedOrganization { get; set; }
        [Parameter(Position = 5)] public string Prefix { get; set; }
        [Parameter(Position = 6)] public string[] CommandName { get; set; }
        [Parameter(Position = 7)] public string[] FormatTypeName { get; set; }
        [Parameter] public SwitchParameter InlineCredential { get; set; }
        [Parameter] public SwitchParameter LoadCmdletHelp { get; set; }
        [Parameter] public SwitchParameter ManagedIdentity { get; set; }
        [Parameter] public string ManagedIdentityAccountId { get; set; }
        [Parameter] public uint PageSize { get; set; }
        [Parameter] public bool ShowProgress { get; set; }
        [Parameter] public X509Certificate2 SigningCertificate { get; set; }
        [Parameter] public SwitchParameter SkipLoadingCmdletHelp { get; set; }
        [Parameter] public SwitchParameter SkipLoadingFormatData { get; set; }
        [Parameter] public bool TrackPerformance { get; set; }
        [Parameter] public bool UseMultithreading { get; set; }

        protected override string Product => "ExchangeOnline";
    }

    [Cmdlet(VerbsCommunications.Connect, "IPPSSession")]
    [OutputType(typeof(void))]
    public sealed class ConnectIPPSSessionCommand : DropInConnectCommand
    {
        [Parameter(Position = 0)] public string ConnectionUri { get; set; }
        [Parameter(Position = 1)] public string AzureADAuthorizationEndpointUri { get; set; }
        [Parameter(Position = 2)] public string DelegatedOrganization { get; set; }
        [Parameter(Position = 3)] public PSSessionOption PSSessionOption { get; set; }
        [Parameter(Position = 4)] public string Prefix { get; set; }
        [Parameter(Position = 5)] public string[] CommandName { get; set; }
        [Parameter(Position = 6)] public string[] FormatTypeName { get; set; }
        [Parameter] public SwitchParameter EnableSearchOnlySession { get; set; }

        protected override string Product => "SecurityCompliance";
    }
}
