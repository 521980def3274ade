// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
#include "client/gui/watchsession.h"

#include <utility>

#include <QJsonDocument>
#include <QJsonObject>

#include "bfg/v1/frames.pb.h"
#include "client/gui/messagetablemodel.h"
#include "common/decisionclient.h"
#include "common/httpconnection.h"
#include "common/logging.h"
#include "common/protocol.h"
#include "common/pushclient.h"

using namespace Qt::Literals::StringLiterals;

namespace bfg::probe {

namespace {
constexpr int PublishTimeoutMs = 5000;
} // namespace

WatchSession::WatchSession(QObject *parent)
    : QObject(parent)
    , m_messages(new MessageTableModel(MessageTableModel::DefaultMaxRows, this))
{
    m_secondTimer.setInterval(1000);
    connect(&m_secondTimer, &QTimer::timeout, this, &WatchSession::onSecond);
    m_secondTimer.start();
}

WatchSession::~WatchSession()
{
    if (m_client)
        m_client->stop();
}

void WatchSession::start(const QList<QUrl> &decisionUrls, const QString &userId)
{
    stop();
    delete m_client;
    delete m_decision;
    m_userId = userId;
    m_ownStream = protocol::userStream(userId).toStdString();
    m_decisionUrls = decisionUrls;
    m_verifiers.clear();
    m_unexpected = 0;
    m_messages->clear();
    m_secondLatency.reset();
    m_samples.clear();

    m_decision = new DecisionClient(decisionUrls, this);
    PushClient::Options options;
    options.userId = userId;
    options.clientName = QStringLiteral("bfg-probe-gui/" BFG_VERSION);
    m_client = new PushClient(m_decision, options, this);
    connect(m_client, &PushClient::welcomed, this, &WatchSession::onWelcomed);
    connect(m_client, &PushClient::messageReceived, this, &WatchSession::onMessage);
    Q_EMIT clientChanged(m_client);
    Q_EMIT countersChanged();
    m_client->start();
}

void WatchSession::stop()
{
    if (m_client)
        m_client->stop();
}

void WatchSession::switchDecision(const QList<QUrl> &decisionUrls)
{
    if (!m_client)
        return;
    DecisionClient *old = std::exchange(m_decision, new DecisionClient(decisionUrls, this));
    m_decisionUrls = decisionUrls;
    m_client->switchDecision(m_decision);
    old->deleteLater(); // its pending answers go nowhere: the client started over
}

QUrl WatchSession::effectivePublishUrl() const
{
    if (!m_publishUrl.isEmpty())
        return m_publishUrl;
    return m_client ? m_client->publishUrl() : QUrl();
}

void WatchSession::publish(const QString &text)
{
    m_publishQueue.push_back(text);
    if (!m_publishing)
        sendNextPublish();
}

void WatchSession::sendNextPublish()
{
    if (m_publishQueue.empty() || m_userId.isEmpty())
        return;
    const QUrl url = effectivePublishUrl();
    if (url.isEmpty() || url.host().isEmpty()) {
        m_publishQueue.clear();
        Q_EMIT publishFailed(u"no publish API known yet: connect first, or give a publish URL"_s);
        return;
    }
    const QUrl server = url.adjusted(QUrl::RemovePath | QUrl::RemoveQuery | QUrl::RemoveFragment);
    if (m_publisher && m_publisherServer != server) {
        m_publisher->deleteLater(); // idle: publishes go one at a time
        m_publisher = nullptr;
    }
    if (!m_publisher) {
        m_publisher = new HttpConnection(server, PublishTimeoutMs, this);
        m_publisherServer = server;
    }

    QByteArray target = url.path(QUrl::FullyEncoded).toUtf8();
    while (target.endsWith('/'))
        target.chop(1);
    target += "/v1/publish";
    QByteArray headers = "Content-Type: application/json\r\n";
    if (!m_publishKey.isEmpty())
        headers += "Authorization: Bearer " + m_publishKey + "\r\n";
    const QString text = m_publishQueue.front();
    m_publishQueue.pop_front();
    const QByteArray body =
        QJsonDocument(QJsonObject{{u"stream"_s, QString::fromStdString(m_ownStream)}, {u"text"_s, text}})
            .toJson(QJsonDocument::Compact);
    m_publishing = true;
    const std::string stream = m_ownStream;
    m_publisher->request(
        "POST", target, headers, body, [this, stream](const HttpConnection::Response &response) {
            m_publishing = false;
            const QJsonObject answer = QJsonDocument::fromJson(response.body).object();
            if (response.status != 200) {
                const QString why = response.status == 0
                                        ? response.error
                                        : u"HTTP %1: %2"_s.arg(response.status)
                                              .arg(answer.value(u"error"_s)
                                                       .toObject()
                                                       .value(u"message"_s)
                                                       .toString(QString::fromUtf8(response.body.left(200))));
                qCWarning(lcProbe).noquote() << "publish failed:" << why;
                Q_EMIT publishFailed(why);
            } else {
                const auto seq = quint64(answer.value(u"seq"_s).toInteger());
                // Of this session's user still (a new start() clears the verifiers).
                if (auto it = m_verifiers.find(stream); it != m_verifiers.end())
                    it->second.onAcked(seq);
                Q_EMIT published(seq);
            }
            sendNextPublish();
        });
}

WatchSession::Counters WatchSession::counters() const
{
    Counters counters;
    counters.unexpected = m_unexpected;
    for (const auto &[stream, verifier] : m_verifiers) {
        counters.received += verifier.received();
        counters.lost += verifier.gapCount() + verifier.overdueCount();
        counters.duplicated += verifier.duplicates();
        counters.reordered += verifier.reordered();
        counters.unexpected += verifier.misdelivered() + verifier.wrongEpoch();
        if (stream == m_ownStream) {
            counters.resumes = verifier.resumes();
            counters.recovered = verifier.recovered();
            counters.notRecovered = verifier.notRecovered();
        }
    }
    counters.received += m_unexpected;
    return counters;
}

void WatchSession::onWelcomed(const v1::Welcome &welcome, bool resumed)
{
    // One verifier per stream the token grants (the user's own and any public ones); payloads
    // unchecked: others publish to this user too.
    for (const v1::StreamState &state : welcome.streams()) {
        if (m_verifiers.count(state.stream()))
            continue;
        const QString stream = QString::fromStdString(state.stream());
        m_verifiers.emplace(state.stream(), state.stream() == m_ownStream
                                                ? UserVerifier::forUser(m_userId, false)
                                                : UserVerifier(stream, stream, false));
    }
    for (auto &[stream, verifier] : m_verifiers)
        verifier.onWelcome(welcome, resumed);
    Q_EMIT countersChanged();
}

void WatchSession::onMessage(const v1::Message &message)
{
    const qint64 nowUs = protocol::nowUs();
    qint64 latencyUs = nowUs - message.publish_time_us();
    if (auto it = m_verifiers.find(message.stream()); it != m_verifiers.end())
        latencyUs = it->second.onMessage(message, nowUs);
    else
        ++m_unexpected;
    m_secondLatency.record(latencyUs);
    MessageTableModel::Row row;
    row.receivedMs = nowUs / 1000;
    row.stream = QString::fromStdString(message.stream());
    row.seq = message.seq();
    row.latencyUs = latencyUs;
    row.payload = QByteArray(message.payload().data(), qsizetype(message.payload().size()));
    m_messages->append(std::move(row));
    Q_EMIT countersChanged();
}

void WatchSession::onSecond()
{
    for (auto &[stream, verifier] : m_verifiers)
        verifier.sampleAcked();
    if (m_client) {
        LatencySample sample;
        sample.atMs = protocol::nowMs();
        sample.count = m_secondLatency.count();
        sample.p50Ms = double(m_secondLatency.percentileUs(50)) / 1000.0;
        sample.maxMs = double(m_secondLatency.maxUs()) / 1000.0;
        m_secondLatency.reset();
        m_samples.push_back(sample);
        while (m_samples.size() > size_t(LatencySeconds))
            m_samples.pop_front();
        Q_EMIT latencySampled();
    }
    Q_EMIT countersChanged(); // overdue counts move with time
}

} // namespace bfg::probe
