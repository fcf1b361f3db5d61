# Stages the module as it is installed (build/package/ExchangeMfa) and
# publishes it as a PowerShell Gallery package (.nupkg) to the file
# repository build/package/repo. Called by `./build.sh package`, after the
# helpers, the types DLL and the proxy commands are built (docs/package.md).
#
#   pwsh -File tools/package/Build-Package.ps1 -LinuxHelper <path> -WindowsHelper <path>
param(
    # The linux-x64 helper linked against the static libraries; stripped here.
    [Parameter(Mandatory)] [string] $LinuxHelper,
    # The win-x64 helper of ./build.sh windows (static, stripped by its build).
    [Parameter(Mandatory)] [string] $WindowsHelper,
    [string] $OutputPath = (Join-Path (Split-Path (Split-Path $PSScriptRoot -Parent) -Parent) 'build/package')
)

$ErrorActionPreference = 'Stop'
$root = Split-Path (Split-Path $PSScriptRoot -Parent) -Parent
$stage = Join-Path $OutputPath 'ExchangeMfa'
$repository = Join-Path $OutputPath 'repo'

foreach ($needed in 'module/bin/ExchangeMfa.Types.dll', 'module/Commands/CommandNames.txt', 'module/Bundle/ExchangeMfa.Runtime.ps1', 'module/en-US/ExchangeMfa.Types.dll-Help.xml') {
    if (-not (Test-Path -LiteralPath (Join-Path $root $needed))) { throw "Build-Package: $needed is missing; run ./build.sh first." }
}

# The installed layout is the repository's: the manifest at the root, en-US/,
# module/ with the generated Commands/, and module/bin/ holding the types
# DLL and one folder per platform (the module picks bin/<rid>/).
Remove-Item -LiteralPath $stage, $repository -Recurse -Force -ErrorAction Ignore
$bin = New-Item -ItemType Directory -Path (Join-Path $stage 'module/bin') -Force
Copy-Item -LiteralPath (Join-Path $root 'ExchangeMfa.psd1') -Destination $stage
# en-US/ is a link to module/en-US in the repository: the package holds a copy.
$help = New-Item -ItemType Directory -Path (Join-Path $stage 'en-US')
Copy-Item -Path (Join-Path $root 'module/en-US/*') -Destination $help
# The runtime script travels as the generated file (module/Bundle): its
# sources (Private) stay in the repository.
Get-ChildItem -LiteralPath (Join-Path $root 'module') -Exclude 'bin', 'Commands.new', 'Private' |
    Copy-Item -Destination (Join-Path $stage 'module') -Recurse
Copy-Item -LiteralPath (Join-Path $root 'module/bin/ExchangeMfa.Types.dll') -Destination $bin

$linux = New-Item -ItemType Directory -Path (Join-Path $bin 'linux-x64')
# Symbols stay in the build folder: the package carries the code only.
& strip -o (Join-Path $linux 'exchangemfa-helper') $LinuxHelper
if ($LASTEXITCODE) { throw "Build-Package: strip $LinuxHelper failed" }
$windows = New-Item -ItemType Directory -Path (Join-Path $bin 'win-x64')
Copy-Item -LiteralPath $WindowsHelper -Destination $windows

# Publish-PSResource writes the .nupkg into a registered repository. Its
# registry lives under the user's data folder: a private one here
# (XDG_DATA_HOME, read by .NET on each call; it must exist, or .NET answers
# "" and the registry lands in the working folder), so the user's own
# repositories are neither read nor changed.
New-Item -ItemType Directory -Path $repository | Out-Null
$dataHome = (New-Item -ItemType Directory -Path (Join-Path $OutputPath 'psresourceget') -Force).FullName
$previous = $env:XDG_DATA_HOME
try {
    $env:XDG_DATA_HOME = $dataHome
    Register-PSResourceRepository -Name ExchangeMfaBuild -Uri $repository -Trusted
    Publish-PSResource -Path $stage -Repository ExchangeMfaBuild -SkipDependenciesCheck
}
finally {
    $env:XDG_DATA_HOME = $previous
    Remove-Item -LiteralPath $dataHome -Recurse -Force -ErrorAction Ignore
}

$package = Get-ChildItem -LiteralPath $repository -Filter 'ExchangeMfa.*.nupkg'
$helpers = Get-ChildItem -LiteralPath $bin -Recurse -Filter 'exchangemfa-helper*' |
    ForEach-Object { '{0} {1:N1} MB' -f $_.Directory.Name, ($_.Length / 1MB) }
"package  $($package.FullName)"
'size     {0:N1} MB ({1:N0} bytes)' -f ($package.Length / 1MB), $package.Length
"helpers  $($helpers -join ', ')"
