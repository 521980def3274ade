// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
#include "client/signalwatcher.h"

#include <csignal>

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <QSocketNotifier>

#include "common/logging.h"

namespace bfg::probe {

int SignalWatcher::s_fds[2] = {-1, -1};

SignalWatcher::SignalWatcher(std::initializer_list<int> unixSignals, QObject *parent)
    : QObject(parent)
    , m_signals(unixSignals)
{
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s_fds) != 0) {
        qCWarning(lcProbe) << "cannot watch for signals: socketpair failed";
        return;
    }
    // A handler must never block, even if nobody reads for a while.
    ::fcntl(s_fds[0], F_SETFL, ::fcntl(s_fds[0], F_GETFL) | O_NONBLOCK);
    m_notifier = new QSocketNotifier(s_fds[1], QSocketNotifier::Read, this);
    connect(m_notifier, &QSocketNotifier::activated, this, &SignalWatcher::readPending);

    struct sigaction action = {};
    action.sa_handler = &SignalWatcher::handle;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART;
    for (int unixSignal : m_signals)
        ::sigaction(unixSignal, &action, nullptr);
}

SignalWatcher::~SignalWatcher()
{
    if (!m_notifier)
        return;
    struct sigaction action = {};
    action.sa_handler = SIG_DFL;
    sigemptyset(&action.sa_mask);
    for (int unixSignal : m_signals)
        ::sigaction(unixSignal, &action, nullptr);
    delete m_notifier;
    m_notifier = nullptr;
    ::close(s_fds[0]);
    ::close(s_fds[1]);
    s_fds[0] = s_fds[1] = -1;
}

void SignalWatcher::handle(int unixSignal)
{
    const char byte = char(unixSignal);
    [[maybe_unused]] const ssize_t written = ::write(s_fds[0], &byte, 1);
}

void SignalWatcher::readPending()
{
    char bytes[16];
    const ssize_t count = ::read(s_fds[1], bytes, sizeof bytes);
    for (ssize_t i = 0; i < count; ++i)
        Q_EMIT signalReceived(int(bytes[i]));
}

} // namespace bfg::probe
