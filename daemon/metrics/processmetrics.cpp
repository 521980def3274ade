// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
#include "daemon/metrics/processmetrics.h"

#include <QtGlobal>
#ifdef Q_OS_LINUX
#include <sys/resource.h>
#include <unistd.h>
#endif

#include <QDir>
#include <QFile>

#include "daemon/metrics/metricswriter.h"

namespace bfg {

namespace {
#ifdef Q_OS_LINUX
QByteArray readProcFile(const char *path)
{
    // /proc files report a size of 0: read until the end instead.
    QFile file(QString::fromLatin1(path));
    return file.open(QIODevice::ReadOnly) ? file.readAll() : QByteArray();
}

// The fields of /proc/self/stat after the command name (which may hold
// spaces and parentheses): the first of them is field 3, the state.
QList<QByteArray> statFields()
{
    const QByteArray stat = readProcFile("/proc/self/stat");
    const qsizetype close = stat.lastIndexOf(')');
    if (close < 0)
        return {};
    return stat.mid(close + 2).simplified().split(' ');
}

double bootTimeSeconds()
{
    const QByteArray stat = readProcFile("/proc/stat");
    for (const QByteArray &line : stat.split('\n')) {
        if (line.startsWith("btime "))
            return line.mid(6).trimmed().toDouble();
    }
    return 0;
}
#endif
} // namespace

void ProcessMetrics::write(MetricsWriter &writer)
{
#ifdef Q_OS_LINUX
    const QList<QByteArray> fields = statFields();
    const double ticks = double(::sysconf(_SC_CLK_TCK));
    const double pageSize = double(::sysconf(_SC_PAGESIZE));
    // Field n of stat(5) is fields[n - 3].
    auto field = [&fields](int n) { return n - 3 < fields.size() ? fields[n - 3].toDouble() : 0.0; };
    if (fields.size() >= 22 && ticks > 0) {
        writer.family("process_cpu_seconds_total", MetricsWriter::Type::Counter,
                      "Total user and system CPU time spent in seconds.");
        writer.sample((field(14) + field(15)) / ticks);
        writer.gauge("process_virtual_memory_bytes", "Virtual memory size in bytes.", field(23));
        writer.gauge("process_resident_memory_bytes", "Resident memory size in bytes.", field(24) * pageSize);
        const double boot = bootTimeSeconds();
        if (boot > 0)
            writer.gauge("process_start_time_seconds",
                         "Start time of the process since the Unix epoch, in seconds.",
                         boot + field(22) / ticks);
    }
    const qsizetype openFds = QDir(QStringLiteral("/proc/self/fd"))
                                  .entryList(QDir::AllEntries | QDir::System | QDir::NoDotAndDotDot)
                                  .size();
    writer.gauge("process_open_fds", "Number of open file descriptors.", double(openFds));
    rlimit limit = {};
    if (::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY)
        writer.gauge("process_max_fds", "Maximum number of open file descriptors.", double(limit.rlim_cur));
#endif
    writer.family("bfg_build_info", MetricsWriter::Type::Gauge,
                  "Always 1; the version of bfgd in the label.");
    writer.sample(1.0, {{QByteArrayLiteral("version"), QByteArrayLiteral(BFG_VERSION)}});
}

} // namespace bfg
