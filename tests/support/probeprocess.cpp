// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
#include "tests/support/probeprocess.h"

#include <csignal>

#include <QFile>
#include <QJsonDocument>
#include <QRegularExpression>
#include <QTest>

#include "tests/support/bfgdprocess.h"

using namespace Qt::Literals::StringLiterals;

namespace bfg::test {

namespace {
constexpr int StartMs = 5000;
constexpr int KillMs = 5000;

QString jsonName()
{
    return u"probe.json"_s;
}
} // namespace

ProbeProcess::ProbeProcess()
{
    m_process.setProcessChannelMode(QProcess::MergedChannels);
}

ProbeProcess::~ProbeProcess()
{
    kill();
}

bool ProbeProcess::start(const QStringList &args, QString *error)
{
    if (isRunning()) {
        *error = u"the probe is already running"_s;
        return false;
    }
    QFile::remove(m_dir.filePath(jsonName()));
    m_output.clear();
    m_scanned = 0;
    m_progress = {};
    m_process.start(probePath(), QStringList(args) << u"--json"_s << m_dir.filePath(jsonName()));
    if (!m_process.waitForStarted(StartMs)) {
        *error = u"bfg-probe did not start: "_s + m_process.errorString();
        return false;
    }
    return true;
}

void ProbeProcess::readOutput()
{
    m_output += m_process.readAll();
    static const QRegularExpression field(u"(\\w+)=(\\d+)(?:/(\\d+))?"_s);
    qsizetype end;
    while ((end = m_output.indexOf('\n', m_scanned)) >= 0) {
        const QString line = QString::fromUtf8(m_output.mid(m_scanned, end - m_scanned));
        m_scanned = end + 1;
        if (!line.startsWith(u"t="_s) || !line.contains(u" live "_s))
            continue;
        ProbeProgress progress;
        progress.valid = true;
        for (auto it = field.globalMatch(line); it.hasNext();) {
            const QRegularExpressionMatch match = it.next();
            const QString key = match.captured(1);
            const qint64 value = match.captured(2).toLongLong();
            if (key == u"t"_s) {
                progress.seconds = value;
            } else if (key == u"users"_s) {
                progress.live = int(value);
                progress.users = match.captured(3).toInt();
            } else if (key == u"sent"_s) {
                progress.sent = value;
            } else if (key == u"recv"_s) {
                progress.received = value;
            } else if (key == u"lost"_s) {
                progress.lost = value;
            } else if (key == u"dup"_s) {
                progress.duplicated = value;
            } else if (key == u"reord"_s) {
                progress.reordered = value;
            } else if (key == u"reconnects"_s) {
                progress.reconnects = value;
            }
        }
        m_progress = progress;
    }
}

QByteArray ProbeProcess::output()
{
    readOutput();
    return m_output;
}

ProbeProgress ProbeProcess::progress()
{
    readOutput();
    return m_progress;
}

void ProbeProcess::interrupt()
{
    if (m_process.state() == QProcess::Running)
        ::kill(pid_t(m_process.processId()), SIGINT);
}

QJsonObject ProbeProcess::finish(int timeoutMs)
{
    if (!QTest::qWaitFor([this] { return m_process.state() == QProcess::NotRunning; }, timeoutMs)) {
        kill();
        return {};
    }
    readOutput();
    QFile json(m_dir.filePath(jsonName()));
    if (!json.open(QIODevice::ReadOnly))
        return {};
    QJsonObject summary = QJsonDocument::fromJson(json.readAll()).object();
    if (!summary.isEmpty())
        summary.insert(u"exit_code"_s,
                       m_process.exitStatus() == QProcess::NormalExit ? m_process.exitCode() : -1);
    return summary;
}

void ProbeProcess::kill()
{
    if (m_process.state() == QProcess::NotRunning)
        return;
    m_process.kill();
    m_process.waitForFinished(KillMs);
    readOutput();
}

} // namespace bfg::test
