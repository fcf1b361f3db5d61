# Every sign-in mode of Connect-ExchangeMfa against the emulator: the path
# that works and the ways it fails (issue 4). The token cache and silent
# sign-in are in Cache.Tests.ps1.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestSupport.psm1') -Force
    $script:emulator = Start-TestEmulator -Mailboxes 50
    Import-Module (Join-Path $PSScriptRoot '../../ExchangeMfa.psd1') -Force
    $script:jwt = 'eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}'
    $script:work = Join-Path $script:emulator.Dir 'signin'
    New-Item -ItemType Directory -Path $script:work | Out-Null

    # Where every test sends the helper, and no banner.
    $script:common = @{
        ShowBanner                      = $false
        AzureADAuthorizationEndpointUri = $script:emulator.Authority
        ConnectionUri                   = $script:emulator.Url
    }
    $script:appOnly = @{
        ShowBanner      = $false
        AppId           = $script:emulator.AppId
        Organization    = $script:emulator.Domain
        ConnectionUri   = $script:emulator.Url
        # App-only needs a tenant authority (AADSTS90009 otherwise).
        AzureADAuthorizationEndpointUri = "$($script:emulator.Url)/$($script:emulator.TenantId)"
    }

    function Get-CallbackPort([string] $Url) {
        # The loopback listener's port, from the authorize URL's redirect_uri.
        $query = [System.Web.HttpUtility]::ParseQueryString(([uri]$Url).Query)
        ([uri]$query['redirect_uri']).Port
    }

    function Invoke-Curl {
        # curl with the emulator's CA; returns { ExitCode, Output }.
        param([string[]] $Arguments)
        $output = & curl --cacert $script:emulator.CaFile -s --max-time 10 @Arguments 2>&1
        [pscustomobject]@{ ExitCode = $LASTEXITCODE; Output = ($output -join "`n") }
    }

    function Test-PortClosed([int] $Port, [int] $TimeoutSeconds = 5, [string] $Address = '127.0.0.1') {
        # True once nothing accepts connections on ${Address}:$Port.
        $deadline = [datetime]::UtcNow.AddSeconds($TimeoutSeconds)
        do {
            $client = [System.Net.Sockets.TcpClient]::new([System.Net.IPAddress]::Parse($Address).AddressFamily)
            try { $client.Connect($Address, $Port); $open = $true } catch { $open = $false } finally { $client.Dispose() }
            if (-not $open) { return $true }
            Start-Sleep -Milliseconds 100
        } while ([datetime]::UtcNow -lt $deadline)
        $false
    }

    function Test-Ipv6Loopback {
        # Whether this machine has ::1 (IPv6 is often off in containers).
        $socket = [System.Net.Sockets.Socket]::new([System.Net.Sockets.AddressFamily]::InterNetworkV6,
            [System.Net.Sockets.SocketType]::Stream, [System.Net.Sockets.ProtocolType]::Tcp)
        try { $socket.Bind([System.Net.IPEndPoint]::new([System.Net.IPAddress]::IPv6Loopback, 0)); $true }
        catch { $false }
        finally { $socket.Dispose() }
    }

    function Get-ErrorId([scriptblock] $Script) {
        # The FullyQualifiedErrorId a command fails with (or $null).
        try { & $Script | Out-Null; $null } catch { $_.FullyQualifiedErrorId }
    }
}

AfterAll {
    Disconnect-ExchangeMfa -Confirm:$false -ErrorAction Ignore
    Remove-Module ExchangeMfa -ErrorAction Ignore
    Remove-Item Env:BROWSER, Env:EXCHANGEMFA_CERTIFICATE_DIR, Env:IDENTITY_ENDPOINT, Env:IDENTITY_HEADER,
        Env:EXCHANGEMFA_IMDS_ENDPOINT, Env:AZURE_FEDERATED_TOKEN_FILE, Env:AZURE_CLIENT_ID, Env:AZURE_TENANT_ID,
        Env:AZURE_AUTHORITY_HOST -ErrorAction Ignore
    Stop-TestEmulator
    Remove-Module TestSupport -ErrorAction Ignore
}

Describe 'Browser sign-in (the default)' {
    BeforeAll {
        $script:browser = New-TestBrowserScript -Path (Join-Path $script:work 'browser.sh')
        $env:BROWSER = $script:browser
        $script:interactive = $script:common + @{ UserPrincipalName = 'admin@contoso.onmicrosoft.com'; InMemoryTokenCache = $true }
        $script:noBrowser = $script:interactive + @{ NoBrowser = $true }
    }
    AfterAll { Remove-Item Env:BROWSER -ErrorAction Ignore }
    BeforeEach { Reset-Emulator }
    AfterEach { Disconnect-ExchangeMfa -Confirm:$false -ErrorAction Ignore }

    It 'signs in through $BROWSER with PKCE and shows the address as a fallback' {
        $connection = Connect-ExchangeMfa @script:interactive -InformationVariable info
        $connection.SignInMode | Should -Be 'Interactive'
        $connection.UserPrincipalName | Should -Be 'admin@contoso.onmicrosoft.com'
        $url = ($info | Where-Object { $_.Tags -contains 'BrowserUrl' }).MessageData.Url
        $url | Should -Match '/oauth2/v2\.0/authorize\?'
        $url | Should -Match 'code_challenge_method=S256'
        # What Microsoft's public client is registered with, sent as MSAL
        # sends it (no slash); the emulator's registration is as strict as Entra's.
        $url | Should -Match 'redirect_uri=http%3A%2F%2Flocalhost%3A\d+&'
        ($info | Where-Object { $_.Tags -contains 'PSHOST' } | Out-String) | Should -Match ([regex]::Escape($url))
        Get-Content "$script:browser.log" | Should -Contain $url
        (Get-EmulatorStats).tokenRequests.authorization_code | Should -Be 1
        @(Get-Mailbox -ResultSize 2).Count | Should -Be 2
    }

    It '-NoBrowser prints the address, starts no browser and waits for the sign-in' {
        Remove-Item "$script:browser.log" -ErrorAction Ignore
        $background = Start-BackgroundConnect -Parameters $script:noBrowser -WaitFor BrowserUrl
        try {
            $shown = $background.Shown
            $shown.Url | Should -Match '/oauth2/v2\.0/authorize\?'
            $shown.Message | Should -Match ([regex]::Escape($shown.Url))
            Start-Sleep -Milliseconds 500
            $background.Handle.IsCompleted | Should -BeFalse -Because 'it waits for the browser'
            (Invoke-Curl @('-o', '/dev/null', '-L', $shown.Url)).ExitCode | Should -Be 0
            $connection = $background.PowerShell.EndInvoke($background.Handle)
            $connection.SignInMode | Should -Be 'Interactive'
            Test-Path "$script:browser.log" | Should -BeFalse
        }
        finally { Stop-BackgroundConnect -Background $background }
    }

    It 'ignores a callback with a wrong state and refuses a replayed one after success' {
        $background = Start-BackgroundConnect -Parameters $script:noBrowser -WaitFor BrowserUrl
        try {
            $url = $background.Shown.Url
            $port = Get-CallbackPort $url
            $forged = Invoke-Curl @("http://127.0.0.1:$port/?code=forged&state=not-the-state")
            $forged.ExitCode | Should -Be 0
            $forged.Output | Should -Match 'Not a sign-in answer'
            Start-Sleep -Milliseconds 500
            $background.Handle.IsCompleted | Should -BeFalse -Because 'a callback with a wrong state must not end the sign-in'
            # The real callback: where the emulator's authorize redirects to.
            $callback = (Invoke-Curl @('-o', '/dev/null', '-w', '%{redirect_url}', $url)).Output
            $callback | Should -Match "^http://localhost:$port/?\?"
            (Invoke-Curl @('-o', '/dev/null', $callback)).ExitCode | Should -Be 0
            $connection = $background.PowerShell.EndInvoke($background.Handle)
            $connection.SignInMode | Should -Be 'Interactive'
            # Replayed: the listener is gone, so it cannot even connect.
            Test-PortClosed $port | Should -BeTrue
            (Invoke-Curl @('-o', '/dev/null', $callback)).ExitCode | Should -Be 7
            (Get-EmulatorStats).tokenRequests.authorization_code | Should -Be 1
        }
        finally { Stop-BackgroundConnect -Background $background }
    }

    It 'closes the listener when the command is stopped (Ctrl+C)' {
        $background = Start-BackgroundConnect -Parameters $script:noBrowser -WaitFor BrowserUrl
        try {
            $url = $background.Shown.Url
            $port = Get-CallbackPort $url
            Test-PortClosed $port -TimeoutSeconds 0 | Should -BeFalse -Because 'the listener waits for the browser'
            $background.PowerShell.Stop()
            Test-PortClosed $port | Should -BeTrue
        }
        finally { Stop-BackgroundConnect -Background $background }
    }

    It 'answers localhost on 127.0.0.1 and on ::1 with the same port, then closes both' {
        $background = Start-BackgroundConnect -Parameters $script:noBrowser -WaitFor BrowserUrl
        try {
            $port = Get-CallbackPort $background.Shown.Url
            Test-PortClosed $port -TimeoutSeconds 0 | Should -BeFalse -Because 'the listener answers on 127.0.0.1'
            $ipv6 = Test-Ipv6Loopback
            if ($ipv6) { Test-PortClosed $port -TimeoutSeconds 0 -Address '::1' | Should -BeFalse -Because 'localhost may be ::1' }
            # The browser's way: localhost, whichever address it resolves first.
            (Invoke-Curl @('-o', '/dev/null', '-L', $background.Shown.Url)).ExitCode | Should -Be 0
            $background.PowerShell.EndInvoke($background.Handle).SignInMode | Should -Be 'Interactive'
            Test-PortClosed $port | Should -BeTrue
            if ($ipv6) { Test-PortClosed $port -Address '::1' | Should -BeTrue }
            else { Set-ItResult -Inconclusive -Because '::1 is not available on this machine: only 127.0.0.1 was checked' }
        }
        finally { Stop-BackgroundConnect -Background $background }
    }

    It '-RedirectUri http://127.0.0.1 signs in with an app registered for that address' {
        # The emulator's public client registered with http://127.0.0.1
        # (LOOPBACK_IP_APP in tests/emulator/directory.mjs).
        $appId = '7a1c3e5f-2b4d-4f6a-8c9e-0d1f2a3b4c5d'
        $connection = Connect-ExchangeMfa @script:interactive -AppId $appId -RedirectUri 'http://127.0.0.1' -InformationVariable info
        $connection.SignInMode | Should -Be 'Interactive'
        $connection.AppId | Should -Be $appId
        $url = ($info | Where-Object { $_.Tags -contains 'BrowserUrl' }).MessageData.Url
        $url | Should -Match 'redirect_uri=http%3A%2F%2F127\.0\.0\.1%3A\d+&'
        (Get-EmulatorStats).tokenRequests.authorization_code | Should -Be 1
    }

    It 'refuses a -RedirectUri that is not a loopback address before starting a browser' {
        Remove-Item "$script:browser.log" -ErrorAction Ignore
        foreach ($uri in 'https://localhost', 'http://example.com/', 'http://0.0.0.0:8400') {
            Get-ErrorId { Connect-ExchangeMfa @script:interactive -RedirectUri $uri } |
                Should -Be 'ExchangeMfa.InvalidParams,ExchangeMfa.ConnectExchangeMfaCommand'
        }
        Test-Path "$script:browser.log" | Should -BeFalse
    }

    It 'times out after -BrowserTimeoutSeconds naming what the browser showed and -Device, and closes the listener' {
        # Microsoft's app is not registered for 127.0.0.1: the browser stops
        # at the AADSTS50011 page and no answer ever comes.
        $started = [datetime]::UtcNow
        $failure = $null
        try { Connect-ExchangeMfa @script:interactive -RedirectUri 'http://127.0.0.1' -BrowserTimeoutSeconds 3 -InformationVariable script:timeoutInfo }
        catch { $failure = $_ }
        $failure.FullyQualifiedErrorId | Should -Be 'ExchangeMfa.Timeout,ExchangeMfa.ConnectExchangeMfaCommand'
        ([datetime]::UtcNow - $started).TotalSeconds | Should -BeLessThan 30
        $failure.Exception.Message | Should -Match 'within 3 seconds'
        $failure.Exception.Message | Should -Match 'AADSTS50011'
        $failure.Exception.Message | Should -Match 'AADSTS65001'
        $failure.Exception.Message | Should -Match '-Device'
        $failure.ErrorDetails.RecommendedAction | Should -Match '-RedirectUri'
        $failure.ErrorDetails.RecommendedAction | Should -Match '-Device'
        $url = ($script:timeoutInfo | Where-Object { $_.Tags -contains 'BrowserUrl' }).MessageData.Url
        Test-PortClosed (Get-CallbackPort $url) | Should -BeTrue
        (Get-EmulatorStats).authorizeRequests | Should -BeGreaterOrEqual 1 -Because 'the browser did reach the sign-in page'
        [int](Get-EmulatorStats).tokenRequests.authorization_code | Should -Be 0
    }

    It 'waits 120 seconds by default' {
        (Get-Command Connect-ExchangeMfa).Parameters.BrowserTimeoutSeconds.ParameterSets.Keys | Should -Be @('Interactive')
        [ExchangeMfa.SignIn]::InteractiveTimeoutSeconds | Should -Be 120
        (Get-Help Connect-ExchangeMfa -Parameter BrowserTimeoutSeconds | Out-String) | Should -Match 'default 120'
    }
}

Describe 'Password (-Credential, -InlineCredential)' {
    BeforeAll {
        $script:password = 'P@ssw0rd!'
        $secure = ConvertTo-SecureString $script:password -AsPlainText -Force
        $script:userCredential = [pscredential]::new('user@contoso.onmicrosoft.com', $secure)
        $script:adminCredential = [pscredential]::new('admin@contoso.onmicrosoft.com', $secure)
    }
    BeforeEach { Reset-Emulator }
    AfterEach { Disconnect-ExchangeMfa -Confirm:$false -ErrorAction Ignore }

    It 'signs in an account without MFA, and the password shows nowhere' {
        $all = Connect-ExchangeMfa @script:common -Credential $script:userCredential -InMemoryTokenCache -Verbose -Debug 4>&1 5>&1
        $connection = $all | Where-Object { $_.PSObject.TypeNames[0] -eq 'ExchangeMfa.Connection' }
        $connection.SignInMode | Should -Be 'Password'
        $connection.UserPrincipalName | Should -Be 'user@contoso.onmicrosoft.com'
        (Get-EmulatorStats).tokenRequests.password | Should -Be 1
        $text = ($all | Out-String) + ($connection | Format-List * | Out-String) + ($connection | ConvertTo-Json)
        $text | Should -Not -Match ([regex]::Escape($script:password))
        $text | Should -Not -Match $script:jwt
    }

    It 'says plainly to use -Device when the account needs MFA' {
        $failure = $null
        try { Connect-ExchangeMfa @script:common -Credential $script:adminCredential -InMemoryTokenCache } catch { $failure = $_ }
        $failure.FullyQualifiedErrorId | Should -Be 'ExchangeMfa.MfaRequired,ExchangeMfa.ConnectExchangeMfaCommand'
        $failure.Exception.Message | Should -Match '-Device'
        $failure.ErrorDetails.RecommendedAction | Should -Match '-Device'
        "$failure" | Should -Not -Match ([regex]::Escape($script:password))
    }

    It 'refuses a wrong password' {
        $wrong = [pscredential]::new('user@contoso.onmicrosoft.com', (ConvertTo-SecureString 'wrong' -AsPlainText -Force))
        Get-ErrorId { Connect-ExchangeMfa @script:common -Credential $wrong -InMemoryTokenCache } |
            Should -Be 'ExchangeMfa.AuthenticationFailed,ExchangeMfa.ConnectExchangeMfaCommand'
    }

    It '-InlineCredential asks for the password in the console' {
        Mock Read-Host { ConvertTo-SecureString 'P@ssw0rd!' -AsPlainText -Force } -ParameterFilter { $AsSecureString }
        $connection = Connect-ExchangeMfa @script:common -UserPrincipalName user@contoso.onmicrosoft.com -InlineCredential -InMemoryTokenCache
        $connection.SignInMode | Should -Be 'Password'
        Should -Invoke Read-Host -Times 1 -Exactly -ParameterFilter { $AsSecureString }
    }
}

Describe 'Certificate (app-only)' {
    BeforeAll {
        $emulator = $script:emulator
        $script:pfxPassword = 'pfx-Pa55'
        $script:pfx = Join-Path $script:work 'app.pfx'
        & openssl pkcs12 -export -in $emulator.AppCertFile -inkey $emulator.AppKeyFile -out $script:pfx -passout "pass:$script:pfxPassword" 2>&1 | Out-Null
        $script:combinedPem = Join-Path $script:work 'app-combined.pem'
        (Get-Content $emulator.AppCertFile -Raw) + (Get-Content $emulator.AppKeyFile -Raw) | Set-Content $script:combinedPem -NoNewline
        chmod 600 $script:pfx $script:combinedPem

        $script:certificate = [System.Security.Cryptography.X509Certificates.X509Certificate2]::CreateFromPemFile($emulator.AppCertFile, $emulator.AppKeyFile)
        # The thumbprint folder: one PEM file with certificate and key.
        $script:certDir = Join-Path $script:work 'certificates'
        New-Item -ItemType Directory -Path $script:certDir | Out-Null
        Copy-Item $script:combinedPem (Join-Path $script:certDir 'contoso-app.pem')
        chmod 700 $script:certDir
        chmod 600 (Join-Path $script:certDir 'contoso-app.pem')

        # An expired certificate with the app's key, and a valid one with another key.
        $key = [System.Security.Cryptography.RSA]::Create()
        $key.ImportFromPem((Get-Content $emulator.AppKeyFile -Raw))
        $request = [System.Security.Cryptography.X509Certificates.CertificateRequest]::new('CN=expired',
            $key, [System.Security.Cryptography.HashAlgorithmName]::SHA256, [System.Security.Cryptography.RSASignaturePadding]::Pkcs1)
        $expired = $request.CreateSelfSigned([datetimeoffset]::UtcNow.AddDays(-10), [datetimeoffset]::UtcNow.AddDays(-1))
        $script:expiredPem = Join-Path $script:work 'expired.pem'
        $expired.ExportCertificatePem() + "`n" + $key.ExportPkcs8PrivateKeyPem() | Set-Content $script:expiredPem
        $otherKey = [System.Security.Cryptography.RSA]::Create(2048)
        $request = [System.Security.Cryptography.X509Certificates.CertificateRequest]::new('CN=stranger',
            $otherKey, [System.Security.Cryptography.HashAlgorithmName]::SHA256, [System.Security.Cryptography.RSASignaturePadding]::Pkcs1)
        $stranger = $request.CreateSelfSigned([datetimeoffset]::UtcNow.AddDays(-1), [datetimeoffset]::UtcNow.AddDays(30))
        $script:strangerPem = Join-Path $script:work 'stranger.pem'
        $stranger.ExportCertificatePem() + "`n" + $otherKey.ExportPkcs8PrivateKeyPem() | Set-Content $script:strangerPem
        chmod 600 $script:expiredPem $script:strangerPem
    }
    BeforeEach { Reset-Emulator }
    AfterEach {
        Disconnect-ExchangeMfa -Confirm:$false -ErrorAction Ignore
        Remove-Item Env:EXCHANGEMFA_CERTIFICATE_DIR -ErrorAction Ignore
    }

    It 'signs in with a PEM certificate and a separate key file, and runs Exchange commands' {
        $connection = Connect-ExchangeMfa @script:appOnly -CertificateFilePath $script:emulator.AppCertFile -CertificateKeyFilePath $script:emulator.AppKeyFile
        $connection.SignInMode | Should -Be 'Certificate'
        $connection.TenantId | Should -Be $script:emulator.TenantId
        $connection.AppId | Should -Be $script:emulator.AppId
        @(Get-Mailbox -ResultSize 3).Count | Should -Be 3
        (Get-EmulatorStats).tokenRequests.client_credentials | Should -Be 1
    }

    It 'signs in with one PEM file holding certificate and key, twice (a new jti each time)' {
        (Connect-ExchangeMfa @script:appOnly -CertificateFilePath $script:combinedPem).SignInMode | Should -Be 'Certificate'
        (Connect-ExchangeMfa @script:appOnly -CertificateFilePath $script:combinedPem).SignInMode | Should -Be 'Certificate'
        (Get-EmulatorStats).tokenRequests.client_credentials | Should -Be 2
    }

    It 'signs in with a PFX file and its password' {
        $password = ConvertTo-SecureString $script:pfxPassword -AsPlainText -Force
        $all = Connect-ExchangeMfa @script:appOnly -CertificateFilePath $script:pfx -CertificatePassword $password -Verbose -Debug 4>&1 5>&1
        ($all | Where-Object { $_.PSObject.TypeNames[0] -eq 'ExchangeMfa.Connection' }).SignInMode | Should -Be 'Certificate'
        ($all | Out-String) | Should -Not -Match ([regex]::Escape($script:pfxPassword))
    }

    It 'refuses a PFX file with a wrong password before asking the service' {
        $wrong = ConvertTo-SecureString 'not-it' -AsPlainText -Force
        $failure = $null
        try { Connect-ExchangeMfa @script:appOnly -CertificateFilePath $script:pfx -CertificatePassword $wrong } catch { $failure = $_ }
        $failure.FullyQualifiedErrorId | Should -Be 'ExchangeMfa.AuthenticationFailed,ExchangeMfa.ConnectExchangeMfaCommand'
        $failure.Exception.Message | Should -Match 'password'
        [int](Get-EmulatorStats).tokenRequests.client_credentials | Should -Be 0
    }

    It 'signs in with an X509Certificate2 object, its key going through the pipe' {
        (Connect-ExchangeMfa @script:appOnly -Certificate $script:certificate).SignInMode | Should -Be 'Certificate'
        # Nothing was written next to the test's files or in the temp folder by us.
        Get-ChildItem ([System.IO.Path]::GetTempPath()) -Filter '*.pfx' -ErrorAction Ignore | Should -BeNullOrEmpty
    }

    It 'refuses an X509Certificate2 without its private key before starting a sign-in' {
        $public = [System.Security.Cryptography.X509Certificates.X509Certificate2]::new($script:certificate.RawData)
        Get-ErrorId { Connect-ExchangeMfa @script:appOnly -Certificate $public } | Should -Be 'ExchangeMfa.InvalidParams,ExchangeMfa.ConnectExchangeMfaCommand'
        [int](Get-EmulatorStats).tokenRequests.client_credentials | Should -Be 0
    }

    It 'finds the certificate by thumbprint in EXCHANGEMFA_CERTIFICATE_DIR' {
        $env:EXCHANGEMFA_CERTIFICATE_DIR = $script:certDir
        (Connect-ExchangeMfa @script:appOnly -CertificateThumbprint $script:certificate.Thumbprint.ToLowerInvariant()).SignInMode |
            Should -Be 'Certificate'
    }

    It 'says so when no certificate in the folder has that thumbprint' {
        $env:EXCHANGEMFA_CERTIFICATE_DIR = $script:certDir
        $failure = $null
        try { Connect-ExchangeMfa @script:appOnly -CertificateThumbprint ('AB' * 20) } catch { $failure = $_ }
        $failure.FullyQualifiedErrorId | Should -BeLike 'ExchangeMfa.*,ExchangeMfa.ConnectExchangeMfaCommand'
        $failure.Exception.Message | Should -Match '(?i)thumbprint'
        [int](Get-EmulatorStats).tokenRequests.client_credentials | Should -Be 0
    }

    It 'refuses an expired certificate before sending anything' {
        $failure = $null
        try { Connect-ExchangeMfa @script:appOnly -CertificateFilePath $script:expiredPem } catch { $failure = $_ }
        $failure.FullyQualifiedErrorId | Should -Be 'ExchangeMfa.InvalidParams,ExchangeMfa.ConnectExchangeMfaCommand'
        $failure.Exception.Message | Should -Match 'expired'
        [int](Get-EmulatorStats).tokenRequests.client_credentials | Should -Be 0
    }

    It 'reports a certificate the app does not know as a configuration error' {
        Get-ErrorId { Connect-ExchangeMfa @script:appOnly -CertificateFilePath $script:strangerPem } |
            Should -Be 'ExchangeMfa.ConfigurationError,ExchangeMfa.ConnectExchangeMfaCommand'
        (Get-EmulatorStats).tokenRequests.client_credentials | Should -Be 1
    }

    It 'signs the assertion RS256 on request' {
        (Connect-ExchangeMfa @script:appOnly -CertificateFilePath $script:combinedPem -AssertionAlgorithm RS256).SignInMode |
            Should -Be 'Certificate'
    }
}

Describe 'Managed identity' {
    BeforeEach { Reset-Emulator }
    AfterEach {
        Disconnect-ExchangeMfa -Confirm:$false -ErrorAction Ignore
        Remove-Item Env:IDENTITY_ENDPOINT, Env:IDENTITY_HEADER, Env:EXCHANGEMFA_IMDS_ENDPOINT -ErrorAction Ignore
    }

    It 'signs in through IDENTITY_ENDPOINT and IDENTITY_HEADER (App Service, Automation)' {
        $env:IDENTITY_ENDPOINT = $script:emulator.IdentityEndpoint
        $env:IDENTITY_HEADER = $script:emulator.IdentityHeader
        $connection = Connect-ExchangeMfa -ManagedIdentity -Organization $script:emulator.Domain -ShowBanner:$false -ConnectionUri $script:emulator.Url
        $connection.SignInMode | Should -Be 'ManagedIdentity'
        $connection.TenantId | Should -Be $script:emulator.TenantId
        @(Get-Mailbox -ResultSize 2).Count | Should -Be 2
        (Get-EmulatorStats).tokenRequests.managed_identity | Should -Be 1
    }

    It 'signs in through IMDS at EXCHANGEMFA_IMDS_ENDPOINT, with a user-assigned identity' {
        $env:EXCHANGEMFA_IMDS_ENDPOINT = $script:emulator.ImdsEndpoint
        $connection = Connect-ExchangeMfa -ManagedIdentity -ManagedIdentityAccountId $script:emulator.ManagedIdentityClientId `
            -Organization $script:emulator.Domain -ShowBanner:$false -ConnectionUri $script:emulator.Url
        $connection.SignInMode | Should -Be 'ManagedIdentity'
    }

    It 'reports an identity that is not assigned as a configuration error' {
        $env:IDENTITY_ENDPOINT = $script:emulator.IdentityEndpoint
        $env:IDENTITY_HEADER = $script:emulator.IdentityHeader
        Get-ErrorId { Connect-ExchangeMfa -ManagedIdentity -ManagedIdentityAccountId ([guid]::NewGuid()) -Organization $script:emulator.Domain -ShowBanner:$false -ConnectionUri $script:emulator.Url } |
            Should -Be 'ExchangeMfa.ConfigurationError,ExchangeMfa.ConnectExchangeMfaCommand'
    }

    It 'needs -Organization' {
        (Get-Command Connect-ExchangeMfa).Parameters.Organization.ParameterSets['ManagedIdentity'].IsMandatory | Should -BeTrue
    }
}

Describe 'Federated token (workload identity)' {
    BeforeAll {
        $script:tokenFile = Join-Path $script:work 'federated-token'
    }
    BeforeEach {
        Reset-Emulator
        # The emulator checks a federated assertion like a certificate
        # assertion of the contoso app: the test plays the platform that
        # writes the token file.
        Set-Content -Path $script:tokenFile -Value (New-TestClientAssertion) -NoNewline
        $env:AZURE_FEDERATED_TOKEN_FILE = $script:tokenFile
        $env:AZURE_CLIENT_ID = $script:emulator.AppId
        $env:AZURE_TENANT_ID = $script:emulator.TenantId
        $env:AZURE_AUTHORITY_HOST = "$($script:emulator.Url)/"
    }
    AfterEach {
        Disconnect-ExchangeMfa -Confirm:$false -ErrorAction Ignore
        Remove-Item Env:AZURE_FEDERATED_TOKEN_FILE, Env:AZURE_CLIENT_ID, Env:AZURE_TENANT_ID, Env:AZURE_AUTHORITY_HOST -ErrorAction Ignore
    }

    It 'signs in with the token file and runs Exchange commands' {
        $connection = Connect-ExchangeMfa -FederatedToken -ShowBanner:$false -ConnectionUri $script:emulator.Url
        $connection.SignInMode | Should -Be 'Federated'
        $connection.TenantId | Should -Be $script:emulator.TenantId
        @(Get-Mailbox -ResultSize 2).Count | Should -Be 2
    }

    It 'reads the file again for each sign-in: a used token fails, a rotated one works' {
        (Connect-ExchangeMfa -FederatedToken -ShowBanner:$false -ConnectionUri $script:emulator.Url).SignInMode | Should -Be 'Federated'
        Disconnect-ExchangeMfa -Confirm:$false
        # Same file content: the emulator has seen that jti (AADSTS700023).
        $failure = $null
        try { Connect-ExchangeMfa -FederatedToken -ShowBanner:$false -ConnectionUri $script:emulator.Url } catch { $failure = $_ }
        $failure.FullyQualifiedErrorId | Should -Be 'ExchangeMfa.ConfigurationError,ExchangeMfa.ConnectExchangeMfaCommand'
        $failure.Exception.Data['ExchangeMfa.aadsts'] | Should -Be 700023
        Set-Content -Path $script:tokenFile -Value (New-TestClientAssertion) -NoNewline
        (Connect-ExchangeMfa -FederatedToken -ShowBanner:$false -ConnectionUri $script:emulator.Url).SignInMode | Should -Be 'Federated'
    }

    It 'refuses an expired assertion with a clear error, and connects nothing' {
        # Issued an hour ago for ten minutes: past the emulator's 5 minutes
        # of clock skew, so it answers AADSTS700024.
        Set-Content -Path $script:tokenFile -Value (New-TestClientAssertion -AgeSeconds 3600) -NoNewline
        $failure = $null
        try { Connect-ExchangeMfa -FederatedToken -ShowBanner:$false -ConnectionUri $script:emulator.Url } catch { $failure = $_ }
        $failure.FullyQualifiedErrorId | Should -Be 'ExchangeMfa.ConfigurationError,ExchangeMfa.ConnectExchangeMfaCommand'
        $failure.Exception.Data['ExchangeMfa.aadsts'] | Should -Be 700024
        $failure.Exception.Message | Should -Match '(?i)assertion.*valid time range'
        "$failure" | Should -Not -Match $script:jwt
        Get-ExchangeMfaConnection | Should -BeNullOrEmpty
        Get-TestHelperProcessId | Should -BeNullOrEmpty -Because 'a failed first sign-in leaves no helper'
    }

    It 'names the missing variable' {
        Remove-Item Env:AZURE_FEDERATED_TOKEN_FILE
        $failure = $null
        try { Connect-ExchangeMfa -FederatedToken -ShowBanner:$false -ConnectionUri $script:emulator.Url } catch { $failure = $_ }
        $failure.FullyQualifiedErrorId | Should -Be 'ExchangeMfa.ConfigurationError,ExchangeMfa.ConnectExchangeMfaCommand'
        $failure.Exception.Message | Should -Match 'AZURE_FEDERATED_TOKEN_FILE'
    }
}

Describe '-AccessToken' {
    BeforeEach { Reset-Emulator }
    AfterEach { Disconnect-ExchangeMfa -Confirm:$false -ErrorAction Ignore }

    It 'connects with a token for Exchange, which shows nowhere' {
        $token = Get-TestAppAccessToken
        $all = Connect-ExchangeMfa -AccessToken $token -Organization $script:emulator.Domain -ShowBanner:$false `
            -ConnectionUri $script:emulator.Url -Verbose -Debug 4>&1 5>&1
        $connection = $all | Where-Object { $_.PSObject.TypeNames[0] -eq 'ExchangeMfa.Connection' }
        $connection.SignInMode | Should -Be 'AccessToken'
        $connection.TenantId | Should -Be $script:emulator.TenantId
        @(Get-Mailbox -ResultSize 2).Count | Should -Be 2
        (($all | Out-String) + ($connection | ConvertTo-Json)) | Should -Not -Match $script:jwt
    }

    It 'refuses an expired token, saying it cannot be renewed' {
        Set-EmulatorConfig @{ tokenLifetime = 1 }
        $token = Get-TestAppAccessToken
        Start-Sleep -Seconds 2
        $failure = $null
        try { Connect-ExchangeMfa -AccessToken $token -Organization $script:emulator.Domain -ShowBanner:$false -ConnectionUri $script:emulator.Url } catch { $failure = $_ }
        $failure.FullyQualifiedErrorId | Should -Be 'ExchangeMfa.InvalidToken,ExchangeMfa.ConnectExchangeMfaCommand'
        $failure.Exception.Message | Should -Match 'expired'
        "$failure" | Should -Not -Match $script:jwt
    }

    It 'refuses a token for another audience' {
        $token = Get-TestAppAccessToken -Scope 'https://graph.microsoft.com/.default'
        Get-ErrorId { Connect-ExchangeMfa -AccessToken $token -Organization $script:emulator.Domain -ShowBanner:$false -ConnectionUri $script:emulator.Url } |
            Should -Be 'ExchangeMfa.InvalidToken,ExchangeMfa.ConnectExchangeMfaCommand'
    }
}
