// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// The real bfg-probe running in the background while a test acts on the
// cluster (drains, kills, restarts): its output is read as it comes and its
// progress lines parsed, SIGINT ends it as Ctrl-C does (stop publishing,
// wait for delivery, report), and its --json summary is read at the end.
// runProbe() in bfgdprocess.h is the blocking variant.
#pragma once

#include <QJsonObject>
#include <QProcess>
#include <QStringList>
#include <QTemporaryDir>

namespace bfg::test {

// One progress line ("t=12s users=500/500 live sent=... recv=... lost=..."),
// printed every second unless --quiet.
struct ProbeProgress
{
    bool valid = false; // a line has been seen
    qint64 seconds = 0;
    int live = 0;
    int users = 0;
    qint64 sent = 0;
    qint64 received = 0;
    qint64 lost = 0;
    qint64 duplicated = 0;
    qint64 reordered = 0;
    qint64 reconnects = 0;
};

class ProbeProcess
{
public:
    ProbeProcess();
    // Kills a probe still running.
    ~ProbeProcess();
    Q_DISABLE_COPY_MOVE(ProbeProcess)

    // Starts bfg-probe with `args` and --json; false, with the reason in
    // `error`, when it does not start.
    bool start(const QStringList &args, QString *error);
    bool isRunning() const { return m_process.state() != QProcess::NotRunning; }

    // Everything it printed so far, stdout and stderr.
    QByteArray output();
    // The last progress line so far.
    ProbeProgress progress();

    // SIGINT: stop publishing, wait for the last messages, report and exit.
    void interrupt();
    // Waits (running the event loop) until it exits and returns its summary
    // with "exit_code" added; empty when it wrote none or did not exit in
    // time (it is killed then).
    QJsonObject finish(int timeoutMs);
    void kill();

private:
    void readOutput();

    QProcess m_process;
    QTemporaryDir m_dir;
    QByteArray m_output;
    qsizetype m_scanned = 0; // output up to here has been parsed for progress lines
    ProbeProgress m_progress;
};

} // namespace bfg::test
