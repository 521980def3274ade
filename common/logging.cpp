// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
#include "common/logging.h"

#include <algorithm>
#include <cstdio>

#include <QByteArray>
#include <QDateTime>

#ifdef Q_OS_UNIX
#include <sys/stat.h>
#include <unistd.h>
#endif

using namespace Qt::Literals::StringLiterals;

Q_LOGGING_CATEGORY(lcMain, "bfg.main", QtInfoMsg)
Q_LOGGING_CATEGORY(lcDecision, "bfg.decision", QtInfoMsg)
Q_LOGGING_CATEGORY(lcPush, "bfg.push", QtInfoMsg)
Q_LOGGING_CATEGORY(lcEventLoop, "bfg.eventloop", QtInfoMsg)
Q_LOGGING_CATEGORY(lcBroker, "bfg.broker", QtInfoMsg)
Q_LOGGING_CATEGORY(lcStore, "bfg.store", QtInfoMsg)
Q_LOGGING_CATEGORY(lcHttp, "bfg.http", QtInfoMsg)
Q_LOGGING_CATEGORY(lcClient, "bfg.client", QtInfoMsg)
Q_LOGGING_CATEGORY(lcProbe, "bfg.probe", QtInfoMsg)
Q_LOGGING_CATEGORY(lcConsole, "bfg.console", QtInfoMsg)

namespace bfg {

namespace {
// stderr is the journal's stream (systemd sets JOURNAL_STREAM to its "device:inode").
bool stderrIsJournal()
{
#ifdef Q_OS_UNIX
    const QByteArray stream = qgetenv("JOURNAL_STREAM");
    struct stat info;
    if (stream.isEmpty() || fstat(STDERR_FILENO, &info) != 0)
        return false;
    return stream ==
           QByteArray::number(quint64(info.st_dev)) + ':' + QByteArray::number(quint64(info.st_ino));
#else
    return false;
#endif
}

const bool ToJournal = stderrIsJournal();

void logfmtHandler(QtMsgType type, const QMessageLogContext &context, const QString &message)
{
    const char *level = "info";
    const char *priority = "<6>"; // sd-daemon.h's SD_INFO, and so on
    switch (type) {
    case QtDebugMsg:
        level = "debug";
        priority = "<7>";
        break;
    case QtInfoMsg:
        break;
    case QtWarningMsg:
        level = "warning";
        priority = "<4>";
        break;
    case QtCriticalMsg:
        level = "error";
        priority = "<3>";
        break;
    case QtFatalMsg:
        level = "fatal";
        priority = "<2>";
        break;
    }
    QString line;
    if (!ToJournal)
        line = u"ts="_s + QDateTime::currentDateTimeUtc().toString(Qt::ISODateWithMs) + u' ';
    line += u"level="_s + QLatin1StringView(level);
    if (context.category && qstrcmp(context.category, "default") != 0)
        line += u" cat="_s + QLatin1StringView(context.category);
    if (message.startsWith(u"event="_s))
        line += u' ' + message;
    else
        line += u" msg="_s + logfmtValue(message);
    const QByteArray bytes = (ToJournal ? QByteArray(priority) : QByteArray()) + line.toUtf8() + '\n';
    std::fwrite(bytes.constData(), 1, size_t(bytes.size()), stderr);
    std::fflush(stderr);
}
} // namespace

void installLogfmtHandler()
{
    qInstallMessageHandler(logfmtHandler);
}

QString logfmtValue(const QString &value)
{
    const bool plain = !value.isEmpty() && std::none_of(value.cbegin(), value.cend(), [](QChar c) {
        return c == u' ' || c == u'=' || c == u'"' || c == u'\\' || c.unicode() < 0x20;
    });
    if (plain)
        return value;
    QString quoted = u"\""_s;
    for (const QChar c : value) {
        if (c == u'"' || c == u'\\')
            quoted += u'\\' + QString(c);
        else if (c == u'\n')
            quoted += u"\\n"_s;
        else if (c.unicode() < 0x20)
            quoted += u' ';
        else
            quoted += c;
    }
    return quoted + u'"';
}

QString logEvent(const char *name, std::initializer_list<std::pair<const char *, QString>> fields)
{
    QString line = u"event="_s + QLatin1StringView(name);
    for (const auto &[key, value] : fields)
        line += u' ' + QLatin1StringView(key) + u'=' + logfmtValue(value);
    return line;
}

} // namespace bfg
