# The same sign-in tests against three identity providers (issue 6,
# docs/conformance.md): our emulator, and oidc-provider (a certified OpenID
# provider, tests/peers/provider.mjs) in its Entra-like shape (tenant in the
# path, Microsoft routes) and its plain shape (issuer at the root, standard
# discovery). Each target runs device code, a declined device code, silent
# renewal, browser sign-in with PKCE and app-only with a certificate.
# A mode the module or helper does not have yet is skipped with the reason,
# found at run time, so the test switches on when the mode lands.

BeforeDiscovery {
    $targets = @(
        @{ Name = 'emulator'; Shape = $null }
        @{ Name = 'oidc-provider (Entra-like)'; Shape = 'entra' }
        @{ Name = 'oidc-provider (plain)'; Shape = 'plain' }
    )
}

BeforeAll {
    $script:Admin = 'admin@contoso.onmicrosoft.com'
    $script:Organization = 'contoso.onmicrosoft.com'
    # Microsoft's public client for Exchange; both peers register it.
    $script:PublicClient = 'fb78d390-0c51-40cd-8e17-fdbfab77341b'

    function Test-ConnectParameter([string] $Name) {
        (Get-Command Connect-ExchangeMfa).Parameters.ContainsKey($Name)
    }

    function Invoke-SignIn {
        # Connect-ExchangeMfa against the target; returns { Session, ErrorId,
        # Message, Skip }. Skip names why the mode cannot be tested yet:
        # the helper refuses the mode (InvalidParams naming `mode`), or
        # (plain shape) it finds no discovery document where it looks (H1).
        param([hashtable] $Parameters, [string] $Mode)
        $all = @{
            ShowBanner                      = $false
            AzureADAuthorizationEndpointUri = $script:Target.Authority
            ConnectionUri                   = $script:Target.Url
        }
        foreach ($key in $Parameters.Keys) { $all[$key] = $Parameters[$key] }
        $result = [pscustomobject]@{ Session = $null; ErrorId = $null; Message = $null; Skip = $null }
        try {
            # Write-Host (the device code text) goes to stream 6.
            $result.Session = Connect-ExchangeMfa @all 6>$null
        }
        catch {
            $result.ErrorId = ($_.FullyQualifiedErrorId -split ',')[0]
            $result.Message = $_.Exception.Message
            # Only a refused mode: any other InvalidParams is a failure.
            if ($result.ErrorId -eq 'ExchangeMfa.InvalidParams' -and $result.Message -match '\bmode\b') {
                $result.Skip = "the helper does not take $Mode sign-in yet: $($result.Message)"
            }
            elseif ($script:Target.Shape -eq 'plain' -and $result.ErrorId -eq 'ExchangeMfa.HttpError' -and $result.Message -match '404') {
                $result.Skip = "the helper finds no discovery document at a plain provider (docs/conformance.md, H1): $($result.Message)"
            }
        }
        $result
    }

    function Get-GrantCount([string] $Grant) {
        # Token requests of one grant type the target answered.
        if ($script:Target.Shape) {
            $key = if ($Grant -eq 'device_code') { 'urn:ietf:params:oauth:grant-type:device_code' } else { $Grant }
            $count = (Get-ProviderStats).token.$key
        }
        else { $count = (Get-EmulatorStats).tokenRequests.$Grant }
        if ($null -eq $count) { 0 } else { [int]$count }
    }

    function Set-AccessTokensRefused {
        # Exchange refuses the access tokens issued so far (the emulator) or
        # the next request (oidc-provider's Exchange stand-in): 401, so the
        # helper must renew with its refresh token and retry.
        if ($script:Target.Shape) { Set-ProviderConfig @{ invokeFailures = 1 } }
        else { Invoke-EmulatorControl -Path revoke-access-tokens | Out-Null }
    }

    function Start-DecliningPhone {
        # The user refuses the next device code. oidc-provider's phone answers
        # access_denied when nobody is set to sign in; at the emulator, a
        # thread job denies the first pending code.
        if ($script:Target.Shape) {
            Set-ProviderConfig @{ autoApprove = $null }
            return $null
        }
        Set-EmulatorConfig @{ autoApprove = $null }
        Start-ThreadJob -ArgumentList $script:Target.Url, $script:Target.CaFile -ScriptBlock {
            param($Url, $CaFile)
            $deadline = [datetime]::UtcNow.AddSeconds(20)
            while ([datetime]::UtcNow -lt $deadline) {
                $pending = (& curl --cacert $CaFile -s --max-time 5 "$Url/_emulator/device/pending" | ConvertFrom-Json).pending
                if ($pending) {
                    $body = ConvertTo-Json -Compress @{ userCode = $pending[0].userCode }
                    & curl --cacert $CaFile -s --max-time 5 -X POST -H 'Content-Type: application/json' -d $body "$Url/_emulator/device/deny"
                    return
                }
                Start-Sleep -Milliseconds 100
            }
        }
    }

    function Stop-DecliningPhone($Job) {
        if ($script:Target.Shape) { Set-ProviderConfig @{ autoApprove = $script:Admin } }
        else { Set-EmulatorConfig @{ autoApprove = $script:Admin } }
        if ($Job) { $Job | Remove-Job -Force }
    }
}

Describe 'Sign-in against <Name>' -ForEach $targets {
    BeforeAll {
        Import-Module (Join-Path $PSScriptRoot 'TestSupport.psm1') -Force
        Import-Module (Join-Path $PSScriptRoot 'Providers.psm1') -Force
        $script:Target = $null
        $script:Session = $null
        $script:Unavailable = $null
        if ($Shape -and -not (Test-ProviderInstalled)) {
            $script:Unavailable = 'oidc-provider is not installed: npm ci --prefix tests/peers'
            return
        }
        if ($Shape) {
            $provider = Start-TestProvider -Shape $Shape -AutoApprove
            $script:Target = [pscustomobject]@{
                Shape = $Shape; Url = $provider.Url; Authority = $provider.Authority; CaFile = $provider.CaFile
                ClientId = $provider.ClientId; AppId = $provider.AppId; AppAuthority = $provider.Authority
                AppCertFile = $provider.AppCertFile; AppKeyFile = $provider.AppKeyFile
                # The plain provider's id token has no tid.
                TenantId = if ($Shape -eq 'entra') { $provider.TenantId } else { $null }
                Dir = $provider.Dir
            }
            $browser = New-ProviderBrowserScript -Path (Join-Path $provider.Dir 'browser.sh')
        }
        else {
            $emulator = Start-TestEmulator -Mailboxes 5
            $script:Target = [pscustomobject]@{
                Shape = $null; Url = $emulator.Url; Authority = $emulator.Authority; CaFile = $emulator.CaFile
                ClientId = $script:PublicClient; AppId = $emulator.AppId
                # App-only needs a tenant authority (AADSTS90009 otherwise).
                AppAuthority = "$($emulator.Url)/$($emulator.TenantId)"
                AppCertFile = $emulator.AppCertFile; AppKeyFile = $emulator.AppKeyFile
                TenantId = $emulator.TenantId; Dir = $emulator.Dir
            }
            $browser = New-TestBrowserScript -Path (Join-Path $emulator.Dir 'browser.sh')
        }
        $script:BrowserLog = "$browser.log"
        # The helper reads $BROWSER and EXCHANGEMFA_CA_FILE from the
        # environment it starts with: one helper per target.
        $env:BROWSER = $browser
        Import-Module (Join-Path $PSScriptRoot '../../ExchangeMfa.psd1') -Force
        # A broken browser fails within seconds, not the 5 minute default.
        [ExchangeMfa.SignIn]::InteractiveTimeoutSeconds = 20
    }

    AfterAll {
        if (Get-Module ExchangeMfa) {
            [ExchangeMfa.SignIn]::InteractiveTimeoutSeconds = 120
            Disconnect-ExchangeMfa -Confirm:$false -ErrorAction Ignore
            Remove-Module ExchangeMfa
        }
        Remove-Item Env:BROWSER -ErrorAction Ignore
        if ($Shape) { Stop-TestProvider } else { Stop-TestEmulator }
        Remove-Module Providers, TestSupport -ErrorAction Ignore
    }

    BeforeEach {
        if ($script:Unavailable) { Set-ItResult -Skipped -Because $script:Unavailable }
    }

    It 'signs in with a device code; the session holds the verified identity' {
        $before = Get-GrantCount 'device_code'
        $result = Invoke-SignIn -Mode 'device code' -Parameters @{
            Device = $true; UserPrincipalName = $script:Admin; AppId = $script:Target.ClientId; InMemoryTokenCache = $true
        }
        if ($result.Skip) { Set-ItResult -Skipped -Because $result.Skip; return }
        $result.ErrorId | Should -BeNullOrEmpty -Because $result.Message
        $session = $result.Session
        $session.State | Should -Be 'Connected'
        $session.SignInMode | Should -Be 'DeviceCode'
        $session.UserPrincipalName | Should -Be $script:Admin
        [string]$session.TenantId | Should -Be ([string]$script:Target.TenantId)
        $session.AppId | Should -Be $script:Target.ClientId
        $session.TokenExpiresUtc | Should -BeGreaterThan ([datetime]::UtcNow)
        Get-GrantCount 'device_code' | Should -Be ($before + 1)
        $script:Session = $session
    }

    It 'renews the access token silently with the refresh token when Exchange refuses it' {
        if (-not $script:Session) { Set-ItResult -Skipped -Because 'no device code session to renew'; return }
        $before = Get-GrantCount 'refresh_token'
        Set-AccessTokensRefused
        $mailbox = Get-Mailbox -ResultSize 1 -ConnectionId $script:Session.ConnectionId
        @($mailbox).Count | Should -Be 1
        Get-GrantCount 'refresh_token' | Should -Be ($before + 1)
        $renewed = Get-ExchangeMfaConnection | Where-Object ConnectionId -EQ $script:Session.ConnectionId
        $renewed.State | Should -Be 'Connected'
        $renewed.TokenExpiresUtc | Should -BeGreaterOrEqual $script:Session.TokenExpiresUtc
        Disconnect-ExchangeMfa -ConnectionId $script:Session.ConnectionId -Confirm:$false
    }

    It 'reports a device code the user declined as AuthorizationDeclined' {
        $phone = Start-DecliningPhone
        try {
            $result = Invoke-SignIn -Mode 'device code' -Parameters @{
                Device = $true; UserPrincipalName = $script:Admin; AppId = $script:Target.ClientId; InMemoryTokenCache = $true
            }
        }
        finally { Stop-DecliningPhone $phone }
        if ($result.Skip) { Set-ItResult -Skipped -Because $result.Skip; return }
        $result.Session | Should -BeNullOrEmpty
        $result.ErrorId | Should -Be 'ExchangeMfa.AuthorizationDeclined' -Because $result.Message
    }

    It 'signs in through the browser with PKCE (S256)' {
        if (-not (Test-ConnectParameter 'NoBrowser')) { Set-ItResult -Skipped -Because 'Connect-ExchangeMfa has no browser sign-in yet'; return }
        Remove-Item $script:BrowserLog -ErrorAction Ignore
        $before = Get-GrantCount 'authorization_code'
        $result = Invoke-SignIn -Mode 'browser' -Parameters @{
            UserPrincipalName = $script:Admin; AppId = $script:Target.ClientId; InMemoryTokenCache = $true
        }
        if ($result.Skip) { Set-ItResult -Skipped -Because $result.Skip; return }
        $result.ErrorId | Should -BeNullOrEmpty -Because $result.Message
        $result.Session.SignInMode | Should -Be 'Interactive'
        $result.Session.UserPrincipalName | Should -Be $script:Admin
        [string]$result.Session.TenantId | Should -Be ([string]$script:Target.TenantId)
        Get-GrantCount 'authorization_code' | Should -Be ($before + 1)
        # The browser got the target's authorize URL with an S256 challenge.
        $url = [uri]@(Get-Content $script:BrowserLog)[0]
        $url.GetLeftPart([System.UriPartial]::Authority) | Should -Be $script:Target.Url
        $query = [System.Web.HttpUtility]::ParseQueryString($url.Query)
        $query['code_challenge_method'] | Should -Be 'S256'
        $query['code_challenge'] | Should -Match '^[A-Za-z0-9_-]{43}$'
        $query['client_id'] | Should -Be $script:Target.ClientId
        Disconnect-ExchangeMfa -ConnectionId $result.Session.ConnectionId -Confirm:$false
    }

    It 'signs in app-only with a certificate (private_key_jwt) and the token works at Exchange' {
        if (-not (Test-ConnectParameter 'CertificateFilePath')) { Set-ItResult -Skipped -Because 'Connect-ExchangeMfa has no -CertificateFilePath yet'; return }
        $before = Get-GrantCount 'client_credentials'
        $result = Invoke-SignIn -Mode 'certificate' -Parameters @{
            AppId = $script:Target.AppId; Organization = $script:Organization
            CertificateFilePath = $script:Target.AppCertFile; CertificateKeyFilePath = $script:Target.AppKeyFile
            AzureADAuthorizationEndpointUri = $script:Target.AppAuthority
        }
        if ($result.Skip) { Set-ItResult -Skipped -Because $result.Skip; return }
        $result.ErrorId | Should -BeNullOrEmpty -Because $result.Message
        $result.Session.SignInMode | Should -Be 'Certificate'
        $result.Session.AppId | Should -Be $script:Target.AppId
        $result.Session.TokenExpiresUtc | Should -BeGreaterThan ([datetime]::UtcNow)
        Get-GrantCount 'client_credentials' | Should -Be ($before + 1)
        @(Get-Mailbox -ResultSize 1 -ConnectionId $result.Session.ConnectionId).Count | Should -Be 1
        Disconnect-ExchangeMfa -ConnectionId $result.Session.ConnectionId -Confirm:$false
    }
}
