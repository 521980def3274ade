// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// The local broker's durable history: `streams` (each stream's epoch and
// last sequence number, kept longer than its messages) and `messages` (an
// append-only log, in publish order, of the last history_age_s of messages:
// what a restarted broker reloads its replay window from). Used only on the
// local broker's writer thread. The log has no index, so that appending
// writes only its last pages; the age bound deletes a prefix of it by rowid
// (watermarks kept per append), and the count bound applies when loading.
// The per-message statements go to SQLite's own API through the Qt
// connection's handle: prepared once, bound without QVariant.
#pragma once

#include <deque>
#include <functional>
#include <memory>
#include <vector>

#include <QByteArray>
#include <QString>
#include <QVariantList>

class QSqlDatabase;
struct sqlite3;
struct sqlite3_stmt;

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

    // Deletes the messages published before `publishTimeUs` (the first call
    // scans the log; later ones delete up to a watermark of an append).
    bool deleteMessagesBefore(qint64 publishTimeUs);
    bool deleteStreamsIdleSince(qint64 updatedUs);

private:
    struct StatementDeleter
    {
        void operator()(sqlite3_stmt *statement) const;
    };
    using Statement = std::unique_ptr<sqlite3_stmt, StatementDeleter>;

    bool execute(const QString &statement, const QVariantList &values, const QString &what);
    Statement prepare(const char *sql);
    bool exec(const char *sql, QString *error);
    QString lastError() const;

    QSqlDatabase &m_db;
    sqlite3 *m_handle = nullptr;
    Statement m_insertMessage;
    Statement m_upsertStream;
    Statement m_deleteThrough;

    struct Watermark
    {
        qint64 rowid;
        qint64 publishTimeUs; // the latest publish time up to that row
    };
    std::deque<Watermark> m_watermarks; // one per append, oldest first
    bool m_scanned = false;             // the log before this run was pruned by a scan
};

} // namespace bfg
