// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// Checks what one simulated user received against what was published to
// one stream it reads (its own "user:<id>", or a shared stream): every
// sequence number once and in order, the payload's tag (the user id, or the
// shared stream's name, or the room's), and how each resume went. Sequence
// numbers are the ground truth; publish acks say how far the stream got.
// One per user, owned by Probe; O(1) per message except when filling gaps.
#pragma once

#include <array>
#include <set>
#include <string>

#include <QString>
#include <QtGlobal>

#include "bfg/v1/frames.pb.h"

namespace bfg::probe {

class UserVerifier
{
public:
    // Gaps larger than this per user are only counted, not tracked seq by seq.
    static constexpr size_t MaxTrackedMissing = 100000;
    // The payload the probe publishes: send time (µs, little-endian) then the user id.
    static constexpr int SendTimeBytes = 8;

    // `checkPayload`: payloads are the probe's own (send time + `tag`), so a
    // foreign tag is a misdelivery. Off when only listening.
    UserVerifier(const QString &stream, const QString &tag, bool checkPayload);
    // The user's own stream, tagged with the user id.
    static UserVerifier forUser(const QString &userId, bool checkPayload);

    // Encodes the probe's payload tagged `tagUtf8`, sent at `sendUs`, into `out`.
    static void writePayload(std::string *out, qint64 sendUs, const std::string &tagUtf8);

    void onWelcome(const v1::Welcome &welcome, bool resumed);
    // The stream's state from a Welcome or a Subscribed (the first one sets the baseline;
    // later ones are resumes, `resumed` false: a session that resumed nothing).
    void onStreamState(const v1::StreamState &state, bool resumed);
    // Returns the end-to-end latency in µs. Ephemeral messages (seq 0) are counted apart and
    // checked for stream and tag only: they have no place in the sequence.
    qint64 onMessage(const v1::Message &message, qint64 nowUs);
    void onAcked(quint64 seq);
    // Once a second: remembers how far acks had got, for overdueCount().
    void sampleAcked();

    bool hasWelcome() const { return m_welcomed; }
    // Every acked message has arrived (or was already counted lost).
    bool isCaughtUp() const { return m_maxSeq >= m_ackedMax; }

    // Lost so far: unfilled gaps and what a resume could not recover.
    quint64 gapCount() const { return quint64(m_missing.size()) + m_missingUntracked + m_notRecoveredLost; }
    // Acked at least ~5 s ago and still not received.
    quint64 overdueCount() const;
    // At the end of a run: gaps plus everything acked beyond what arrived.
    quint64 lostCount() const { return gapCount() + undeliveredCount(); }
    // Acked beyond the last seq received: still in flight, or lost at the tail.
    quint64 undeliveredCount() const { return m_ackedMax > m_maxSeq ? m_ackedMax - m_maxSeq : 0; }

    quint64 received() const { return m_received; } // with a seq
    quint64 ephemeral() const { return m_ephemeral; }
    quint64 duplicates() const { return m_duplicates; }
    quint64 reordered() const { return m_reordered; }
    quint64 misdelivered() const { return m_misdelivered; }
    quint64 wrongEpoch() const { return m_wrongEpoch; }
    int resumes() const { return m_resumes; }
    int recovered() const { return m_recovered; }
    int notRecovered() const { return m_notRecovered; }
    quint64 baseline() const { return m_baseline; }
    quint64 maxSeq() const { return m_maxSeq; }
    quint64 ackedMax() const { return m_ackedMax; }

private:
    void markMissing(quint64 from, quint64 to); // [from, to)

    std::string m_stream;  // as it comes on the wire
    std::string m_tagUtf8; // what the payload must carry after the send time
    bool m_checkPayload;

    bool m_welcomed = false;
    std::string m_epoch;
    quint64 m_baseline = 0;
    quint64 m_maxSeq = 0;
    quint64 m_ackedMax = 0;
    std::set<quint64> m_missing;
    quint64 m_missingUntracked = 0;
    quint64 m_notRecoveredLost = 0;

    quint64 m_received = 0;
    quint64 m_ephemeral = 0;
    quint64 m_duplicates = 0;
    quint64 m_reordered = 0;
    quint64 m_misdelivered = 0;
    quint64 m_wrongEpoch = 0;
    int m_resumes = 0;
    int m_recovered = 0;
    int m_notRecovered = 0;

    // ackedMax sampled once a second; the oldest is about five seconds old.
    std::array<quint64, 6> m_ackedSamples{};
    size_t m_sampleIndex = 0;
};

} // namespace bfg::probe
