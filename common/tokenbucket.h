// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// A token bucket: `ratePerSecond` tokens a second, at most `burst` saved up.
// The decision server takes one per assignment, so that a reconnect storm of
// every client at once is spread out (429 + Retry-After) instead of
// overshooting the nodes between two reports; a push node limits new
// connections per address, frames and bytes per connection, and publish
// requests per key with it. Time is passed in: tests drive it without
// waiting.
#pragma once

#include <QByteArray>
#include <QHash>
#include <QtGlobal>

namespace bfg {

class TokenBucket
{
public:
    // ratePerSecond <= 0: unlimited.
    TokenBucket(double ratePerSecond, double burst);

    // A new rate and burst (a reload): the tokens saved up stay, capped at
    // the new burst; a bucket that was unlimited starts full.
    void configure(double ratePerSecond, double burst);
    // Takes `tokens` (at most a burst's worth counts): 0 when granted, else
    // the ms until they will be there.
    qint64 take(qint64 nowMs, double tokens = 1.0);

private:
    double m_rate;
    double m_burst;
    double m_tokens;
    qint64 m_lastMs = 0;
    bool m_started = false;
};

// Token buckets by key (an address, an API key). A bucket idle long enough
// to be full again is forgotten, which changes nothing: memory stays bounded
// by the keys seen in the last seconds.
class KeyedTokenBuckets
{
public:
    // ratePerSecond <= 0: unlimited.
    KeyedTokenBuckets(double ratePerSecond, double burst);

    qint64 take(const QByteArray &key, qint64 nowMs);
    // A new rate and burst for every key, those seen lately included.
    void configure(double ratePerSecond, double burst);
    qsizetype size() const { return m_buckets.size(); }

private:
    struct Entry
    {
        TokenBucket bucket;
        qint64 lastMs = 0;
    };

    double m_rate;
    double m_burst;
    qint64 m_refillMs; // from empty to full
    qint64 m_lastPruneMs = 0;
    QHash<QByteArray, Entry> m_buckets;
};

} // namespace bfg
