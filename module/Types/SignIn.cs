// The work of Connect-ExchangeMfa (its parameters are
// Commands/ConnectCommands.cs, its help docs/commands/Connect-ExchangeMfa.md):
// the parameter set -> the helper's `connect` params (docs/protocol.md,
// "Sign-in modes"), the wait for the answer with the notifications a sign-in
// sends on the way, and the default connections. Compiled, so that a Connect
// from a cached token runs no script (docs/decisions.md, "Compiled commands").
using System;
using System.Collections;
using System.Collections.ObjectModel;
using System.Collections.Specialized;
using System.Management.Automation;
using System.Management.Automation.Runspaces;
using System.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace ExchangeMfa
{
    // The device code message, also on the information stream for scripts.
    public sealed class DeviceCode
    {
        public string UserCode { get; set; }
        public string VerificationUri { get; set; }
        public int ExpiresIn { get; set; }
        public int Interval { get; set; }
        public string Message { get; set; }
        public override string ToString() => Message;
    }

    // The browser sign-in's address, also on the information stream.
    public sealed class BrowserUrl
    {
        public string Url { get; set; }
        public string Message { get; set; }
        public override string ToString() => Message;
    }

    public static class SignIn
    {
        // How long the browser sign-in waits for its answer when
        // -BrowserTimeoutSeconds is not given. Two minutes cover a password
        // and an MFA approval; a sign-in stopped at an error page in the
        // browser (AADSTS50011, 65001) then says so soon. Tests shorten it.
        public static int InteractiveTimeoutSeconds { get; set; } = 120;

        private static readonly IDictionary modeBySet = new Hashtable(StringComparer.OrdinalIgnoreCase)
        {
            ["Interactive"] = "interactive",
            ["Device"] = "device",
            ["Credential"] = "password",
            ["InlineCredential"] = "password",
            ["CertificateFile"] = "certificate",
            ["Certificate"] = "certificate",
            ["CertificateThumbprint"] = "certificate",
            ["ManagedIdentity"] = "managedIdentity",
            ["FederatedToken"] = "federated",
            ["AccessToken"] = "accessToken",
        };

        // Connect-ExchangeMfa's parameter -> the `connect` field it fills as it is.
        private static readonly string[,] copied =
        {
            { "UserPrincipalName", "userPrincipalName" },
            { "Organization", "organization" },
            { "AppId", "appId" },
            { "ConnectionUri", "connectionUri" },
            { "AzureADAuthorizationEndpointUri", "authority" },
            { "Resource", "resource" },
            { "DelegatedOrganization", "delegatedOrganization" },
            { "PageSize", "pageSize" },
            { "ThrottleLimit", "throttleLimit" },
            { "CertificateFilePath", "certificateFilePath" },
            { "CertificateKeyFilePath", "certificateKeyFilePath" },
            { "CertificatePassword", "certificatePassword" },
            { "CertificateThumbprint", "certificateThumbprint" },
            { "AssertionAlgorithm", "assertionAlgorithm" },
            { "ManagedIdentityAccountId", "managedIdentityAccountId" },
            { "AccessToken", "accessToken" },
        };

        // Signs in with Connect-ExchangeMfa's bound parameters and returns the
        // helper's session object of the new connection, which is then the
        // default one of its product unless -Prefix says otherwise.
        public static PSObject Connect(PSCmdlet cmdlet, IDictionary bound)
        {
            string set = cmdlet.ParameterSetName;
            // On unless -ShowBanner:$false, like Connect-ExchangeOnline.
            if (!bound.Contains("ShowBanner") || LanguagePrimitives.IsTrue(bound["ShowBanner"])) WriteBanner(cmdlet);

            OrderedDictionary parameters = NewConnectParameters(set, bound, cmdlet);
            object target = parameters["userPrincipalName"] ?? bound["AppId"] ?? bound["Organization"];
            // The module's views, unless -SkipLoadingFormatData: while a new
            // helper starts (on another core), else before the connection
            // is written.
            Action loadViews = LanguagePrimitives.IsTrue(bound["SkipLoadingFormatData"]) ? null : () => ModuleSetup.LoadViews(cmdlet);
            Helper helper;
            PSObject reply;
            try
            {
                helper = Helper.Get(cmdlet, false, true, loadViews);
                reply = InvokeConnect(helper, parameters, cmdlet);
            }
            finally
            {
                // The request is written (or never will be): clear the exported
                // certificate and dispose of its one-time password.
                if (parameters["certificateData"] is char[] data) Array.Clear(data, 0, data.Length);
                if (set == "Certificate") (parameters["certificatePassword"] as SecureString)?.Dispose();
                parameters.Clear();
            }

            object error = Json.Field(reply, "error");
            if (error != null)
            {
                ErrorRecord record = ErrorRecords.FromHelper(error, target);
                if (set == "Interactive") SetBrowserSignInAdvice(record);
                // A failed first sign-in leaves nothing for the helper to keep.
                if (helper.List(cmdlet).Length == 0) Helper.Stop(helper, cmdlet);
                cmdlet.ThrowTerminatingError(record);
            }

            loadViews?.Invoke();
            PSObject session = PSObject.AsPSObject(Json.Field(reply, "result"));
            string connectionId = Json.Text(session, "connectionId");
            object throttleLimit = Json.Field(session, "throttleLimit");
            if (LanguagePrimitives.IsTrue(throttleLimit)) Connections.ThrottleLimits[connectionId] = LanguagePrimitives.ConvertTo<int>(throttleLimit);
            // The commands route by product to the default connection of theirs.
            string prefix = bound["Prefix"] as string ?? "";
            if ((bound["Product"] as string) == "SecurityCompliance")
                Connections.RegisterCompliance(connectionId, prefix);
            else if (prefix.Length == 0 || string.IsNullOrEmpty(Connections.DefaultId))
                Connections.DefaultId = connectionId;
            return session;
        }

        // Connect-ExchangeMfa's bound parameters -> the `connect` params.
        // Secrets stay SecureString or char[]: RequestLine makes them plain
        // only while writing the line to the helper.
        private static OrderedDictionary NewConnectParameters(string set, IDictionary bound, PSCmdlet cmdlet)
        {
            var parameters = new OrderedDictionary
            {
                ["mode"] = modeBySet[set],
                ["environment"] = bound.Contains("ExchangeEnvironmentName") ? bound["ExchangeEnvironmentName"] : "O365Default",
            };
            for (int i = 0; i < copied.GetLength(0); i++)
            {
                if (bound.Contains(copied[i, 0])) parameters[copied[i, 1]] = bound[copied[i, 0]];
            }
            // Paths are the caller's, relative to PowerShell's location, not the helper's.
            foreach (string field in new[] { "certificateFilePath", "certificateKeyFilePath" })
            {
                if (parameters.Contains(field)) parameters[field] = cmdlet.GetUnresolvedProviderPathFromPSPath((string)parameters[field]);
            }
            if (LanguagePrimitives.IsTrue(bound["InMemoryTokenCache"])) parameters["tokenCache"] = "memory";
            if ((bound["Product"] as string) == "SecurityCompliance") parameters["product"] = "compliance";

            switch (set)
            {
                case "Interactive":
                    parameters["noBrowser"] = LanguagePrimitives.IsTrue(bound["NoBrowser"]);
                    parameters["timeoutSeconds"] = bound.Contains("BrowserTimeoutSeconds") ? bound["BrowserTimeoutSeconds"] : InteractiveTimeoutSeconds;
                    if (bound.Contains("RedirectUri")) parameters["redirectUri"] = bound["RedirectUri"];
                    break;
                case "Credential":
                    var credential = (PSCredential)bound["Credential"];
                    parameters["userPrincipalName"] = credential.UserName;
                    parameters["password"] = credential.Password;
                    break;
                case "InlineCredential":
                    // The user name (unless given) and the password, typed in
                    // the console; the password is never a plain string.
                    string user = bound["UserPrincipalName"] as string;
                    if (string.IsNullOrEmpty(user)) user = (string)ReadHost(cmdlet, "User name (user@contoso.onmicrosoft.com)", false);
                    parameters["userPrincipalName"] = user;
                    parameters["password"] = ReadHost(cmdlet, $"Password for {user}", true);
                    break;
                case "Certificate":
                    ExportCertificate((X509Certificate2)bound["Certificate"], parameters, cmdlet);
                    break;
            }
            return parameters;
        }

        // Read-Host itself: its prompt, and its clear error in a pwsh started
        // with -NonInteractive. A rare path, so script is fine here; in the
        // caller's scope, where a test may mock it.
        private static object ReadHost(PSCmdlet cmdlet, string prompt, bool secure)
        {
            Collection<PSObject> typed = cmdlet.InvokeCommand.InvokeScript(
                secure ? "Read-Host -Prompt $args[0] -AsSecureString" : "Read-Host -Prompt $args[0]",
                false, PipelineResultTypes.None, null, prompt);
            return typed.Count > 0 ? typed[0].BaseObject : null;
        }

        // An X509Certificate2 with its private key -> PFX bytes under a random
        // one-time password, as base64 in a char array (cleared once written)
        // plus that password as a SecureString. The key crosses the helper's
        // stdin only: no file, no argument, no plain string.
        private static void ExportCertificate(X509Certificate2 certificate, OrderedDictionary parameters, PSCmdlet cmdlet)
        {
            if (!certificate.HasPrivateKey)
            {
                cmdlet.ThrowTerminatingError(ErrorRecords.Create("InvalidParams",
                    $"The certificate {certificate.Thumbprint} ({certificate.Subject}) has no private key; app-only sign-in needs one.",
                    certificate.Thumbprint));
            }
            const string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
            var password = new SecureString();
            byte[] random = new byte[24];
            RandomNumberGenerator.Fill(random);
            foreach (byte b in random) password.AppendChar(alphabet[b % alphabet.Length]);
            Array.Clear(random, 0, random.Length);
            password.MakeReadOnly();

            byte[] bytes = null;
            try
            {
                bytes = certificate.Export(X509ContentType.Pkcs12, password);
            }
            catch (CryptographicException e)
            {
                password.Dispose();
                cmdlet.ThrowTerminatingError(ErrorRecords.Create("InvalidParams",
                    $"The private key of certificate {certificate.Thumbprint} cannot be exported: {e.Message}", certificate.Thumbprint));
            }
            try
            {
                char[] chars = new char[4 * ((bytes.Length + 2) / 3)];
                Convert.ToBase64CharArray(bytes, 0, bytes.Length, chars, 0);
                parameters["certificateData"] = chars;
                parameters["certificatePassword"] = password;
            }
            finally
            {
                Array.Clear(bytes, 0, bytes.Length);
            }
        }

        // Sends `connect` and waits for its reply, showing the notifications
        // on the way. A stopped command (Ctrl+C) cancels the sign-in in the
        // helper, which closes a browser sign-in's listener.
        private static PSObject InvokeConnect(Helper helper, OrderedDictionary parameters, PSCmdlet cmdlet)
        {
            long id = helper.Send("connect", parameters, cmdlet);
            PSObject reply = null;
            // Until a code or a sign-in page arrives the helper only talks to
            // services (managed identity retries take up to a minute);
            // afterwards the user's time bounds the wait.
            double timeout = Helper.RequestTimeoutSeconds + 90;
            try
            {
                while (reply == null)
                {
                    PSObject message = helper.Receive(id, timeout, cmdlet, null);
                    object notification = Json.Field(message, "params");
                    switch (Json.Text(message, "method"))
                    {
                        case "deviceCode":
                            timeout = WriteDeviceCode(notification, cmdlet) + 60;
                            break;
                        case "browserUrl":
                            WriteBrowserUrl(Json.Text(notification, "url"), parameters["noBrowser"] is bool noBrowser && noBrowser, cmdlet);
                            timeout = LanguagePrimitives.ConvertTo<double>(parameters["timeoutSeconds"]) + 60;
                            break;
                        case "warning":
                            cmdlet.WriteWarning(Json.Text(notification, "message"));
                            break;
                        case "":
                            reply = message;
                            break;
                    }
                }
            }
            finally
            {
                helper.Complete(id, reply == null);
                helper.ReadStderr(cmdlet);
            }
            return reply;
        }

        // What Write-Host does: the information stream, tagged PSHOST, which
        // the host shows even when the output is captured.
        internal static void WriteHost(PSCmdlet cmdlet, string text) =>
            cmdlet.WriteInformation(new HostInformationMessage { Message = text }, new[] { "PSHOST" });

        // The device code message, and an ExchangeMfa.DeviceCode on the
        // information stream. Returns the code's lifetime in seconds.
        private static int WriteDeviceCode(object code, PSCmdlet cmdlet)
        {
            string text = Json.Text(code, "message");
            if (text.Length == 0) text = $"To sign in, open {Json.Text(code, "verificationUri")} and enter the code {Json.Text(code, "userCode")}.";
            WriteHost(cmdlet, text);
            var info = new DeviceCode
            {
                UserCode = Json.Text(code, "userCode"),
                VerificationUri = Json.Text(code, "verificationUri"),
                ExpiresIn = LanguagePrimitives.ConvertTo<int>(Json.Field(code, "expiresIn")),
                Interval = LanguagePrimitives.ConvertTo<int>(Json.Field(code, "interval")),
                Message = text,
            };
            cmdlet.WriteInformation(info, new[] { "ExchangeMfa", "DeviceCode" });
            return info.ExpiresIn;
        }

        // The sign-in address, always shown as a line the user can open by
        // hand (also when a browser was started), and as an
        // ExchangeMfa.BrowserUrl on the information stream.
        private static void WriteBrowserUrl(string url, bool noBrowser, PSCmdlet cmdlet)
        {
            string text = noBrowser
                ? $"To sign in, open this address in a browser on this computer: {url}"
                : $"A browser was asked to open the sign-in page. If none opened, open this address on this computer: {url}";
            WriteHost(cmdlet, text);
            cmdlet.WriteInformation(new BrowserUrl { Url = url, Message = text }, new[] { "ExchangeMfa", "BrowserUrl" });
        }

        // A browser sign-in that got no answer most likely stopped at an error
        // page in the browser: say which ones and the ways around them.
        private static void SetBrowserSignInAdvice(ErrorRecord record)
        {
            if (record.FullyQualifiedErrorId != "ExchangeMfa.Timeout" || record.ErrorDetails == null) return;
            record.ErrorDetails.RecommendedAction = "If the browser showed AADSTS50011, the app is not registered for the " +
                "redirect URI sent: register http://localhost, or give the registered one with -RedirectUri (for example " +
                "http://127.0.0.1). If it showed AADSTS65001, an administrator has to consent to the app. Otherwise sign " +
                "in with -Device, or allow more time with -BrowserTimeoutSeconds.";
        }

        // A short banner like Connect-ExchangeOnline's, on the host.
        private static void WriteBanner(PSCmdlet cmdlet)
        {
            string rule = new string('-', 72);
            WriteHost(cmdlet, rule);
            WriteHost(cmdlet, $"ExchangeMfa {cmdlet.MyInvocation.MyCommand.Module?.Version}: Exchange Online with multi-factor authentication.");
            WriteHost(cmdlet, "Exchange commands: Get-Command -Module ExchangeMfa.Commands*. Connections: Get-ExchangeMfaConnection.");
            WriteHost(cmdlet, "Help: Get-Help about_ExchangeMfa. Hide this banner with -ShowBanner:$false.");
            WriteHost(cmdlet, rule);
        }
    }
}
