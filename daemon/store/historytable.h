// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// The local broker's durable history: `streams` (each stream's epoch and
// last sequence number, kept longer than its messages) and `messages` (the
// bounded window a resuming client is replayed from). Used only on the
// local broker's writer thread.
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include <QByteArray>
#include <QString>
#include <QVariantList>

class QSqlDatabase;
class QSqlQuery;

namespace bfg {

struct HistoryRow
{
    QString stream;
    quint64 seq = 0;
    QString id;
    qint64 publishTimeUs = 0;
    QByteArray payload;
};

struct StreamRow
{
    QString stream;
    QString epoch;
    quint64 lastSeq = 0;
    qint64 updatedUs = 0;
};

class HistoryTable
{
public:
    static inline const QString StreamsName = QStringLiteral("streams");
    static inline const QString MessagesName = QStringLiteral("messages");

    explicit HistoryTable(QSqlDatabase &db);
    ~HistoryTable();
    Q_DISABLE_COPY_MOVE(HistoryTable)

    // Stores messages and their streams' new positions in one transaction.
    bool append(const std::vector<HistoryRow> &messages, const std::vector<StreamRow> &streams,
                QString *error);

    bool loadStreams(const std::function<void(StreamRow &&)> &visit, QString *error);
    // Messages published at or after `sinceUs`, by stream then seq.
    bool loadMessages(qint64 sinceUs, const std::function<void(HistoryRow &&)> &visit, QString *error);

    bool deleteMessagesBefore(qint64 publishTimeUs);
    bool deleteMessagesUpTo(const QString &stream, quint64 seq);
    bool deleteStreamsIdleSince(qint64 updatedUs);

private:
    bool execute(const QString &statement, const QVariantList &values, const QString &what);

    QSqlDatabase &m_db;
    std::unique_ptr<QSqlQuery> m_insertMessage;
    std::unique_ptr<QSqlQuery> m_upsertStream;
};

} // namespace bfg
