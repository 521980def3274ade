// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
#include "client/publisher.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include <QJsonDocument>
#include <QJsonObject>
#include <QRandomGenerator>

#include "client/userverifier.h"
#include "common/httpconnection.h"
#include "common/logging.h"
#include "common/protocol.h"

using namespace Qt::Literals::StringLiterals;

namespace bfg::probe {

namespace {
constexpr int RetryBaseMs = 100;
constexpr int RetryCapMs = 2000;
constexpr int MaxErrorsLogged = 10;
constexpr double MaxTickGapS = 1.0; // after a stall, catch up at most this much

int varintSize(quint64 value)
{
    int size = 1;
    while (value >= 0x80) {
        value >>= 7;
        ++size;
    }
    return size;
}

char *writeVarint(char *out, quint64 value)
{
    while (value >= 0x80) {
        *out++ = char(value | 0x80);
        value >>= 7;
    }
    *out++ = char(value);
    return out;
}

// A length-delimited field (wire type 2) of number `field` below 16.
char *writeBytesField(char *out, int field, const std::string &data)
{
    *out++ = char(field << 3 | 2);
    out = writeVarint(out, data.size());
    std::memcpy(out, data.data(), data.size());
    return out + data.size();
}

// Reads protobuf wire format: just enough to take the seqs out of a PublishResponse.
class WireReader
{
public:
    explicit WireReader(QByteArrayView bytes)
        : m_p(reinterpret_cast<const uchar *>(bytes.data()))
        , m_end(m_p + bytes.size())
    {}
    bool atEnd() const { return m_p == m_end; }
    bool varint(quint64 *value)
    {
        *value = 0;
        for (int shift = 0; shift < 64 && m_p < m_end; shift += 7) {
            const uchar byte = *m_p++;
            *value |= quint64(byte & 0x7f) << shift;
            if (!(byte & 0x80))
                return true;
        }
        return false;
    }
    // A length-delimited field's bytes.
    bool bytes(QByteArrayView *value)
    {
        quint64 size = 0;
        if (!varint(&size) || size > quint64(m_end - m_p))
            return false;
        *value = QByteArrayView(reinterpret_cast<const char *>(m_p), qsizetype(size));
        m_p += size;
        return true;
    }
    bool skip(int wireType)
    {
        quint64 ignored = 0;
        QByteArrayView ignoredBytes;
        switch (wireType) {
        case 0:
            return varint(&ignored);
        case 1:
        case 5: {
            const int size = wireType == 1 ? 8 : 4;
            if (m_end - m_p < size)
                return false;
            m_p += size;
            return true;
        }
        case 2:
            return bytes(&ignoredBytes);
        default:
            return false;
        }
    }

private:
    const uchar *m_p;
    const uchar *m_end;
};

// The seq of each PublishResult (field 2) of a PublishResponse (results: field 1), in
// order. Read off the wire: the stream and epoch strings of every result are not needed.
bool readSeqs(QByteArrayView body, std::vector<quint64> *seqs)
{
    seqs->clear();
    WireReader response(body);
    while (!response.atEnd()) {
        quint64 key = 0;
        if (!response.varint(&key))
            return false;
        if (key != (1 << 3 | 2)) {
            if (!response.skip(int(key & 7)))
                return false;
            continue;
        }
        QByteArrayView resultBytes;
        if (!response.bytes(&resultBytes))
            return false;
        WireReader result(resultBytes);
        quint64 seq = 0;
        while (!result.atEnd()) {
            if (!result.varint(&key))
                return false;
            if (key == (2 << 3 | 0)) {
                if (!result.varint(&seq))
                    return false;
            } else if (!result.skip(int(key & 7))) {
                return false;
            }
        }
        seqs->push_back(seq);
    }
    return true;
}

// One PublishItem {stream = 1, payload = 2, id = 3} as an element of
// PublishRequest.items (field 1), exactly as protobuf encodes it. Requests are
// written straight into the bytes that go out: no message object and three
// strings per item, no encoding pass. Protobuf concatenates repeated fields, so
// batches merge by appending their bytes.
void appendItem(QByteArray *out, const std::string &stream, const std::string &payload, const std::string &id)
{
    const auto fieldSize = [](size_t size) { return 1 + varintSize(size) + size; };
    const size_t itemSize = fieldSize(stream.size()) + fieldSize(payload.size()) + fieldSize(id.size());
    const qsizetype start = out->size();
    out->resize(start + qsizetype(1 + varintSize(itemSize) + itemSize));
    char *p = out->data() + start;
    *p++ = char(1 << 3 | 2);
    p = writeVarint(p, itemSize);
    p = writeBytesField(p, 1, stream);
    p = writeBytesField(p, 2, payload);
    p = writeBytesField(p, 3, id);
    Q_ASSERT(p == out->data() + out->size());
}
} // namespace

struct Publisher::Source
{
    int user;             // or the key of a shared stream
    std::string stream;   // "user:<id>" or the shared stream
    std::string idPrefix; // "<id>-"
    std::string tagUtf8;  // the payload's tag: the user id or the stream
    double rate;          // messages a second
    double due;           // messages owed, fractional
    quint64 counter = 0;
};

struct Publisher::Batch
{
    QByteArray request;     // a PublishRequest, kept as is for retries: same items, same ids
    std::vector<int> users; // of each item, in order
};

Publisher::Publisher(Options options, QObject *parent)
    : QObject(parent)
    , m_options(std::move(options))
    , m_backoff(RetryBaseMs, RetryCapMs)
{
    QString path = m_options.baseUrl.path(QUrl::FullyEncoded);
    while (path.endsWith(u'/'))
        path.chop(1);
    m_publishPath = (path + u"/v1/publish"_s).toUtf8();
    m_headers = "Content-Type: application/x-protobuf\r\nAccept: application/x-protobuf\r\n";
    if (!m_options.apiKey.isEmpty())
        m_headers += "Authorization: Bearer " + m_options.apiKey + "\r\n";
    for (int i = 0; i < m_options.maxInFlight; ++i)
        m_idle.push_back(new HttpConnection(m_options.baseUrl, m_options.timeoutMs, this));

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
    source.tagUtf8 = userId.toStdString();
    source.idPrefix = source.tagUtf8 + '-';
    source.rate = m_options.ratePerUser;
    // A random phase, so that users added together do not all publish in the same tick.
    source.due = QRandomGenerator::global()->generateDouble();
    m_sources.push_back(std::move(source));
}

void Publisher::addStream(int key, const QString &stream, double rate, const QString &idPrefix)
{
    Source source;
    source.user = key;
    source.stream = stream.toStdString();
    source.tagUtf8 = source.stream;
    source.idPrefix = idPrefix.toStdString();
    source.rate = rate;
    source.due = 0;
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
    const qint64 sendUs = protocol::nowUs(); // one clock read per tick: these go out together

    for (Source &source : m_sources) {
        source.due += source.rate * m_rateFactor * elapsedS;
        if (source.due < 1.0)
            continue;
        const auto count = quint64(source.due);
        source.due -= double(count);
        for (quint64 i = 0; i < count; ++i) {
            if (!m_building) {
                m_building = std::make_shared<Batch>();
                m_building->users.reserve(size_t(m_options.maxBatchItems));
            }
            m_id.assign(source.idPrefix);
            m_id.append(std::to_string(++source.counter));
            UserVerifier::writePayload(&m_payload, sendUs, source.tagUtf8);
            appendItem(&m_building->request, source.stream, m_payload, m_id);
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
    // as the size cap allows.
    while (!m_queue.empty() &&
           batch->users.size() + m_queue.front()->users.size() <= size_t(m_options.maxBatchItems)) {
        std::shared_ptr<Batch> next = std::move(m_queue.front());
        m_queue.pop_front();
        batch->request += next->request;
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
    HttpConnection *connection = m_idle.back();
    m_idle.pop_back();
    ++m_inFlight;
    ++m_requests;
    connection->request("POST", m_publishPath, m_headers, batch->request,
                        [this, connection, batch](const HttpConnection::Response &response) {
                            onFinished(connection, response, batch);
                        });
}

void Publisher::onFinished(HttpConnection *connection, const HttpConnection::Response &response,
                           const std::shared_ptr<Batch> &batch)
{
    m_idle.push_back(connection);
    --m_inFlight;
    if (m_abandoned)
        return;
    const int status = response.status;
    const QByteArray &body = response.body;
    const auto items = quint64(batch->users.size());

    if (status == 200) {
        m_backoff.reset();
        if (readSeqs(body, &m_seqs) && m_seqs.size() == batch->users.size()) {
            Q_EMIT itemsAcked(batch->users, m_seqs);
            m_acked += items;
            pump();
            return;
        }
        // Acks that cannot be matched to items verify nothing: a node bug, not a transient one.
        qCCritical(lcProbe) << "publish answer does not match the request:" << m_seqs.size() << "results for"
                            << items << "items";
        m_rejected += items;
        pump();
        return;
    }

    if (status == 0 || status == 429 || status >= 500) {
        if (m_errorsLogged++ < MaxErrorsLogged)
            qCWarning(lcProbe).noquote()
                << "publish failed, will retry:" << (status ? u"HTTP %1"_s.arg(status) : response.error);
        int retryAfterMs = 0;
        bool ok = false;
        const int seconds = response.header("retry-after").toInt(&ok);
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
