# The commands' help: written in docs/commands/<Name>.md, made into MAML by
# tools/help/Build-CommandHelp.ps1 (build.sh writes
# module/en-US/ExchangeMfa.Types.dll-Help.xml), read by Get-Help for the
# compiled cmdlets. Then the generator's refusals, run on copies of the
# docs in TestDrive.

BeforeDiscovery {
    $data = Import-PowerShellDataFile (Join-Path $PSScriptRoot '../../ExchangeMfa.psd1')
    $script:commandNames = @(@($data.FunctionsToExport) + @($data.CmdletsToExport) | Where-Object { $_ -and $_ -ne '*' })
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestSupport.psm1')
    $script:root = Get-RepoRoot
    $script:manifestPath = Join-Path $script:root 'ExchangeMfa.psd1'
    $script:docs = Join-Path $script:root 'docs/commands'
    $script:generator = Join-Path $script:root 'tools/help/Build-CommandHelp.ps1'
    Import-Module $script:manifestPath -Force
    $script:common = [System.Management.Automation.PSCmdlet]::CommonParameters +
        [System.Management.Automation.PSCmdlet]::OptionalCommonParameters

    function Get-MarkdownSection([string] $Name, [string] $Section) {
        # The text under '## Section' in docs/commands/<Name>.md, unescaped,
        # its white space collapsed as Get-Help's may differ.
        $text = Get-Content -Raw -LiteralPath (Join-Path $script:docs "$Name.md")
        if ($text -notmatch "(?ms)^## $Section[ \t]*\r?\n(.*?)(?=^## |\z)") { return $null }
        [regex]::Replace($Matches[1], '\\([!-/:-@\[-`{-~])', '$1').Trim()
    }

    function Get-ShownParameter($Command) {
        # What the help shows: the command's own parameters but the hidden
        # ones, and -WhatIf/-Confirm when it has them.
        $Command.Parameters.Values | Where-Object {
            ($_.Name -notin $script:common -or $_.Name -in 'WhatIf', 'Confirm') -and
            -not @($_.Attributes | Where-Object { $_ -is [Parameter] -and $_.DontShow })
        } | ForEach-Object Name
    }
}

AfterAll {
    Remove-Module ExchangeMfa -ErrorAction Ignore
}

Describe 'Get-Help <_>' -ForEach $script:commandNames {
    BeforeAll {
        $script:name = $_
        $script:help = Get-Help $_ -Full
        $script:command = Get-Command $_
    }

    It 'has the synopsis of its markdown' {
        ($script:help.Synopsis -replace '\s+', ' ').Trim() | Should -Be ((Get-MarkdownSection $script:name SYNOPSIS) -replace '\s+', ' ')
    }

    It 'has the description of its markdown' {
        $first = ((Get-MarkdownSection $script:name DESCRIPTION) -split '\r?\n\s*\r?\n')[0]
        (@($script:help.Description)[0].Text -replace '\s+', ' ').Trim() | Should -Be ($first -replace '\s+', ' ')
    }

    It 'has a syntax line for each parameter set, the default one first' {
        $shown = @(Get-ShownParameter $script:command)
        $syntax = @($script:help.Syntax.SyntaxItem)
        $sets = @($script:command.ParameterSets | Sort-Object { -not $_.IsDefault })
        $syntax.Count | Should -Be $sets.Count
        $expected = @($sets | ForEach-Object { (@($_.Parameters.Name | Where-Object { $_ -in $shown }) | Sort-Object) -join ' ' })
        $actual = @($syntax | ForEach-Object { (@($_.Parameter.Name) | Sort-Object) -join ' ' })
        $actual[0] | Should -Be $expected[0]
        ($actual | Sort-Object) | Should -Be ($expected | Sort-Object)
    }

    It 'describes every parameter it shows, and no hidden one' {
        $shown = @(Get-ShownParameter $script:command)
        $described = @($script:help.Parameters.Parameter)
        ($described.Name | Sort-Object) | Should -Be ($shown | Sort-Object)
        foreach ($parameter in $described) {
            ($parameter.Description | Out-String).Trim() | Should -Not -BeNullOrEmpty -Because "-$($parameter.Name) needs a description"
            $mandatory = [bool]@($script:command.ParameterSets.Parameters | Where-Object { $_.Name -eq $parameter.Name -and $_.IsMandatory })
            $parameter.Required | Should -Be $mandatory.ToString().ToLowerInvariant() -Because "-$($parameter.Name)"
        }
    }

    It 'has the examples of its markdown, each with code' {
        $titles = @([regex]::Matches((Get-MarkdownSection $script:name EXAMPLES), '(?m)^### (.+?)\s*$') | ForEach-Object { $_.Groups[1].Value })
        $examples = @($script:help.Examples.Example)
        $titles.Count | Should -BeGreaterOrEqual 1
        $examples.Count | Should -Be $titles.Count
        for ($i = 0; $i -lt $examples.Count; $i++) {
            # The title proves the help came from docs/commands, not from
            # comment-based help.
            $examples[$i].Title | Should -BeLike "*$($titles[$i])*"
            $examples[$i].Code | Should -Not -BeNullOrEmpty
        }
    }
}

Describe 'Build-CommandHelp.ps1' {
    BeforeAll {
        function Invoke-HelpBuild([string] $Source, [string] $OutFile) {
            # The generator as build.sh runs it: its own pwsh, -File.
            $exe = [Environment]::ProcessPath
            $prefix = @()
            if ((Split-Path $exe -Leaf) -in 'dotnet', 'dotnet.exe') { $prefix = @([Environment]::GetCommandLineArgs()[0]) }
            $output = & $exe @prefix -NoProfile -NonInteractive -File $script:generator -Manifest $script:manifestPath -Source $Source -OutFile $OutFile 2>&1 |
                ForEach-Object { "$_" }
            # Without colours, so that messages compare as text.
            [pscustomobject]@{ ExitCode = $LASTEXITCODE; Output = ($output -join "`n") -replace '\x1b\[[0-9;]*m', '' }
        }

        function New-DocsCopy {
            # A copy of docs/commands to break, and a help file that a failed
            # run must leave as it was.
            $dir = Join-Path $TestDrive ([guid]::NewGuid().ToString('n'))
            Copy-Item -LiteralPath $script:docs -Destination $dir -Recurse
            $out = "$dir.xml"
            Set-Content -LiteralPath $out -Value 'previous help'
            @{ Dir = $dir; Out = $out }
        }

        function Edit-Markdown([string] $Path, [string] $Pattern, [string] $Replacement) {
            $text = Get-Content -Raw -LiteralPath $Path
            $text | Should -Match $Pattern
            Set-Content -LiteralPath $Path -Value ([regex]::Replace($text, $Pattern, $Replacement)) -NoNewline
        }

        function Assert-Refused($Copy, $Result, [string] $Message) {
            $Result.ExitCode | Should -Not -Be 0
            $Result.Output | Should -Match 'nothing was written'
            $Result.Output | Should -Match ([regex]::Escape($Message))
            Get-Content -Raw -LiteralPath $Copy.Out | Should -Be "previous help$([Environment]::NewLine)"
            @(Get-ChildItem -LiteralPath (Split-Path $Copy.Out) -Filter '*.tmp').Count | Should -Be 0
        }
    }

    It 'writes one MAML command per markdown file' {
        $out = Join-Path $TestDrive 'ExchangeMfa.Types.dll-Help.xml'
        $result = Invoke-HelpBuild -Source $script:docs -OutFile $out
        $result.ExitCode | Should -Be 0 -Because $result.Output
        $xml = [xml](Get-Content -Raw -LiteralPath $out)
        $names = [System.Xml.XmlNamespaceManager]::new($xml.NameTable)
        $names.AddNamespace('command', 'http://schemas.microsoft.com/maml/dev/command/2004/10')
        $names.AddNamespace('maml', 'http://schemas.microsoft.com/maml/2004/10')
        $xml.DocumentElement.schema | Should -Be 'maml'
        $written = @($xml.SelectNodes('//command:command/command:details/command:name', $names).InnerText)
        ($written | Sort-Object) | Should -Be ((Get-ChildItem -LiteralPath $script:docs -Filter *.md).BaseName | Sort-Object)
        # -Product is Connect-IPPSSession's way in (DontShow): not in the help.
        $connect = $xml.SelectSingleNode("//command:command[command:details/command:name='Connect-ExchangeMfa']", $names)
        @($connect.SelectNodes('.//command:parameter[maml:name="Product"]', $names)).Count | Should -Be 0
        # A switch has no value in the syntax.
        $device = $connect.SelectSingleNode('command:syntax//command:parameter[maml:name="Device"]', $names)
        $device.SelectSingleNode('command:parameterValue', $names) | Should -BeNullOrEmpty
    }

    It 'refuses a markdown file for a command the module does not export' {
        $copy = New-DocsCopy
        $text = (Get-Content -Raw -LiteralPath (Join-Path $copy.Dir 'Get-ExchangeMfaConnection.md')) -replace '(?m)^# Get-ExchangeMfaConnection', '# Get-ExchangeMfaNothing'
        Set-Content -LiteralPath (Join-Path $copy.Dir 'Get-ExchangeMfaNothing.md') -Value $text
        $result = Invoke-HelpBuild -Source $copy.Dir -OutFile $copy.Out
        Assert-Refused $copy $result "Get-ExchangeMfaNothing.md: the module does not export a command named 'Get-ExchangeMfaNothing'"
    }

    It 'refuses an exported command without a markdown file' {
        $copy = New-DocsCopy
        Remove-Item -LiteralPath (Join-Path $copy.Dir 'Get-ConnectionInformation.md')
        $result = Invoke-HelpBuild -Source $copy.Dir -OutFile $copy.Out
        Assert-Refused $copy $result 'Get-ConnectionInformation.md: missing'
    }

    It 'refuses a parameter without a description' {
        $copy = New-DocsCopy
        # One section left empty, one gone.
        Edit-Markdown (Join-Path $copy.Dir 'Disconnect-ExchangeMfa.md') '(?ms)^### -ForgetCache\s*$.*?(?=^##)' "### -ForgetCache`n`n"
        Edit-Markdown (Join-Path $copy.Dir 'Get-ExchangeMfaConnection.md') '(?ms)^### -ConnectionId\s*$.*?(?=^##)' ''
        $result = Invoke-HelpBuild -Source $copy.Dir -OutFile $copy.Out
        Assert-Refused $copy $result 'Disconnect-ExchangeMfa.md: -ForgetCache has no description'
        $result.Output | Should -Match ([regex]::Escape('Get-ExchangeMfaConnection.md: -ConnectionId has no description'))
    }

    It 'refuses a parameter the command does not have' {
        $copy = New-DocsCopy
        Edit-Markdown (Join-Path $copy.Dir 'Get-ExchangeMfaConnection.md') '(?m)^## INPUTS' "### -Organization`n`nOnly the connections to this tenant.`n`n## INPUTS"
        $result = Invoke-HelpBuild -Source $copy.Dir -OutFile $copy.Out
        Assert-Refused $copy $result 'Get-ExchangeMfaConnection.md: describes -Organization, which Get-ExchangeMfaConnection does not have'
    }
}
