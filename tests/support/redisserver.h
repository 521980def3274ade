// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// A real, throwaway redis-server for the tests: a temporary directory, a
// free loopback port, append-only persistence on, no RDB snapshots. The
// Redis broker tests restart it mid-run (same port, same directory, so the
// AOF is reloaded) to check what survives and how clients reconnect.
#pragma once

#include <memory>

#include <QProcess>
#include <QString>
#include <QTemporaryDir>

namespace bfg::test {

class RedisServer
{
public:
    RedisServer();
    ~RedisServer();
    Q_DISABLE_COPY_MOVE(RedisServer)

    // Picks a free port (first start only) and starts redis-server; false,
    // with its output in `error`, if it does not answer PING within 10 s.
    bool start(QString *error);
    // SIGTERM and wait; SIGKILL if it has not gone in time.
    void stop();
    // stop(), then start on the same port and directory (AOF reloaded).
    bool restart(QString *error);
    bool isRunning() const { return m_process.state() == QProcess::Running; }

    quint16 port() const { return m_port; }
    qint64 processId() const { return m_process.processId(); }
    // redis://127.0.0.1:PORT
    QString url() const;
    QString dataDir() const;
    // The server's output so far.
    QByteArray log() const { return m_log; }

private:
    bool startOnPort(QString *error);
    bool waitForPong(int timeoutMs) const;

    std::unique_ptr<QTemporaryDir> m_dir;
    QProcess m_process;
    QByteArray m_log;
    quint16 m_port = 0;
};

} // namespace bfg::test
