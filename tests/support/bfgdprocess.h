// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// Starts a real bfgd (the binary the build made) in a temporary data
// directory on free loopback ports, waits for its "bfgd: ready" line and
// reads its URLs back; stops it on destruction. Restartable on the same
// ports and data, to test what survives a restart.
#pragma once

#include <QProcess>
#include <QStringList>
#include <QTemporaryDir>
#include <QJsonObject>
#include <QUrl>

namespace bfg::test {

class BfgdProcess
{
public:
    explicit BfgdProcess(QStringList extraArgs = {});
    ~BfgdProcess();
    Q_DISABLE_COPY_MOVE(BfgdProcess)

    // Starts bfgd; the first start picks free ports, later ones reuse them.
    bool start(QString *error);
    // SIGTERM and wait (graceful); returns the exit code, -1 on a crash.
    int stop();
    void kill();
    // The environment bfgd starts with (default: this process's).
    void setEnvironment(const QProcessEnvironment &environment);
    // Sends `signal` (SIGHUP, SIGTERM ...) and returns at once.
    bool sendSignal(int signal);
    // Waits, running the event loop, until bfgd's output contains `text`.
    bool waitForOutput(const QByteArray &text, int timeoutMs);
    // Waits, running the event loop, for bfgd to exit (after a signal):
    // its exit code, -1 on a crash or when it is still running.
    int waitForExit(int timeoutMs);
    // Everything bfgd wrote so far, reading what is pending first.
    QByteArray readOutput();
    bool isRunning() const { return m_process.state() == QProcess::Running; }

    QUrl decisionUrl() const { return m_decision; }
    QUrl pushUrl() const { return m_push; }
    QUrl publishUrl() const { return m_publish; }
    QString nodeId() const { return m_nodeId; }
    QString dataDir() const { return m_dataDir.path(); }
    // The operator key bfgd generated in its data directory (admin API).
    QByteArray adminKey() const;
    QByteArray output() const { return m_output; } // stderr + stdout so far
    qint64 processId() const { return m_process.processId(); }

private:
    QStringList m_extraArgs;
    QTemporaryDir m_dataDir;
    QProcess m_process;
    QByteArray m_output;
    QUrl m_decision;
    QUrl m_push;
    QUrl m_publish;
    QString m_nodeId;
};

// Runs bfg-probe with `args` to completion (bounded by `timeoutMs`).
struct ProbeRun
{
    int exitCode = -1;
    QByteArray stdoutText;
    QByteArray stderrText;
    QJsonObject summary; // from --json
};
ProbeRun runProbe(const QStringList &args, int timeoutMs);

QString bfgdPath();
QString probePath();

// A random token secret (32 hex digits) for processes that must share one.
QString randomSecret();

} // namespace bfg::test
