// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// The Win32 service API rules this file follows, from the SCM's
// documentation (StartServiceCtrlDispatcherW, ServiceMain,
// RegisterServiceCtrlHandlerExW, HandlerEx, SetServiceStatus,
// SERVICE_STATUS), are noted where they bite.
#include "daemon/service/windowsservice.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#ifndef NOMINMAX
#define NOMINMAX
#endif
#include <windows.h>

#include <shellapi.h>

namespace bfg::windowsservice {

namespace {

// Upper bound of the start: opening the stores and, with PostgreSQL or Redis,
// connecting to them. The SCM waits this long for RUNNING before it calls
// the service hung (SERVICE_STATUS.dwWaitHint).
constexpr DWORD StartWaitHintMs = 30000;

// What ServiceMain needs and the SCM gives it no way to pass: the table of
// StartServiceCtrlDispatcherW has a function pointer and no context.
struct ServiceState final : Status
{
    const std::function<int(Status &)> *daemon = nullptr;
    SERVICE_STATUS_HANDLE statusHandle = nullptr;
    // Written by the service thread only (see Status): no lock. The handler
    // reads nothing of it.
    SERVICE_STATUS status = {};
    HANDLE stopRequested = nullptr;
    int exitCode = 0;

    void *stopEvent() const override { return stopRequested; }

    void reportRunning() override
    {
        status.dwCurrentState = SERVICE_RUNNING;
        // Accepting controls only now: SetServiceStatus's best practices say
        // not to accept any while START_PENDING.
        status.dwControlsAccepted = SERVICE_ACCEPT_STOP | SERVICE_ACCEPT_SHUTDOWN;
        status.dwCheckPoint = 0; // zero when nothing is pending
        status.dwWaitHint = 0;
        report();
    }

    void reportStopping(unsigned waitHintMs) override
    {
        if (status.dwCurrentState != SERVICE_STOP_PENDING) {
            status.dwCurrentState = SERVICE_STOP_PENDING;
            status.dwControlsAccepted = 0; // after STOP the SCM sends no more controls anyway
            status.dwCheckPoint = 0;
        }
        // The SCM judges progress by a checkpoint that moves before each wait
        // hint runs out; the drain calls this every second while it runs.
        ++status.dwCheckPoint;
        status.dwWaitHint = waitHintMs;
        report();
    }

    void report()
    {
        // Failing to report is not a reason to stop serving; the SCM then
        // acts on its own timeouts.
        SetServiceStatus(statusHandle, &status);
    }
};

ServiceState service;

std::wstring systemMessage(DWORD error)
{
    wchar_t *buffer = nullptr;
    const DWORD length = FormatMessageW(FORMAT_MESSAGE_ALLOCATE_BUFFER | FORMAT_MESSAGE_FROM_SYSTEM |
                                            FORMAT_MESSAGE_IGNORE_INSERTS,
                                        nullptr, error, 0, reinterpret_cast<wchar_t *>(&buffer), 0, nullptr);
    std::wstring text = length > 0 && buffer ? std::wstring(buffer, length) : std::wstring();
    LocalFree(buffer);
    while (!text.empty() && (text.back() == L'\n' || text.back() == L'\r' || text.back() == L'.'))
        text.pop_back();
    return text + L" (error " + std::to_wstring(error) + L")";
}

std::wstring failure(const wchar_t *what, DWORD error)
{
    std::wstring text = std::wstring(what) + L": " + systemMessage(error);
    if (error == ERROR_ACCESS_DENIED)
        text += L"; run it from an elevated (Administrator) prompt";
    return text;
}

// Quotes one argument so that CommandLineToArgvW, which Qt and the C runtime
// use to split a command line, gives it back unchanged: backslashes are
// literal except before a quote, where they are doubled.
std::wstring quoteArgument(const std::wstring &argument)
{
    if (!argument.empty() && argument.find_first_of(L" \t\n\v\"") == std::wstring::npos)
        return argument;
    std::wstring quoted = L"\"";
    for (auto it = argument.begin();; ++it) {
        std::size_t backslashes = 0;
        while (it != argument.end() && *it == L'\\') {
            ++it;
            ++backslashes;
        }
        if (it == argument.end()) {
            quoted.append(backslashes * 2, L'\\');
            break;
        }
        quoted.append(*it == L'"' ? backslashes * 2 + 1 : backslashes, L'\\');
        quoted.push_back(*it);
    }
    quoted.push_back(L'"');
    return quoted;
}

std::wstring thisExecutable()
{
    // GetModuleFileNameW truncates silently when the buffer is short: grow it.
    std::vector<wchar_t> path(MAX_PATH);
    for (;;) {
        const DWORD length = GetModuleFileNameW(nullptr, path.data(), DWORD(path.size()));
        if (length == 0)
            return {};
        if (length < path.size())
            return std::wstring(path.data(), length);
        path.resize(path.size() * 2);
    }
}

// Closes an SC_HANDLE when it goes out of scope.
struct ScHandle
{
    SC_HANDLE handle;
    explicit ScHandle(SC_HANDLE h)
        : handle(h)
    {}
    ~ScHandle()
    {
        if (handle)
            CloseServiceHandle(handle);
    }
    ScHandle(const ScHandle &) = delete;
    ScHandle &operator=(const ScHandle &) = delete;
    explicit operator bool() const { return handle != nullptr; }
};

// A service has no console: stderr goes nowhere and Qt, seeing no console,
// would log with OutputDebugString. Send both to a file next to the
// configuration (bfgd.conf -> bfgd.log), or %ProgramData%\BFG\bfgd.log.
void redirectLogs()
{
    std::wstring configPath;
    int count = 0;
    if (wchar_t **arguments = CommandLineToArgvW(GetCommandLineW(), &count)) {
        for (int i = 1; i < count; ++i) {
            const std::wstring argument = arguments[i];
            if (argument == L"--config" && i + 1 < count)
                configPath = arguments[i + 1];
            else if (argument.rfind(L"--config=", 0) == 0)
                configPath = argument.substr(9);
        }
        LocalFree(arguments);
    }
    std::wstring logPath;
    if (!configPath.empty()) {
        const std::size_t slash = configPath.find_last_of(L"\\/");
        const std::size_t dot = configPath.find_last_of(L'.');
        logPath = (dot != std::wstring::npos && (slash == std::wstring::npos || dot > slash)
                       ? configPath.substr(0, dot)
                       : configPath) +
                  L".log";
    } else {
        wchar_t programData[MAX_PATH];
        const DWORD length = GetEnvironmentVariableW(L"ProgramData", programData, MAX_PATH);
        if (length == 0 || length >= MAX_PATH)
            return;
        const std::wstring directory = std::wstring(programData, length) + L"\\BFG";
        CreateDirectoryW(directory.c_str(), nullptr); // fails harmlessly when it exists
        logPath = directory + L"\\bfgd.log";
    }
    if (!_wfreopen(logPath.c_str(), L"a", stderr))
        return;
    std::setvbuf(stderr, nullptr, _IONBF, 0);
    _wputenv_s(L"QT_FORCE_STDERR_LOGGING", L"1");
    if (!std::getenv("QT_MESSAGE_PATTERN"))
        _wputenv_s(L"QT_MESSAGE_PATTERN",
                   L"%{time yyyy-MM-dd hh:mm:ss.zzz} %{if-category}%{category}: %{endif}%{message}");
}

// HandlerEx, called on the process's main thread (the dispatcher). It must
// return at once (the SCM waits for it, 30 s at most, before it sends any
// service another control) and should take no lock: it only signals the
// service thread, which reports STOP_PENDING and drains.
DWORD WINAPI controlHandler(DWORD control, DWORD /*eventType*/, void * /*eventData*/, void *context)
{
    auto *state = static_cast<ServiceState *>(context);
    switch (control) {
    case SERVICE_CONTROL_STOP:
    // System shutdown: the same drain, within the ~20 s Windows gives
    // services then (WaitToKillServiceTimeout); the README says to keep
    // push/drain_timeout_ms below it.
    case SERVICE_CONTROL_SHUTDOWN:
        SetEvent(state->stopRequested);
        return NO_ERROR; // what HandlerEx must return for a STOP or SHUTDOWN it handles
    case SERVICE_CONTROL_INTERROGATE:
        return NO_ERROR; // the SCM knows the status already
    default:
        return ERROR_CALL_NOT_IMPLEMENTED;
    }
}

// ServiceMain, on a thread the dispatcher created for it. argv[0] is the
// service's name (the start parameters of `sc start` follow; bfgd reads its
// settings from the command line of the executable instead).
void WINAPI serviceMain(DWORD /*argc*/, wchar_t **argv)
{
    ServiceState &state = service;
    // Auto-reset: the wait in the daemon's event loop consumes the signal.
    // Made before the handler exists, which signals it.
    state.stopRequested = CreateEventW(nullptr, FALSE, FALSE, nullptr);
    // Then at once the handler: its handle is what SetServiceStatus needs,
    // and no status may be reported before it.
    state.statusHandle = RegisterServiceCtrlHandlerExW(argv[0], controlHandler, &state);
    if (!state.statusHandle) {
        state.exitCode = 1;
        return; // without a status handle there is nobody to tell
    }
    state.status.dwServiceType = SERVICE_WIN32_OWN_PROCESS;
    state.status.dwCurrentState = SERVICE_START_PENDING;
    state.status.dwControlsAccepted = 0;
    state.status.dwWin32ExitCode = NO_ERROR;
    state.status.dwServiceSpecificExitCode = 0;
    state.status.dwCheckPoint = 1;
    state.status.dwWaitHint = StartWaitHintMs;
    state.report();

    if (!state.stopRequested) {
        state.exitCode = 1;
    } else {
        redirectLogs();
        state.exitCode = (*state.daemon)(state);
    }

    // SERVICE_STOPPED exactly once, as the last thing: the first such call
    // closes the SCM's RPC context (a second one can crash the process) and
    // the process may be ended at any moment after it. So nothing is cleaned
    // up after it (the event handle goes with the process).
    state.status.dwCurrentState = SERVICE_STOPPED;
    state.status.dwControlsAccepted = 0;
    state.status.dwCheckPoint = 0;
    state.status.dwWaitHint = 0;
    if (state.exitCode != 0) {
        state.status.dwWin32ExitCode = ERROR_SERVICE_SPECIFIC_ERROR;
        state.status.dwServiceSpecificExitCode = DWORD(state.exitCode);
    }
    std::fflush(stderr);
    state.report();
}

} // namespace

bool isServiceCommandLine(int argc, char *argv[])
{
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--service") == 0)
            return true;
    }
    return false;
}

int run(const std::function<int(Status &)> &daemon)
{
    service.daemon = &daemon;
    // Own process: the name in the table is ignored, but the table ends with
    // an entry of nulls.
    SERVICE_TABLE_ENTRYW table[] = {{const_cast<wchar_t *>(Name), serviceMain}, {nullptr, nullptr}};
    // Blocks until every service of the process has reported STOPPED. The SCM
    // gives a process it started 30 s to get here, so main() calls it first.
    if (!StartServiceCtrlDispatcherW(table)) {
        const DWORD error = GetLastError();
        if (error == ERROR_FAILED_SERVICE_CONTROLLER_CONNECT)
            std::fprintf(stderr, "bfgd: --service is the command line the Windows Service Control Manager "
                                 "starts; in a console, run bfgd without it\n");
        else
            std::fprintf(stderr, "bfgd: StartServiceCtrlDispatcher: %ls\n", systemMessage(error).c_str());
        return 2;
    }
    return service.exitCode;
}

bool install(const std::wstring &configPath, std::wstring *message)
{
    const std::wstring executable = thisExecutable();
    if (executable.empty()) {
        *message = failure(L"cannot find bfgd's own path", GetLastError());
        return false;
    }
    // The path of the executable is quoted whatever it holds (a space in it
    // would otherwise split it); its arguments are quoted for CommandLineToArgvW.
    std::wstring commandLine = L"\"" + executable + L"\" --service";
    if (!configPath.empty())
        commandLine += L" --config " + quoteArgument(configPath);

    ScHandle manager(OpenSCManagerW(nullptr, nullptr, SC_MANAGER_CONNECT | SC_MANAGER_CREATE_SERVICE));
    if (!manager) {
        *message = failure(L"cannot open the Service Control Manager", GetLastError());
        return false;
    }
    // LocalService: no more rights than a user, network access as the machine
    // when it must authenticate, its own profile (so the default data_dir is
    // writable). SERVICE_START is needed below for the restart action.
    ScHandle handle(CreateServiceW(
        manager.handle, Name, DisplayName, SERVICE_CHANGE_CONFIG | SERVICE_START | SERVICE_QUERY_STATUS,
        SERVICE_WIN32_OWN_PROCESS, SERVICE_AUTO_START, SERVICE_ERROR_NORMAL, commandLine.c_str(), nullptr,
        nullptr, nullptr, L"NT AUTHORITY\\LocalService", L"" /* the documented password for LocalService */));
    if (!handle) {
        const DWORD error = GetLastError();
        *message = error == ERROR_SERVICE_EXISTS
                       ? L"a service named bfgd is installed already; bfgd --uninstall-service first"
                       : failure(L"cannot create the service", error);
        return false;
    }

    // What the Services console shows. The optional settings below failing
    // leaves a working service, so they are reported, not undone.
    std::wstring notes;
    wchar_t description[] = L"BFG push-messaging cluster: the decision and push roles (bfgd). "
                            L"Stopping it drains the push role first.";
    SERVICE_DESCRIPTIONW descriptionInfo = {description};
    if (!ChangeServiceConfig2W(handle.handle, SERVICE_CONFIG_DESCRIPTION, &descriptionInfo))
        notes += L"; description not set: " + systemMessage(GetLastError());
    // Start once the boot has settled (the network is up) rather than among
    // the first services.
    SERVICE_DELAYED_AUTO_START_INFO delayed = {TRUE};
    if (!ChangeServiceConfig2W(handle.handle, SERVICE_CONFIG_DELAYED_AUTO_START_INFO, &delayed))
        notes += L"; delayed start not set: " + systemMessage(GetLastError());
    // On a crash, or a stop with an error, restart after 5 s, then 30 s,
    // then every minute; a day without failure resets the count.
    SC_ACTION actions[] = {{SC_ACTION_RESTART, 5000}, {SC_ACTION_RESTART, 30000}, {SC_ACTION_RESTART, 60000}};
    SERVICE_FAILURE_ACTIONSW failureActions = {};
    failureActions.dwResetPeriod = 86400;
    failureActions.cActions = DWORD(sizeof actions / sizeof actions[0]);
    failureActions.lpsaActions = actions;
    SERVICE_FAILURE_ACTIONS_FLAG onErrorExit = {TRUE}; // not only when the process dies
    if (!ChangeServiceConfig2W(handle.handle, SERVICE_CONFIG_FAILURE_ACTIONS, &failureActions) ||
        !ChangeServiceConfig2W(handle.handle, SERVICE_CONFIG_FAILURE_ACTIONS_FLAG, &onErrorExit))
        notes += L"; restart on failure not set: " + systemMessage(GetLastError());

    *message = L"installed the service bfgd: " + commandLine + L" (account LocalService, automatic start)" +
               notes + L". Start it with: sc start bfgd";
    return true;
}

bool uninstall(std::wstring *message)
{
    ScHandle manager(OpenSCManagerW(nullptr, nullptr, SC_MANAGER_CONNECT));
    if (!manager) {
        *message = failure(L"cannot open the Service Control Manager", GetLastError());
        return false;
    }
    ScHandle handle(OpenServiceW(manager.handle, Name, DELETE | SERVICE_QUERY_STATUS));
    if (!handle) {
        const DWORD error = GetLastError();
        *message = error == ERROR_SERVICE_DOES_NOT_EXIST ? L"no service named bfgd is installed"
                                                         : failure(L"cannot open the service bfgd", error);
        return false;
    }
    SERVICE_STATUS status = {};
    const bool running =
        QueryServiceStatus(handle.handle, &status) && status.dwCurrentState != SERVICE_STOPPED;
    // DeleteService only marks the service: the SCM removes it once it has
    // stopped and every handle to it (this one included) is closed.
    if (!DeleteService(handle.handle)) {
        const DWORD error = GetLastError();
        *message = error == ERROR_SERVICE_MARKED_FOR_DELETE
                       ? L"the service bfgd is already marked for removal; it goes once it has stopped"
                       : failure(L"cannot remove the service bfgd", error);
        return error == ERROR_SERVICE_MARKED_FOR_DELETE;
    }
    *message = running ? L"the service bfgd is marked for removal and goes once it has stopped: sc stop bfgd "
                         L"(it drains first)"
                       : L"removed the service bfgd";
    return true;
}

} // namespace bfg::windowsservice
