// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
#include "client/publisher.h"

#include <algorithm>
#include <cmath>

#include <QJsonDocument>
#include <QJsonObject>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QNetworkRequest>
#include <QRandomGenerator>
#include <QVariant>

#include "client/userverifier.h"
#include "common/logging.h"
#include "common/protocol.h"

using namespace Qt::Literals::StringLiterals;

namespace bfg::probe {

namespace {
constexpr int RetryBaseMs = 100;
constexpr int RetryCapMs = 2000;
constexpr int MaxErrorsLogged = 10;
constexpr double MaxTickGapS = 1.0; // after a stall, catch up at most this much
} // namespace

struct Publisher::Source
{
    int user;
    std::string stream;   // "user:<id>"
    std::string idPrefix; // "<id>-"
    std::string userUtf8;
    double due; // messages owed, fractional
    quint64 counter = 0;
};

struct Publisher::Batch
{
    v1::PublishRequest request; // kept as is for retries: same items, same ids
    std::vector<int> users;     // of each item, in order
};

Publisher::Publisher(QNetworkAccessManager *network, Options options, QObject *parent)
    : QObject(parent)
    , m_network(network)
    , m_options(std::move(options))
    , m_backoff(RetryBaseMs, RetryCapMs)
{
    m_publishUrl = m_options.baseUrl;
    QString path = m_publishUrl.path();
    while (path.endsWith(u'/'))
        path.chop(1);
    m_publishUrl.setPath(path + u"/v1/publish"_s);

    m_tickTimer.setTimerType(Qt::PreciseTimer);
    m_tickTimer.setInterval(m_options.tickMs);
    connect(&m_tickTimer, &QTimer::timeout, this, &Publisher::tick);
    m_retryTimer.setSingleShot(true);
    connect(&m_retryTimer, &QTimer::timeout, this, &Publisher::pump);
}

Publisher::~Publisher() = default;

void Publisher::addUser(int user, const QString &userId)
{
    Source source;
    source.user = user;
    source.stream = protocol::userStream(userId).toStdString();
    source.userUtf8 = userId.toStdString();
    source.idPrefix = source.userUtf8 + '-';
    // A random phase, so that users added together do not all publish in the same tick.
    source.due = QRandomGenerator::global()->generateDouble();
    m_sources.push_back(std::move(source));
}

void Publisher::start()
{
    if (m_abandoned || m_tickTimer.isActive())
        return;
    m_clock.start();
    m_lastTickNs = 0;
    m_tickTimer.start();
}

void Publisher::stopScheduling()
{
    m_tickTimer.stop();
    flushBuilding();
    pump();
}

void Publisher::abandon()
{
    m_abandoned = true;
    m_tickTimer.stop();
    m_retryTimer.stop();
    m_queue.clear();
    m_building.reset();
}

bool Publisher::isIdle() const
{
    return m_queue.empty() && m_inFlight == 0 && !m_building;
}

void Publisher::tick()
{
    const qint64 nowNs = m_clock.nsecsElapsed();
    const double elapsedS = std::min(MaxTickGapS, double(nowNs - m_lastTickNs) / 1e9);
    m_lastTickNs = nowNs;
    const double owed = m_options.ratePerUser * elapsedS;
    const qint64 sendUs = protocol::nowUs(); // one clock read per tick: these go out together

    for (Source &source : m_sources) {
        source.due += owed;
        if (source.due < 1.0)
            continue;
        const auto count = quint64(source.due);
        source.due -= double(count);
        for (quint64 i = 0; i < count; ++i) {
            if (!m_building) {
                m_building = std::make_shared<Batch>();
                m_building->users.reserve(size_t(m_options.maxBatchItems));
            }
            v1::PublishItem *item = m_building->request.add_items();
            item->set_stream(source.stream);
            std::string *id = item->mutable_id();
            id->reserve(source.idPrefix.size() + 20);
            id->assign(source.idPrefix);
            id->append(std::to_string(++source.counter));
            UserVerifier::writePayload(item->mutable_payload(), sendUs, source.userUtf8);
            m_building->users.push_back(source.user);
            ++m_sent;
            if (int(m_building->users.size()) >= m_options.maxBatchItems)
                flushBuilding();
        }
    }
    flushBuilding();
    pump();
}

void Publisher::flushBuilding()
{
    if (m_building)
        m_queue.push_back(std::move(m_building));
    m_building.reset();
}

std::shared_ptr<Publisher::Batch> Publisher::takeBatch()
{
    std::shared_ptr<Batch> batch = std::move(m_queue.front());
    m_queue.pop_front();
    // Batches that waited (all slots busy, or backing off) leave together, as few requests
    // as the size cap allows. Items move, they are not copied.
    std::vector<v1::PublishItem *> moved;
    while (!m_queue.empty() &&
           batch->users.size() + m_queue.front()->users.size() <= size_t(m_options.maxBatchItems)) {
        std::shared_ptr<Batch> next = std::move(m_queue.front());
        m_queue.pop_front();
        auto *items = next->request.mutable_items();
        moved.resize(size_t(items->size()));
        items->ExtractSubrange(0, items->size(), moved.data());
        for (v1::PublishItem *item : moved)
            batch->request.mutable_items()->AddAllocated(item);
        batch->users.insert(batch->users.end(), next->users.begin(), next->users.end());
    }
    return batch;
}

void Publisher::pump()
{
    if (m_abandoned || m_retryTimer.isActive())
        return;
    while (m_inFlight < m_options.maxInFlight && !m_queue.empty())
        send(takeBatch());
}

void Publisher::send(const std::shared_ptr<Batch> &batch)
{
    QNetworkRequest request(m_publishUrl);
    request.setHeader(QNetworkRequest::ContentTypeHeader, QByteArrayLiteral("application/x-protobuf"));
    request.setRawHeader("Accept", "application/x-protobuf");
    if (!m_options.apiKey.isEmpty())
        request.setRawHeader("Authorization", "Bearer " + m_options.apiKey);
    request.setTransferTimeout(m_options.timeoutMs);
    QNetworkReply *reply = m_network->post(request, protocol::encode(batch->request));
    reply->setParent(this);
    ++m_inFlight;
    ++m_requests;
    connect(reply, &QNetworkReply::finished, this, [this, reply, batch] { onFinished(reply, batch); });
}

void Publisher::onFinished(QNetworkReply *reply, const std::shared_ptr<Batch> &batch)
{
    reply->deleteLater();
    --m_inFlight;
    if (m_abandoned)
        return;
    const QVariant statusAttribute = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute);
    const int status = statusAttribute.isValid() ? statusAttribute.toInt() : 0;
    const auto items = quint64(batch->users.size());

    // An aborted or timed-out reply is closed: read only what a server answered.
    const QByteArray body = status ? reply->readAll() : QByteArray();
    if (status == 200) {
        m_backoff.reset();
        v1::PublishResponse response;
        if (response.ParseFromArray(body.constData(), int(body.size())) &&
            response.results_size() == int(batch->users.size())) {
            for (int i = 0; i < response.results_size(); ++i)
                Q_EMIT itemAcked(batch->users[size_t(i)], response.results(i).seq());
            m_acked += items;
            pump();
            return;
        }
        // Acks that cannot be matched to items verify nothing: a node bug, not a transient one.
        qCCritical(lcProbe) << "publish answer does not match the request:" << response.results_size()
                            << "results for" << items << "items";
        m_rejected += items;
        pump();
        return;
    }

    if (status == 0 || status == 429 || status >= 500) {
        if (m_errorsLogged++ < MaxErrorsLogged)
            qCWarning(lcProbe).noquote() << "publish failed, will retry:"
                                         << (status ? u"HTTP %1"_s.arg(status)
                                             : reply->error() == QNetworkReply::OperationCanceledError
                                                 ? u"no answer within %1 ms"_s.arg(m_options.timeoutMs)
                                                 : reply->errorString());
        int retryAfterMs = 0;
        bool ok = false;
        const int seconds = reply->rawHeader("Retry-After").trimmed().toInt(&ok);
        if (ok && seconds > 0)
            retryAfterMs = std::min(seconds, 60) * 1000;
        retryLater(batch, retryAfterMs);
        return;
    }

    const QJsonObject error = QJsonDocument::fromJson(body).object().value(u"error"_s).toObject();
    if (m_errorsLogged++ < MaxErrorsLogged)
        qCCritical(lcProbe) << "publish refused: HTTP" << status << error.value(u"code"_s).toString()
                            << error.value(u"message"_s).toString();
    m_rejected += items;
    pump();
}

void Publisher::retryLater(const std::shared_ptr<Batch> &batch, int minimumDelayMs)
{
    ++m_retries;
    m_queue.push_front(batch); // older items first
    if (!m_retryTimer.isActive())
        m_retryTimer.start(std::max(minimumDelayMs, m_backoff.nextDelayMs()));
}

} // namespace bfg::probe
