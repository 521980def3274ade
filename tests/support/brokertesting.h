// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// What the broker suites (tst_localbroker, tst_redisbroker) share: a
// subscriber that records what it is given, publishing with a wait for the
// broker's answer, and small builders for items and expected seqs.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <vector>

#include <QList>
#include <QString>
#include <QTest>
#include <QThread>

#include "daemon/broker/broker.h"

namespace bfg::test {

using namespace Qt::Literals::StringLiterals;

inline constexpr int BrokerWaitMs = 10000;

// Collects what the broker delivers on its thread.
class Collector final : public Subscriber
{
public:
    void deliver(const MessagePtr &message) override
    {
        std::lock_guard lock(m_mutex);
        m_messages.push_back(message);
    }
    std::vector<MessagePtr> messages() const
    {
        std::lock_guard lock(m_mutex);
        return m_messages;
    }
    std::vector<MessagePtr> messages(const QString &stream) const
    {
        std::lock_guard lock(m_mutex);
        std::vector<MessagePtr> out;
        for (const MessagePtr &message : m_messages) {
            if (message->stream == stream)
                out.push_back(message);
        }
        return out;
    }
    int count() const
    {
        std::lock_guard lock(m_mutex);
        return int(m_messages.size());
    }
    bool has(const QString &stream, quint64 seq) const
    {
        std::lock_guard lock(m_mutex);
        for (const MessagePtr &message : m_messages) {
            if (message->stream == stream && message->seq == seq)
                return true;
        }
        return false;
    }

private:
    mutable std::mutex m_mutex;
    std::vector<MessagePtr> m_messages;
};

struct PublishOutcome
{
    std::atomic<int> calls{0}; // incremented last: the fields below are complete once it is > 0
    std::vector<PublishResult> results;
    QString error;
    QThread *thread = nullptr; // where the callback ran
};

inline std::shared_ptr<PublishOutcome> publishAsync(Broker &broker, std::vector<PublishItem> items,
                                                    QObject *context)
{
    auto outcome = std::make_shared<PublishOutcome>();
    broker.publish(std::move(items), context,
                   [outcome](const std::vector<PublishResult> &results, const QString &error) {
                       outcome->results = results;
                       outcome->error = error;
                       outcome->thread = QThread::currentThread();
                       ++outcome->calls;
                   });
    return outcome;
}

// Publishes and waits (running the event loop) for the broker's answer.
inline bool publish(Broker &broker, std::vector<PublishItem> items, QObject *context,
                    std::vector<PublishResult> *results = nullptr, QString *error = nullptr)
{
    const auto outcome = publishAsync(broker, std::move(items), context);
    if (!QTest::qWaitFor([&] { return outcome->calls.load() > 0; }, BrokerWaitMs)) {
        if (error)
            *error = u"no answer"_s;
        return false;
    }
    if (results)
        *results = outcome->results;
    if (error)
        *error = outcome->error;
    if (!outcome->error.isEmpty())
        qWarning().noquote() << "publish failed:" << outcome->error;
    return outcome->error.isEmpty();
}

inline std::vector<PublishItem> items(const QString &stream, int from, int to, const QString &idPrefix = {})
{
    std::vector<PublishItem> list;
    for (int i = from; i <= to; ++i)
        list.push_back({stream, u"payload %1"_s.arg(i).toUtf8(),
                        idPrefix.isEmpty() ? QString() : idPrefix + QString::number(i)});
    return list;
}

inline QList<quint64> seqsOf(const std::vector<MessagePtr> &messages)
{
    QList<quint64> seqs;
    for (const MessagePtr &message : messages)
        seqs.append(message->seq);
    return seqs;
}

inline QList<quint64> range(quint64 from, quint64 to)
{
    QList<quint64> seqs;
    for (quint64 s = from; s <= to; ++s)
        seqs.append(s);
    return seqs;
}

} // namespace bfg::test
