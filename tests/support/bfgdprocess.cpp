// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
#include "tests/support/bfgdprocess.h"

#include <csignal>

#include <QDeadlineTimer>
#include <QFile>
#include <QJsonDocument>
#include <QJsonObject>
#include <QRandomGenerator>
#include <QRegularExpression>
#include <QTest>

using namespace Qt::Literals::StringLiterals;

namespace bfg::test {

QString bfgdPath()
{
    return QStringLiteral(BFGD_PATH);
}

QString probePath()
{
    return QStringLiteral(BFG_PROBE_PATH);
}

QString randomSecret()
{
    QByteArray bytes(16, Qt::Uninitialized);
    QRandomGenerator::system()->fillRange(reinterpret_cast<quint32 *>(bytes.data()), bytes.size() / 4);
    return QString::fromLatin1(bytes.toHex());
}

BfgdProcess::BfgdProcess(QStringList extraArgs)
    : m_extraArgs(std::move(extraArgs))
{
    m_process.setProcessChannelMode(QProcess::MergedChannels);
}

BfgdProcess::~BfgdProcess()
{
    if (isRunning())
        kill();
}

bool BfgdProcess::start(QString *error)
{
    const bool first = m_decision.isEmpty();
    auto endpoint = [first](const QUrl &url) {
        return first ? u"127.0.0.1:0"_s : u"127.0.0.1:%1"_s.arg(url.port());
    };
    QStringList args{u"--data-dir"_s,    m_dataDir.path(), u"--decision-listen"_s, endpoint(m_decision),
                     u"--push-listen"_s, endpoint(m_push), u"--publish-listen"_s,  endpoint(m_publish)};
    if (!first)
        args << u"--node-id"_s << m_nodeId;
    args += m_extraArgs;
    m_output.clear();
    m_process.start(bfgdPath(), args);
    if (!m_process.waitForStarted(5000)) {
        *error = u"bfgd did not start: "_s + m_process.errorString();
        return false;
    }
    static const QRegularExpression ready(u"bfgd: ready (.*)"_s);
    QDeadlineTimer deadline(15000);
    while (!deadline.hasExpired()) {
        if (!m_process.waitForReadyRead(int(std::max<qint64>(1, deadline.remainingTime())))) {
            if (m_process.state() != QProcess::Running)
                break;
            continue;
        }
        m_output += m_process.readAll();
        const auto match = ready.match(QString::fromUtf8(m_output));
        if (!match.hasMatch() || !m_output.contains('\n'))
            continue;
        for (const QString &field : match.captured(1).split(u' ', Qt::SkipEmptyParts)) {
            const QString key = field.section(u'=', 0, 0);
            const QString value = field.section(u'=', 1);
            if (key == u"decision"_s)
                m_decision = QUrl(value);
            else if (key == u"push"_s)
                m_push = QUrl(value);
            else if (key == u"publish"_s)
                m_publish = QUrl(value);
            else if (key == u"node"_s)
                m_nodeId = value;
        }
        return true;
    }
    m_output += m_process.readAll();
    *error = u"bfgd did not become ready:\n"_s + QString::fromUtf8(m_output);
    return false;
}

QByteArray BfgdProcess::adminKey() const
{
    QFile file(m_dataDir.filePath(u"admin-key"_s));
    return file.open(QIODevice::ReadOnly) ? file.readAll().trimmed() : QByteArray();
}

int BfgdProcess::stop()
{
    if (!isRunning())
        return m_process.exitCode();
    m_process.terminate();
    if (!m_process.waitForFinished(15000)) {
        m_process.kill();
        m_process.waitForFinished(5000);
        return -1;
    }
    m_output += m_process.readAll();
    return m_process.exitStatus() == QProcess::NormalExit ? m_process.exitCode() : -1;
}

void BfgdProcess::kill()
{
    m_process.kill();
    m_process.waitForFinished(5000);
}

void BfgdProcess::setEnvironment(const QProcessEnvironment &environment)
{
    m_process.setProcessEnvironment(environment);
}

bool BfgdProcess::sendSignal(int signal)
{
    return isRunning() && ::kill(pid_t(m_process.processId()), signal) == 0;
}

QByteArray BfgdProcess::readOutput()
{
    m_output += m_process.readAll();
    return m_output;
}

bool BfgdProcess::waitForOutput(const QByteArray &text, int timeoutMs)
{
    return QTest::qWaitFor([&] { return readOutput().contains(text); }, timeoutMs);
}

int BfgdProcess::waitForExit(int timeoutMs)
{
    if (!QTest::qWaitFor([&] { return !isRunning(); }, timeoutMs))
        return -1;
    readOutput();
    return m_process.exitStatus() == QProcess::NormalExit ? m_process.exitCode() : -1;
}

ProbeRun runProbe(const QStringList &args, int timeoutMs)
{
    ProbeRun run;
    QTemporaryDir dir;
    const QString jsonPath = dir.filePath(u"probe.json"_s);
    QProcess probe;
    probe.start(probePath(), QStringList(args) << u"--json"_s << jsonPath << u"--quiet"_s);
    if (!probe.waitForFinished(timeoutMs)) {
        probe.kill();
        probe.waitForFinished(5000);
        run.stderrText = probe.readAllStandardError() + "\n(probe killed after timeout)";
        return run;
    }
    run.exitCode = probe.exitStatus() == QProcess::NormalExit ? probe.exitCode() : -1;
    run.stdoutText = probe.readAllStandardOutput();
    run.stderrText = probe.readAllStandardError();
    QFile json(jsonPath);
    if (json.open(QIODevice::ReadOnly))
        run.summary = QJsonDocument::fromJson(json.readAll()).object();
    return run;
}

} // namespace bfg::test
