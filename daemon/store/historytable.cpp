// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
#include "daemon/store/historytable.h"

#include <QSqlDatabase>
#include <QSqlError>
#include <QSqlQuery>

#include "common/logging.h"

using namespace Qt::Literals::StringLiterals;

namespace bfg {

HistoryTable::HistoryTable(QSqlDatabase &db)
    : m_db(db)
    , m_insertMessage(std::make_unique<QSqlQuery>(db))
    , m_upsertStream(std::make_unique<QSqlQuery>(db))
{
    m_insertMessage->prepare(
        u"INSERT OR REPLACE INTO messages (stream, seq, message_id, publish_time_us, payload)"
        " VALUES (?, ?, ?, ?, ?)"_s);
    m_upsertStream->prepare(u"INSERT INTO streams (stream, epoch, last_seq, updated_us) VALUES (?, ?, ?, ?)"
                            " ON CONFLICT (stream) DO UPDATE SET epoch = excluded.epoch,"
                            " last_seq = excluded.last_seq, updated_us = excluded.updated_us"_s);
}

HistoryTable::~HistoryTable() = default;

bool HistoryTable::append(const std::vector<HistoryRow> &messages, const std::vector<StreamRow> &streams,
                          QString *error)
{
    if (!m_db.transaction()) {
        *error = m_db.lastError().text();
        return false;
    }
    for (const HistoryRow &row : messages) {
        m_insertMessage->bindValue(0, row.stream);
        m_insertMessage->bindValue(1, qint64(row.seq));
        m_insertMessage->bindValue(2, row.id.isEmpty() ? QVariant() : QVariant(row.id));
        m_insertMessage->bindValue(3, row.publishTimeUs);
        m_insertMessage->bindValue(4, row.payload);
        if (!m_insertMessage->exec()) {
            *error = m_insertMessage->lastError().text();
            m_db.rollback();
            return false;
        }
    }
    for (const StreamRow &row : streams) {
        m_upsertStream->bindValue(0, row.stream);
        m_upsertStream->bindValue(1, row.epoch);
        m_upsertStream->bindValue(2, qint64(row.lastSeq));
        m_upsertStream->bindValue(3, row.updatedUs);
        if (!m_upsertStream->exec()) {
            *error = m_upsertStream->lastError().text();
            m_db.rollback();
            return false;
        }
    }
    if (!m_db.commit()) {
        *error = m_db.lastError().text();
        m_db.rollback();
        return false;
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
    return execute(u"DELETE FROM messages WHERE publish_time_us < ?"_s, {publishTimeUs},
                   u"pruning history"_s);
}

bool HistoryTable::deleteMessagesUpTo(const QString &stream, quint64 seq)
{
    return execute(u"DELETE FROM messages WHERE stream = ? AND seq <= ?"_s, {stream, qint64(seq)},
                   u"pruning history of "_s + stream);
}

bool HistoryTable::deleteStreamsIdleSince(qint64 updatedUs)
{
    return execute(u"DELETE FROM streams WHERE updated_us < ?"_s, {updatedUs}, u"forgetting idle streams"_s);
}

} // namespace bfg
