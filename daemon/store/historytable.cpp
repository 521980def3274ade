// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
#include "daemon/store/historytable.h"

#include <algorithm>
#include <limits>

#include <sqlite3.h>

#include <QSqlDatabase>
#include <QSqlDriver>
#include <QSqlError>
#include <QSqlQuery>

#include "common/logging.h"

using namespace Qt::Literals::StringLiterals;

namespace bfg {

namespace {
// Binds a QString as UTF-16 without a copy: it outlives the statement's step.
int bindText(sqlite3_stmt *statement, int index, const QString &text)
{
    return sqlite3_bind_text16(statement, index, text.utf16(), int(text.size() * 2), SQLITE_STATIC);
}
} // namespace

void HistoryTable::StatementDeleter::operator()(sqlite3_stmt *statement) const
{
    sqlite3_finalize(statement);
}

HistoryTable::HistoryTable(QSqlDatabase &db)
    : m_db(db)
{
    // The QSQLITE driver hands out its sqlite3 connection; the history store
    // is always SQLite (Database::Schema::History).
    const QVariant handle = db.driver()->handle();
    if (handle.isValid() && qstrcmp(handle.typeName(), "sqlite3*") == 0)
        m_handle = *static_cast<sqlite3 *const *>(handle.constData());
    if (!m_handle) {
        qCCritical(lcStore) << "the history store is not an SQLite database";
        return;
    }
    m_insertMessage = prepare(
        "INSERT INTO messages (stream, seq, message_id, publish_time_us, payload) VALUES (?, ?, ?, ?, ?)");
    m_upsertStream = prepare("INSERT INTO streams (stream, epoch, last_seq, updated_us) VALUES (?, ?, ?, ?)"
                             " ON CONFLICT (stream) DO UPDATE SET epoch = excluded.epoch,"
                             " last_seq = excluded.last_seq, updated_us = excluded.updated_us");
    m_deleteThrough = prepare("DELETE FROM messages WHERE rowid <= ?");
}

HistoryTable::~HistoryTable() = default;

HistoryTable::Statement HistoryTable::prepare(const char *sql)
{
    sqlite3_stmt *statement = nullptr;
    if (sqlite3_prepare_v3(m_handle, sql, -1, SQLITE_PREPARE_PERSISTENT, &statement, nullptr) != SQLITE_OK)
        qCCritical(lcStore).noquote() << "cannot prepare" << sql << "-" << lastError();
    return Statement(statement);
}

bool HistoryTable::exec(const char *sql, QString *error)
{
    if (sqlite3_exec(m_handle, sql, nullptr, nullptr, nullptr) == SQLITE_OK)
        return true;
    *error = lastError();
    return false;
}

QString HistoryTable::lastError() const
{
    return QString::fromUtf8(sqlite3_errmsg(m_handle));
}

bool HistoryTable::append(const std::vector<HistoryRow> &messages, const std::vector<StreamRow> &streams,
                          QString *error)
{
    if (!m_insertMessage || !m_upsertStream) {
        *error = u"the history store is not usable"_s;
        return false;
    }
    if (!exec("BEGIN", error))
        return false;
    auto step = [this, error](sqlite3_stmt *statement) {
        const int result = sqlite3_step(statement);
        sqlite3_reset(statement);
        sqlite3_clear_bindings(statement);
        if (result == SQLITE_DONE)
            return true;
        *error = lastError();
        return false;
    };
    bool ok = true;
    for (auto row = messages.cbegin(); ok && row != messages.cend(); ++row) {
        sqlite3_stmt *insert = m_insertMessage.get();
        bindText(insert, 1, row->stream);
        sqlite3_bind_int64(insert, 2, sqlite3_int64(row->seq));
        if (!row->id.isEmpty())
            bindText(insert, 3, row->id);
        sqlite3_bind_int64(insert, 4, row->publishTimeUs);
        sqlite3_bind_blob(insert, 5, row->payload.constData(), int(row->payload.size()), SQLITE_STATIC);
        ok = step(insert);
    }
    // Taken now: the upserts below would move it to the streams table's rows.
    const qint64 lastRowid = sqlite3_last_insert_rowid(m_handle);
    for (auto row = streams.cbegin(); ok && row != streams.cend(); ++row) {
        sqlite3_stmt *upsert = m_upsertStream.get();
        bindText(upsert, 1, row->stream);
        bindText(upsert, 2, row->epoch);
        sqlite3_bind_int64(upsert, 3, sqlite3_int64(row->lastSeq));
        sqlite3_bind_int64(upsert, 4, row->updatedUs);
        ok = step(upsert);
    }
    QString ignored;
    if (!ok || !exec("COMMIT", error)) {
        exec("ROLLBACK", &ignored);
        return false;
    }
    if (!messages.empty()) {
        qint64 latestUs = m_watermarks.empty() ? 0 : m_watermarks.back().publishTimeUs;
        for (const HistoryRow &row : messages)
            latestUs = std::max(latestUs, row.publishTimeUs);
        m_watermarks.push_back({lastRowid, latestUs});
    }
    return true;
}

bool HistoryTable::loadStreams(const std::function<void(StreamRow &&)> &visit, QString *error)
{
    QSqlQuery query(m_db);
    query.setForwardOnly(true);
    if (!query.exec(u"SELECT stream, epoch, last_seq, updated_us FROM streams"_s)) {
        *error = query.lastError().text();
        return false;
    }
    while (query.next())
        visit({query.value(0).toString(), query.value(1).toString(), quint64(query.value(2).toLongLong()),
               query.value(3).toLongLong()});
    return true;
}

bool HistoryTable::loadMessages(qint64 sinceUs, const std::function<void(HistoryRow &&)> &visit,
                                QString *error)
{
    QSqlQuery query(m_db);
    query.setForwardOnly(true);
    query.prepare(u"SELECT stream, seq, message_id, publish_time_us, payload FROM messages"
                  " WHERE publish_time_us >= ? ORDER BY stream, seq"_s);
    query.addBindValue(sinceUs);
    if (!query.exec()) {
        *error = query.lastError().text();
        return false;
    }
    while (query.next())
        visit({query.value(0).toString(), quint64(query.value(1).toLongLong()), query.value(2).toString(),
               query.value(3).toLongLong(), query.value(4).toByteArray()});
    return true;
}

bool HistoryTable::execute(const QString &statement, const QVariantList &values, const QString &what)
{
    QSqlQuery query(m_db);
    query.prepare(statement);
    for (const QVariant &value : values)
        query.addBindValue(value);
    if (!query.exec()) {
        qCWarning(lcStore) << what << "failed:" << query.lastError().text();
        return false;
    }
    return true;
}

bool HistoryTable::deleteMessagesBefore(qint64 publishTimeUs)
{
    if (!m_scanned) {
        // What earlier runs left: one scan, at the first prune.
        m_scanned = true;
        if (!execute(u"DELETE FROM messages WHERE publish_time_us < ? AND rowid <= ?"_s,
                     {publishTimeUs,
                      m_watermarks.empty() ? std::numeric_limits<qint64>::max() : m_watermarks.front().rowid},
                     u"pruning history"_s))
            return false;
    }
    // The log is in publish order: everything up to the last append that
    // was wholly older than the cutoff goes, with one range delete.
    qint64 through = 0;
    while (!m_watermarks.empty() && m_watermarks.front().publishTimeUs < publishTimeUs) {
        through = m_watermarks.front().rowid;
        m_watermarks.pop_front();
    }
    if (through == 0 || !m_deleteThrough)
        return true;
    sqlite3_stmt *statement = m_deleteThrough.get();
    sqlite3_bind_int64(statement, 1, through);
    const int result = sqlite3_step(statement);
    sqlite3_reset(statement);
    if (result != SQLITE_DONE) {
        qCWarning(lcStore).noquote() << "pruning history failed:" << lastError();
        return false;
    }
    return true;
}

bool HistoryTable::deleteStreamsIdleSince(qint64 updatedUs)
{
    return execute(u"DELETE FROM streams WHERE updated_us < ?"_s, {updatedUs}, u"forgetting idle streams"_s);
}

} // namespace bfg
