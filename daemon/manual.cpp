// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
#include "daemon/manual.h"

using namespace Qt::Literals::StringLiterals;

namespace bfg {

namespace {

constexpr int Width = 79;

// Builds the text section by section: paragraphs wrapped to the width,
// tagged paragraphs with a hanging indent, literal lines as they are.
class Page
{
public:
    void heading(const QString &name) { m_text += (m_text.isEmpty() ? QString() : u"\n"_s) + name + u'\n'; }

    void paragraph(const QString &text, int indent = 4)
    {
        m_text += wrap(text, indent, indent);
        m_text += u'\n';
    }
    void blank() { m_text += u'\n'; }

    // `tag` at 4 columns, the text from `column` on: on the same line when
    // the tag leaves room, else on the next.
    void tagged(const QString &tag, const QString &text, int column)
    {
        const QString start = QString(4, u' ') + tag;
        if (start.size() + 2 <= column) {
            const QString body = wrap(text, column, column);
            m_text += start + body.mid(start.size()) + u'\n';
        } else {
            m_text += start + u'\n' + wrap(text, column, column) + u'\n';
        }
    }

    void literal(const QString &line, int indent = 8) { m_text += QString(indent, u' ') + line + u'\n'; }

    QString text() const { return m_text; }

private:
    static QString wrap(const QString &text, int firstIndent, int indent)
    {
        QString out = QString(firstIndent, u' ');
        int column = firstIndent;
        bool lineEmpty = true;
        for (const QString &word : text.split(u' ', Qt::SkipEmptyParts)) {
            if (!lineEmpty && column + 1 + word.size() > Width) {
                out += u'\n' + QString(indent, u' ');
                column = indent;
                lineEmpty = true;
            }
            if (!lineEmpty) {
                out += u' ';
                ++column;
            }
            out += word;
            column += int(word.size());
            lineEmpty = false;
        }
        return out;
    }

    QString m_text;
};

QString optionTag(const QCommandLineOption &option)
{
    QStringList names;
    for (const QString &name : option.names())
        names.append((name.size() == 1 ? u"-"_s : u"--"_s) + name);
    QString tag = names.join(u", "_s);
    if (!option.valueName().isEmpty())
        tag += u' ' + option.valueName().toUpper();
    return tag;
}

} // namespace

QString daemonManual(const QList<QCommandLineOption> &options, const QStringList &defaults)
{
    Page page;
    page.heading(u"NAME"_s);
    page.paragraph(u"bfgd - the BFG push-messaging daemon: decision and push roles"_s);

    page.heading(u"SYNOPSIS"_s);
    page.literal(u"bfgd [--config FILE] [--role ROLES] [OPTION]..."_s, 4);
    page.literal(u"bfgd [--config FILE] [OPTION]... --print-config"_s, 4);
    page.literal(u"bfgd [--config FILE] --issue-token publish --token-streams STREAMS"_s, 4);
    page.literal(u"     [--token-subject NAME] [--token-days DAYS]"_s, 4);
#ifdef Q_OS_WIN
    page.literal(u"bfgd --install-service [--config FILE]"_s, 4);
    page.literal(u"bfgd --uninstall-service"_s, 4);
#endif
    page.literal(u"bfgd --help | --version"_s, 4);

    page.heading(u"DESCRIPTION"_s);
    page.paragraph(
        u"bfgd delivers the messages backends publish to users connected over WebSocket: in order, "
        "exactly once, within milliseconds, across drains, crashes and reconnects. It has two roles, "
        "run in one process (the default) or each in its own processes on their own hosts:"_s);
    page.blank();
    page.tagged(u"decision"_s,
                u"Tells each client which push node to use (GET /v1/assign), admitting it only under the "
                "operator's allowed load, and signs a short-lived connect token for it. Takes the push "
                "nodes' load reports and serves the admin API (cluster view, allowed load, capacity, drain, "
                "audit log) that bfg-console uses. Its store is SQLite, or PostgreSQL shared by several "
                "decision servers."_s,
                16);
    page.tagged(
        u"push"_s,
        u"Holds the clients' WebSocket connections (/v1/ws), delivers every message with its sequence "
        "number, replays what a resuming client missed, reports its load every second and serves "
        "the publish API (POST /v1/publish). Its broker is in-process (history in SQLite) or Redis, "
        "for a cluster of push nodes."_s,
        16);
    page.blank();
    page.paragraph(u"bfgd stays in the foreground and logs to stderr; run it under systemd (the bfgd "
                   "package's unit) or as a Windows service. Once every listener is up it prints one line on "
                   "stdout, for scripts to wait for (a port given as 0 is picked free and shown here):"_s);
    page.literal(u"bfgd: ready decision=URL push=URL publish=URL node=ID"_s);

    page.heading(u"OPTIONS"_s);
    for (const QCommandLineOption &option : options) {
        if (option.flags() & QCommandLineOption::HiddenFromHelp)
            continue;
        page.tagged(optionTag(option), option.description(), 8);
    }

    page.heading(u"CONFIGURATION"_s);
    page.paragraph(
        u"Settings are read from the INI file given with --config, then from the flags above, then "
        "from each --set section/key=value; the last one wins. An unknown key or a bad value stops "
        "bfgd at start with a message naming the key. Relative paths are relative to "
        "general/data_dir. --print-config prints the effective value of every key."_s);
    page.blank();
    page.paragraph(
        u"The packages install /etc/bfg/bfgd.conf, which lists every key with its default and what "
        "it does, commented out; README.md (\"Configuration reference\") explains them at length. "
        "The keys and their built-in defaults:"_s);
    QString section;
    for (const QString &line : defaults) {
        const qsizetype slash = line.indexOf(u'/');
        if (slash <= 0)
            continue;
        if (line.left(slash) != section) {
            section = line.left(slash);
            page.literal(u'[' + section + u']', 4);
        }
        page.literal(line.mid(slash + 1).trimmed());
    }

    page.heading(u"SIGNALS"_s);
    page.tagged(u"SIGTERM, SIGINT"_s,
                u"Stop gracefully. The push role drains first: no new clients, the connected ones asked to "
                "reconnect elsewhere (push/drain_rate a second), for at most push/drain_timeout_ms (default "
                "30 s); what is left is closed with 3000 NODE_SHUTDOWN, a retry code, and the clients resume "
                "elsewhere or after the restart. Everything acknowledged is already stored. A second signal "
                "stops at once."_s,
                21);
    page.tagged(u"SIGHUP"_s,
                u"Reload the configuration: reread the --config file and apply what can change without a "
                "restart (README.md says which settings those are)."_s,
                21);
#ifdef Q_OS_WIN
    page.tagged(
        u"Windows"_s,
        u"As a service, the Service Control Manager's Stop (sc stop bfgd) and system shutdown take the "
        "SIGTERM path above."_s,
        21);
#endif

    page.heading(u"EXIT STATUS"_s);
    page.tagged(u"0"_s,
                u"Stopped after a signal; or --help, --version, --print-config or --issue-token done."_s, 8);
    page.tagged(u"1"_s,
                u"A role could not start: an address in use, a store, PostgreSQL or Redis that cannot be "
                "opened."_s,
                8);
    page.tagged(u"2"_s,
                u"Bad usage or configuration: an unknown flag or key, a bad value, a missing or unreadable "
                "secret file."_s,
                8);

    page.heading(u"FILES"_s);
    page.tagged(u"/etc/bfg/bfgd.conf"_s,
                u"The configuration of the packaged service: every key with its default, commented."_s, 28);
    page.tagged(u"DATA_DIR/decision.db"_s,
                u"The decision store (nodes, settings, audit log, admin keys), unless decision/store names a "
                "PostgreSQL database."_s,
                28);
    page.tagged(u"DATA_DIR/history.db"_s, u"The local broker's streams and recent messages (SQLite, WAL)."_s,
                28);
    page.tagged(u"DATA_DIR/secret"_s,
                u"The token secret, made at the first start when general/secret and secret_file are empty "
                "(mode 0600). Keep it: tokens and resuming clients depend on it."_s,
                28);
    page.tagged(u"DATA_DIR/admin-key"_s,
                u"The operator key of the admin API, made when decision/admin_keys is empty (mode 0600)."_s,
                28);
    page.paragraph(
        u"DATA_DIR is general/data_dir (--data-dir); the packaged systemd unit gives /var/lib/bfg."_s);

    page.heading(u"ENVIRONMENT"_s);
    page.tagged(
        u"QT_LOGGING_RULES"_s,
        u"Qt logging rules, as general/log_rules, e.g. bfg.push.debug=true. The categories: bfg.main, "
        "bfg.decision, bfg.push, bfg.broker, bfg.store, bfg.http."_s,
        24);
    page.tagged(u"HOME, XDG_DATA_HOME"_s, u"Where the default data_dir is."_s, 24);

    page.heading(u"EXAMPLES"_s);
    page.paragraph(u"Both roles in one process, on loopback, data in /tmp/bfg:"_s);
    page.literal(u"bfgd --data-dir /tmp/bfg"_s);
    page.blank();
    page.paragraph(u"A decision server and a push node on two hosts sharing one secret:"_s);
    page.literal(u"bfgd --role decision --set general/secret_file=/etc/bfg/secret \\"_s);
    page.literal(u"     --decision-listen 0.0.0.0:8080"_s);
    page.literal(u"bfgd --role push --set general/secret_file=/etc/bfg/secret \\"_s);
    page.literal(u"     --decision-url http://d1:8080 --push-listen 0.0.0.0:8081 \\"_s);
    page.literal(u"     --publish-listen 0.0.0.0:8082 \\"_s);
    page.literal(u"     --set push/public_uri=ws://p1:8081/v1/ws"_s);
    page.blank();
    page.paragraph(u"A backend's token for publishing to every user's personal stream, for a year:"_s);
    page.literal(u"bfgd --config /etc/bfg/bfgd.conf --issue-token publish \\"_s);
    page.literal(u"     --token-subject crm --token-streams 'user:*' --token-days 365"_s);
    page.blank();
    page.paragraph(u"What a configuration file and flags add up to:"_s);
    page.literal(u"bfgd --config /etc/bfg/bfgd.conf --set push/workers=4 --print-config"_s);
#ifdef Q_OS_WIN
    page.blank();
    page.paragraph(u"As a Windows service (from an elevated prompt):"_s);
    page.literal(u"bfgd --install-service --config C:\\ProgramData\\BFG\\bfgd.conf"_s);
    page.literal(u"sc start bfgd"_s);
#endif

    page.heading(u"SEE ALSO"_s);
    page.paragraph(u"bfg-console --help, bfg-probe --help; README.md (in /usr/share/doc/bfgd/ when "
                   "installed from the package): the operator's guide, the HTTP API, the configuration "
                   "reference."_s);
    return page.text();
}

} // namespace bfg
