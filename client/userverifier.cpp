// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
#include "client/userverifier.h"

#include <algorithm>
#include <cstring>

#include "common/logging.h"
#include "common/protocol.h"

namespace bfg::probe {

UserVerifier::UserVerifier(const QString &stream, const QString &tag, bool checkPayload)
    : m_stream(stream.toStdString())
    , m_tagUtf8(tag.toStdString())
    , m_checkPayload(checkPayload)
{}

UserVerifier UserVerifier::forUser(const QString &userId, bool checkPayload)
{
    return UserVerifier(protocol::userStream(userId), userId, checkPayload);
}

void UserVerifier::writePayload(std::string *out, qint64 sendUs, const std::string &tagUtf8)
{
    out->resize(size_t(SendTimeBytes) + tagUtf8.size());
    auto value = quint64(sendUs);
    for (int i = 0; i < SendTimeBytes; ++i) {
        (*out)[size_t(i)] = char(value & 0xff);
        value >>= 8;
    }
    std::memcpy(out->data() + SendTimeBytes, tagUtf8.data(), tagUtf8.size());
}

void UserVerifier::onWelcome(const v1::Welcome &welcome, bool resumed)
{
    const v1::StreamState *state = nullptr;
    for (const v1::StreamState &stream : welcome.streams()) {
        if (stream.stream() == m_stream) {
            state = &stream;
            break;
        }
    }
    if (!state) {
        qCWarning(lcProbe) << "welcome does not list" << QString::fromStdString(m_stream);
        return;
    }
    onStreamState(*state, resumed);
}

void UserVerifier::onStreamState(const v1::StreamState &state, bool resumed)
{
    if (!m_welcomed) {
        m_welcomed = true;
        m_epoch = state.epoch();
        m_baseline = m_maxSeq = state.seq();
        m_ackedMax = std::max(m_ackedMax, m_baseline);
        return;
    }

    if (!resumed)
        return; // a later session that resumed nothing (not how PushClient behaves)
    ++m_resumes;
    if (state.recovered()) {
        ++m_recovered;
        // A stream this user had received nothing of may come back in a new
        // epoch (its creation was never stored); with messages seen, a new
        // epoch must come with recovered=false.
        if (state.epoch() != m_epoch) {
            if (m_maxSeq != 0)
                ++m_wrongEpoch;
            m_epoch = state.epoch();
        }
        return;
    }
    ++m_notRecovered;
    if (state.epoch() != m_epoch) {
        // The stream's history was lost: nothing of the old epoch can arrive any more.
        m_notRecoveredLost += quint64(m_missing.size()) + (m_ackedMax > m_maxSeq ? m_ackedMax - m_maxSeq : 0);
        m_missing.clear();
        m_epoch = state.epoch();
        m_maxSeq = m_ackedMax = state.seq();
        return;
    }
    if (state.seq() > m_maxSeq) {
        m_notRecoveredLost += state.seq() - m_maxSeq;
        m_maxSeq = state.seq();
    }
}

qint64 UserVerifier::onMessage(const v1::Message &message, qint64 nowUs)
{
    const bool ephemeral = message.ephemeral() || message.seq() == 0;
    ++(ephemeral ? m_ephemeral : m_received);
    qint64 sentUs = message.publish_time_us();
    if (message.stream() != m_stream) {
        ++m_misdelivered; // the probe routes each stream to its own verifier
        return nowUs - sentUs;
    }
    const std::string &payload = message.payload();
    if (m_checkPayload) {
        if (payload.size() < size_t(SendTimeBytes) ||
            payload.compare(size_t(SendTimeBytes), std::string::npos, m_tagUtf8) != 0)
            ++m_misdelivered;
    }
    if (m_checkPayload && payload.size() >= size_t(SendTimeBytes)) {
        quint64 value = 0;
        for (int i = SendTimeBytes - 1; i >= 0; --i)
            value = (value << 8) | quint8(payload[size_t(i)]);
        sentUs = qint64(value);
    }
    if (ephemeral)
        return nowUs - sentUs; // no seq and no epoch: nothing to put in order

    if (message.epoch() != m_epoch && m_welcomed) {
        ++m_wrongEpoch; // a new epoch must be announced by a Welcome with recovered=false
        return nowUs - sentUs;
    }

    const quint64 seq = message.seq();
    if (seq > m_maxSeq) {
        if (seq > m_maxSeq + 1)
            markMissing(m_maxSeq + 1, seq);
        m_maxSeq = seq;
    } else if (auto it = m_missing.find(seq); it != m_missing.end()) {
        m_missing.erase(it);
        ++m_reordered;
    } else {
        ++m_duplicates;
    }
    return nowUs - sentUs;
}

void UserVerifier::markMissing(quint64 from, quint64 to)
{
    for (quint64 seq = from; seq < to; ++seq) {
        if (m_missing.size() >= MaxTrackedMissing) {
            m_missingUntracked += to - seq;
            return;
        }
        m_missing.insert(m_missing.end(), seq);
    }
}

void UserVerifier::onAcked(quint64 seq)
{
    m_ackedMax = std::max(m_ackedMax, seq);
}

void UserVerifier::sampleAcked()
{
    m_sampleIndex = (m_sampleIndex + 1) % m_ackedSamples.size();
    m_ackedSamples[m_sampleIndex] = m_ackedMax;
}

quint64 UserVerifier::overdueCount() const
{
    const quint64 oldest = m_ackedSamples[(m_sampleIndex + 1) % m_ackedSamples.size()];
    return oldest > m_maxSeq ? oldest - m_maxSeq : 0;
}

} // namespace bfg::probe
