// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// bfgd as a Windows service: registering it with the Service Control
// Manager (--install-service, --uninstall-service) and running under it
// (--service, the command line the SCM starts). daemon/main.cpp is the one
// user. Win32 and the standard library only, no Qt and no <windows.h> here,
// so that the .cpp can be syntax-checked with MinGW on Linux
// (scripts/check-windows-service) and main.cpp is spared the Win32 macros.
//
// Threads, in the order the SCM uses them:
//  * the process's main thread calls run(), which blocks in
//    StartServiceCtrlDispatcherW until the service has stopped; the SCM
//    calls the control handler (STOP, SHUTDOWN ...) on this thread;
//  * the dispatcher starts the service's ServiceMain on a thread of its own,
//    and that thread runs `daemon`: the QCoreApplication is created there and
//    its event loop runs there, so Qt's "main thread" is the service thread.
//    Nothing may create a QObject on the process's main thread first.
#pragma once

#include <functional>
#include <string>

namespace bfg::windowsservice {

// The service's name in the SCM database (sc start bfgd) and what the
// Services console shows.
inline constexpr wchar_t Name[] = L"bfgd";
inline constexpr wchar_t DisplayName[] = L"BFG push-messaging daemon";

// How the daemon, on the thread that runs it, reports to the SCM. Every
// SetServiceStatus call comes from that one thread; the control handler
// only signals stopEvent(), so that it returns at once and takes no lock.
class Status
{
public:
    virtual ~Status() = default;

    // A HANDLE (an auto-reset event) signalled when the SCM sends STOP or
    // SHUTDOWN; the daemon waits for it in its event loop (QWinEventNotifier)
    // and then drains as it does on SIGTERM.
    virtual void *stopEvent() const = 0;
    // Every listener is up: SERVICE_RUNNING, STOP and SHUTDOWN accepted.
    virtual void reportRunning() = 0;
    // Stopping (draining): SERVICE_STOP_PENDING with the next checkpoint.
    // Call it when the stop begins and then at least once per `waitHintMs`
    // until the daemon returns, or the SCM takes the service for hung.
    virtual void reportStopping(unsigned waitHintMs) = 0;
};

// True when the command line asks to run under the SCM (--service): main()
// must then call run() before anything else, Qt included.
bool isServiceCommandLine(int argc, char *argv[]);

// Runs `daemon` as the service: connects the main thread to the SCM and
// blocks until the service has stopped. `daemon` runs on the service thread
// and returns the process's exit code; a non-zero one is reported to the SCM
// as a service-specific error (System event log, event 7024). Returns that
// code, or 2 with a message on stderr when the process was not started by
// the SCM (bfgd --service typed in a console).
int run(const std::function<int(Status &status)> &daemon);

// --install-service: registers this executable as the service `Name`,
// started automatically (delayed, after boot) as NT AUTHORITY\LocalService
// with `"<this exe>" --service --config "<configPath>"` (configPath absolute,
// or empty for none), restarted by the SCM if it fails. Needs an elevated
// prompt. On return, `message` says what happened or what went wrong.
bool install(const std::wstring &configPath, std::wstring *message);
// --uninstall-service: removes the service; a running one is removed by the
// SCM once it has stopped.
bool uninstall(std::wstring *message);

} // namespace bfg::windowsservice
