@echo off
rem bgone installer for Windows: double-click this file.
rem It runs install.ps1 (which finds Python 3.10-3.13) without changing PowerShell's settings.
setlocal
powershell -NoProfile -ExecutionPolicy Bypass -File "%~dp0install.ps1" %*
set STATUS=%ERRORLEVEL%
if not defined BGONE_NO_PAUSE (
  echo.
  pause
)
exit /b %STATUS%
