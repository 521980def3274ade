// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
#include "tests/support/postgresserver.h"

#include <QDeadlineTimer>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QHostAddress>
#include <QRegularExpression>
#include <QStandardPaths>
#include <QTcpServer>
#include <QVersionNumber>

#ifdef Q_OS_UNIX
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <sys/types.h>
#include <unistd.h>
#endif
#ifdef Q_OS_LINUX
#include <sys/prctl.h>
#include "tests/support/testhttp.h"
#endif

using namespace Qt::Literals::StringLiterals;

namespace bfg::test {

namespace {
constexpr int StartTimeoutMs = 30000;
constexpr int StopTimeoutMs = 15000;
constexpr int BindAttempts = 3;

QString logPath(const QTemporaryDir &dir)
{
    return dir.filePath(u"postgres.log"_s);
}

} // namespace

PostgresServer::PostgresServer() = default;

PostgresServer::~PostgresServer()
{
    stop();
}

QString PostgresServer::binDir()
{
    const QDir root(u"/usr/lib/postgresql"_s);
    QVersionNumber best;
    QString found;
    for (const QString &version : root.entryList(QDir::Dirs | QDir::NoDotAndDotDot)) {
        const QString bin = root.filePath(version + u"/bin"_s);
        const QVersionNumber number = QVersionNumber::fromString(version);
        if (QFileInfo(bin + u"/postgres"_s).isExecutable() && (found.isEmpty() || number > best)) {
            best = number;
            found = bin;
        }
    }
    if (!found.isEmpty())
        return found;
    const QString initdb = QStandardPaths::findExecutable(u"initdb"_s);
    return initdb.isEmpty() ? QString() : QFileInfo(initdb).absolutePath();
}

void PostgresServer::prepare(QProcess &process) const
{
    process.setWorkingDirectory(m_dir->path());
    // PG* variables of the caller's environment would point psql elsewhere.
    QProcessEnvironment environment = QProcessEnvironment::systemEnvironment();
    for (const QString &key : environment.keys()) {
        if (key.startsWith(u"PG"_s))
            environment.remove(key);
    }
    environment.insert(u"LC_ALL"_s, u"C"_s);
    process.setProcessEnvironment(environment);
#ifdef Q_OS_UNIX
    // In the child, between fork and exec: async-signal-safe calls only.
    // Dropping privileges here rather than through runuser keeps the
    // QProcess's pid the postgres pid, so that SIGINT reaches it.
    const int uid = m_uid;
    const int gid = m_gid;
    process.setChildProcessModifier([uid, gid] {
        if (uid >= 0 &&
            (::setgroups(0, nullptr) != 0 || ::setgid(gid_t(gid)) != 0 || ::setuid(uid_t(uid)) != 0))
            ::_exit(127);
#ifdef Q_OS_LINUX
        // A test killed by its timeout takes its server along (fast shutdown).
        // Set after setuid, which clears it.
        ::prctl(PR_SET_PDEATHSIG, SIGINT);
#endif
    });
#endif
}

bool PostgresServer::runTool(const QString &tool, const QStringList &args, int timeoutMs, QByteArray *output,
                             QString *error)
{
    QProcess process;
    prepare(process);
    process.setProcessChannelMode(QProcess::MergedChannels);
    const QString program = QDir(m_binDir).filePath(tool);
    process.start(program, args);
    const bool finished = process.waitForFinished(timeoutMs);
    *output = process.readAll();
    if (!finished) {
        process.kill();
        process.waitForFinished();
    }
    if (!finished || process.exitStatus() != QProcess::NormalExit || process.exitCode() != 0) {
        *error = u"%1 %2 failed (%3): %4"_s.arg(program, args.join(u' '),
                                                finished ? u"exit code %1"_s.arg(process.exitCode())
                                                         : u"timed out or did not start"_s,
                                                QString::fromLocal8Bit(*output).trimmed());
        return false;
    }
    return true;
}

bool PostgresServer::start(QString *error)
{
    if (isRunning())
        return true;
    m_binDir = binDir();
    if (m_binDir.isEmpty() || !QFileInfo(QDir(m_binDir).filePath(u"initdb"_s)).isExecutable()) {
        *error = u"PostgreSQL server binaries (initdb, postgres) not found in /usr/lib/postgresql/*/bin"
                 " nor on PATH; scripts/setup installs them (Debian: apt-get install postgresql)"_s;
        return false;
    }
    // /tmp rather than $TMPDIR: the postgres user must be able to reach it,
    // and the Unix socket's path must stay short.
#ifdef Q_OS_UNIX
    m_dir = std::make_unique<QTemporaryDir>(u"/tmp/bfg-pg-XXXXXX"_s);
#else
    m_dir = std::make_unique<QTemporaryDir>(QDir::tempPath() + u"/bfg-pg-XXXXXX"_s);
#endif
    if (!m_dir->isValid()) {
        *error = u"cannot create a temporary directory: "_s + m_dir->errorString();
        return false;
    }
#ifdef Q_OS_UNIX
    m_uid = m_gid = -1;
    if (::geteuid() == 0) {
        const passwd *user = ::getpwnam("postgres");
        if (!user) {
            *error = u"running as root, and there is no `postgres` user to run PostgreSQL as"_s;
            return false;
        }
        m_uid = int(user->pw_uid);
        m_gid = int(user->pw_gid);
        if (::chown(QFile::encodeName(m_dir->path()).constData(), user->pw_uid, user->pw_gid) != 0) {
            *error = u"cannot hand %1 to the postgres user"_s.arg(m_dir->path());
            return false;
        }
    }
#endif
    QByteArray output;
    if (!runTool(u"initdb"_s,
                 {u"-D"_s, m_dir->filePath(u"data"_s), u"-A"_s, u"trust"_s, u"-U"_s, u"postgres"_s,
                  u"--no-sync"_s, u"-E"_s, u"UTF8"_s, u"--locale=C"_s},
                 60000, &output, error))
        return false;
    // The free port is only free until someone else takes it: try again on
    // another one if postgres cannot bind it.
    for (int attempt = 1;; ++attempt) {
        if (startServer(error))
            return true;
        if (attempt == BindAttempts || !log().contains("could not bind"))
            return false;
    }
}

bool PostgresServer::startServer(QString *error)
{
    m_port = freeLoopbackPort();
    if (m_port == 0) {
        *error = u"no free loopback port for PostgreSQL"_s;
        return false;
    }
    // The log goes to a file rather than a pipe, which nobody would drain
    // while a test runs without an event loop.
    QFile::remove(logPath(*m_dir));
    prepare(m_process);
    m_process.setStandardOutputFile(logPath(*m_dir), QIODevice::Append);
    m_process.setStandardErrorFile(logPath(*m_dir), QIODevice::Append);
    const QString program = QDir(m_binDir).filePath(u"postgres"_s);
    m_process.start(program,
                    {u"-D"_s, m_dir->filePath(u"data"_s), u"-p"_s, QString::number(m_port), u"-k"_s,
                     m_dir->path(), u"-c"_s, u"listen_addresses=127.0.0.1"_s, u"-c"_s, u"fsync=off"_s});
    if (!m_process.waitForStarted(5000)) {
        *error = u"%1 did not start: %2"_s.arg(program, m_process.errorString());
        return false;
    }
    // Bounded poll: the log says when the server accepts connections, and
    // waitForFinished returns at once if postgres gives up instead.
    const QDeadlineTimer deadline(StartTimeoutMs);
    while (!deadline.hasExpired()) {
        if (m_process.waitForFinished(50)) {
            *error = u"postgres exited (code %1) before accepting connections: %2"_s.arg(m_process.exitCode())
                         .arg(QString::fromLocal8Bit(log()).trimmed());
            return false;
        }
        if (!log().contains("ready to accept connections"))
            continue;
        QByteArray output;
        QString readyError;
        if (runTool(u"pg_isready"_s,
                    {u"-h"_s, u"127.0.0.1"_s, u"-p"_s, QString::number(m_port), u"-U"_s, u"postgres"_s},
                    10000, &output, &readyError))
            return true;
    }
    *error = u"postgres did not accept connections on 127.0.0.1:%1 within %2 ms: %3"_s.arg(m_port)
                 .arg(StartTimeoutMs)
                 .arg(QString::fromLocal8Bit(log()).trimmed());
    stop();
    return false;
}

void PostgresServer::stop()
{
    if (m_process.state() == QProcess::NotRunning)
        return;
#ifdef Q_OS_UNIX
    // SIGINT is PostgreSQL's fast shutdown: roll back, disconnect, exit.
    ::kill(pid_t(m_process.processId()), SIGINT);
#else
    m_process.terminate();
#endif
    if (!m_process.waitForFinished(StopTimeoutMs)) {
        m_process.kill();
        m_process.waitForFinished(StopTimeoutMs);
    }
}

bool PostgresServer::createDatabase(const QString &name, QString *error)
{
    static const QRegularExpression identifier(u"^[a-z_][a-z0-9_]*$"_s);
    if (!identifier.match(name).hasMatch()) {
        *error = u"not a plain database name: "_s + name;
        return false;
    }
    QByteArray output;
    return runTool(u"psql"_s,
                   {u"-X"_s, u"-q"_s, u"-v"_s, u"ON_ERROR_STOP=1"_s, u"-h"_s, u"127.0.0.1"_s, u"-p"_s,
                    QString::number(m_port), u"-U"_s, u"postgres"_s, u"-d"_s, u"postgres"_s, u"-c"_s,
                    u"CREATE DATABASE "_s + name},
                   30000, &output, error);
}

QString PostgresServer::url(const QString &database) const
{
    return u"postgresql://postgres@127.0.0.1:%1/%2"_s.arg(m_port).arg(database);
}

QByteArray PostgresServer::log() const
{
    if (!m_dir)
        return {};
    QFile file(logPath(*m_dir));
    return file.open(QIODevice::ReadOnly) ? file.readAll() : QByteArray();
}

} // namespace bfg::test
