// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// The logging categories of every BFG component, declared once. Enable or
// silence them with QT_LOGGING_RULES or the `log_rules` config key, e.g.
// "bfg.push.debug=true".
//
// bfgd writes every log line in logfmt, one line per event:
//   ts=2026-11-24T13:58:00.123Z level=info cat=bfg.push event=listening node=n1 uri=wss://...
// An event logged with bfg::logEvent() carries its fields; any other line
// becomes msg="...". Under systemd (stderr connected to the journal) the
// timestamp gives way to a "<6>" priority prefix that journald reads as the
// line's level.
#pragma once

#include <initializer_list>
#include <utility>

#include <QLoggingCategory>
#include <QString>

Q_DECLARE_LOGGING_CATEGORY(lcMain)
Q_DECLARE_LOGGING_CATEGORY(lcDecision)
Q_DECLARE_LOGGING_CATEGORY(lcPush)
Q_DECLARE_LOGGING_CATEGORY(lcEventLoop)
Q_DECLARE_LOGGING_CATEGORY(lcBroker)
Q_DECLARE_LOGGING_CATEGORY(lcStore)
Q_DECLARE_LOGGING_CATEGORY(lcHttp)
Q_DECLARE_LOGGING_CATEGORY(lcClient)
Q_DECLARE_LOGGING_CATEGORY(lcProbe)
Q_DECLARE_LOGGING_CATEGORY(lcConsole)

namespace bfg {

// Sends Qt's log output to stderr as logfmt lines (see above).
void installLogfmtHandler();

// One value of a logfmt line: as is, or quoted (with \" \\ \n escapes)
// when empty or holding a space, '=', '"' or a control character.
QString logfmtValue(const QString &value);

// "event=<name> key=value ...": log it with qCInfo(lc).noquote() and friends.
QString logEvent(const char *name, std::initializer_list<std::pair<const char *, QString>> fields = {});

} // namespace bfg
