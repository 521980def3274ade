// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// A real, throwaway PostgreSQL server for the tests: initdb into a
// temporary directory, postgres on a free loopback port with trust
// authentication, stopped (fast shutdown) on stop() or destruction. When
// the tests run as root, initdb and postgres run as the `postgres` system
// user, since PostgreSQL refuses to run as root.
#pragma once

#include <memory>

#include <QProcess>
#include <QString>
#include <QTemporaryDir>

namespace bfg::test {

class PostgresServer
{
public:
    PostgresServer();
    ~PostgresServer();
    Q_DISABLE_COPY_MOVE(PostgresServer)

    // Creates the cluster and starts the server; false, with the tools'
    // output in `error`, when PostgreSQL is missing or does not come up.
    bool start(QString *error);
    // Fast shutdown (SIGINT), then SIGKILL if it has not gone in time.
    void stop();
    bool isRunning() const { return m_process.state() == QProcess::Running; }

    // CREATE DATABASE `name` (lower-case letters, digits and '_').
    bool createDatabase(const QString &name, QString *error);
    // postgresql://postgres@127.0.0.1:PORT/<database>
    QString url(const QString &database) const;
    quint16 port() const { return m_port; }
    // The server's log so far.
    QByteArray log() const;

    // /usr/lib/postgresql/<highest version>/bin, else the directory of
    // initdb on PATH; empty if neither exists.
    static QString binDir();

private:
    bool runTool(const QString &tool, const QStringList &args, int timeoutMs, QByteArray *output,
                 QString *error);
    bool startServer(QString *error);
    void prepare(QProcess &process) const;

    std::unique_ptr<QTemporaryDir> m_dir;
    QProcess m_process;
    QString m_binDir;
    quint16 m_port = 0;
    // The account initdb and postgres run as; -1: the current one.
    int m_uid = -1;
    int m_gid = -1;
};

} // namespace bfg::test
