# bgone installer for Windows: finds a 64-bit Python 3.10-3.13 and runs install.py with it.
# Usually started by install.bat (double-click). Arguments are passed on to install.py.
$ErrorActionPreference = 'Stop'
$here = Split-Path -Parent $MyInvocation.MyCommand.Path
# no double quotes in here: Windows PowerShell 5.1 strips them from native command arguments
$check = 'import sys, struct; sys.exit(0 if (3, 10) <= sys.version_info[:2] <= (3, 13) and struct.calcsize(''P'') == 8 else 1)'

function Test-Python([string[]]$cmd) {
    try {
        $exe = $cmd[0]; $rest = @(); if ($cmd.Count -gt 1) { $rest = $cmd[1..($cmd.Count - 1)] }
        & $exe @rest -c $check 2>$null | Out-Null
        return ($LASTEXITCODE -eq 0)
    } catch { return $false }
}

$python = $null
# An explicit --python PY is tried first.
for ($i = 0; $i -lt $args.Count - 1; $i++) {
    if ($args[$i] -eq '--python' -and (Test-Python @($args[$i + 1]))) { $python = @($args[$i + 1]); break }
}
if (-not $python -and (Get-Command py -ErrorAction SilentlyContinue)) {
    foreach ($v in '3.13', '3.12', '3.11', '3.10') {
        if (Test-Python @('py', "-$v")) { $python = @('py', "-$v"); break }
    }
}
if (-not $python) {
    foreach ($name in 'python', 'python3') {
        $c = Get-Command $name -ErrorAction SilentlyContinue
        # skip the Microsoft Store stub in WindowsApps, which only opens the Store
        if ($c -and $c.Source -notlike '*\WindowsApps\*' -and (Test-Python @($c.Source))) {
            $python = @($c.Source); break
        }
    }
}
if (-not $python) {
    Write-Host ''
    Write-Host 'bgone needs a 64-bit Python 3.10, 3.11, 3.12 or 3.13, and none was found.' -ForegroundColor Red
    Write-Host ''
    Write-Host 'Install Python 3.12 from https://www.python.org/downloads/windows/'
    Write-Host '(tick "Add python.exe to PATH" in the first screen), then run this installer again.'
    exit 2
}
$exe = $python[0]; $rest = @(); if ($python.Count -gt 1) { $rest = $python[1..($python.Count - 1)] }
& $exe @rest (Join-Path $here 'install.py') @args
exit $LASTEXITCODE
