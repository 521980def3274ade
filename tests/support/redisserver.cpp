// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
#include "tests/support/redisserver.h"

#include <QDeadlineTimer>
#include <QHostAddress>
#include <QStandardPaths>
#include <QTcpServer>
#include <QTcpSocket>
#include <QThread>
#include "tests/support/testhttp.h"

using namespace Qt::Literals::StringLiterals;

namespace bfg::test {

namespace {
constexpr int StartTimeoutMs = 10000;
constexpr int StopTimeoutMs = 10000;
constexpr int BindAttempts = 3;

} // namespace

RedisServer::RedisServer() = default;

RedisServer::~RedisServer()
{
    stop();
}

QString RedisServer::url() const
{
    return u"redis://127.0.0.1:%1"_s.arg(m_port);
}

QString RedisServer::dataDir() const
{
    return m_dir ? m_dir->path() : QString();
}

bool RedisServer::start(QString *error)
{
    if (isRunning())
        return true;
    if (QStandardPaths::findExecutable(u"redis-server"_s).isEmpty()) {
        *error = u"redis-server is not installed"_s;
        return false;
    }
    if (!m_dir) {
        m_dir = std::make_unique<QTemporaryDir>();
        if (!m_dir->isValid()) {
            *error = u"cannot create a temporary directory: "_s + m_dir->errorString();
            m_dir.reset();
            return false;
        }
    }
    if (m_port != 0)
        return startOnPort(error);

    // Another process may take the port between our probe and redis' bind;
    // try a few fresh ports before giving up.
    for (int attempt = 0; attempt < BindAttempts; ++attempt) {
        m_port = freeLoopbackPort();
        if (m_port != 0 && startOnPort(error))
            return true;
    }
    m_port = 0;
    return false;
}

bool RedisServer::startOnPort(QString *error)
{
    m_process.setProcessChannelMode(QProcess::MergedChannels);
    m_process.setWorkingDirectory(m_dir->path());
    const QStringList args{u"--port"_s,       QString::number(m_port),
                           u"--bind"_s,       u"127.0.0.1"_s,
                           u"--dir"_s,        m_dir->path(),
                           u"--appendonly"_s, u"yes"_s,
                           u"--save"_s,       u""_s,
                           u"--daemonize"_s,  u"no"_s};
    m_process.start(u"redis-server"_s, args);
    if (!m_process.waitForStarted(StartTimeoutMs)) {
        *error = u"redis-server did not start: "_s + m_process.errorString();
        return false;
    }
    const bool up = waitForPong(StartTimeoutMs);
    m_log += m_process.readAll();
    if (!up) {
        *error = u"redis-server on port %1 did not answer PING: "_s.arg(m_port) + QString::fromUtf8(m_log);
        stop();
        return false;
    }
    return true;
}

bool RedisServer::waitForPong(int timeoutMs) const
{
    const QDeadlineTimer deadline(timeoutMs);
    while (!deadline.hasExpired()) {
        if (m_process.state() != QProcess::Running)
            return false;
        QTcpSocket socket;
        socket.connectToHost(QHostAddress::LocalHost, m_port);
        if (socket.waitForConnected(500)) {
            socket.write("PING\r\n");
            QByteArray answer;
            while (!answer.contains('\n') && socket.waitForReadyRead(500))
                answer += socket.readAll();
            if (answer.startsWith("+PONG"))
                return true;
        }
        // A blocking helper outside any event loop: a short pause between
        // probes of a process that is still starting up.
        QThread::msleep(50);
    }
    return false;
}

void RedisServer::stop()
{
    if (m_process.state() == QProcess::NotRunning)
        return;
    m_process.terminate();
    if (!m_process.waitForFinished(StopTimeoutMs)) {
        m_process.kill();
        m_process.waitForFinished(StopTimeoutMs);
    }
    m_log += m_process.readAll();
}

bool RedisServer::restart(QString *error)
{
    stop();
    return start(error);
}

} // namespace bfg::test
