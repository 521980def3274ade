// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// The messages one watched user received, newest last, for bfg-probe
// --gui's table: arrival time, stream, seq, end-to-end latency and the
// payload as text or hex. Bounded: past maxRows() the oldest rows go, so
// that a flood (a slow-consumer test) costs a fixed amount of memory.
#pragma once

#include <deque>

#include <QAbstractTableModel>
#include <QByteArray>
#include <QString>

namespace bfg::probe {

class MessageTableModel : public QAbstractTableModel
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(MessageTableModel)

public:
    enum Column { TimeColumn, StreamColumn, SeqColumn, LatencyColumn, PayloadColumn, ColumnCount };
    enum class PayloadMode { Text, Hex };
    static constexpr int DefaultMaxRows = 10000;

    explicit MessageTableModel(int maxRows = DefaultMaxRows, QObject *parent = nullptr);
    ~MessageTableModel() override;

    struct Row
    {
        qint64 receivedMs = 0; // since the epoch
        QString stream;
        quint64 seq = 0; // 0: an ephemeral message
        qint64 latencyUs = 0;
        QByteArray payload;
    };
    void append(Row row);
    void clear();

    int maxRows() const { return m_maxRows; }
    PayloadMode payloadMode() const { return m_payloadMode; }
    void setPayloadMode(PayloadMode mode);
    // How the payload column shows `payload` in `mode` (cut to a readable length).
    static QString payloadText(const QByteArray &payload, PayloadMode mode);

    int rowCount(const QModelIndex &parent = {}) const override;
    int columnCount(const QModelIndex &parent = {}) const override;
    QVariant data(const QModelIndex &index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

private:
    std::deque<Row> m_rows;
    int m_maxRows;
    PayloadMode m_payloadMode = PayloadMode::Text;
};

} // namespace bfg::probe
