// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
#include "daemon/push/reporter.h"

#include <QNetworkReply>

#include "bfg/v1/cluster.pb.h"
#include "common/logging.h"
#include "common/protocol.h"
#include "daemon/push/pushserver.h"

using namespace Qt::Literals::StringLiterals;

namespace bfg {

namespace {
constexpr qint64 NodeTokenLifetimeSeconds = 300;
}

Reporter::Reporter(const PushOptions &options, PushServer *server, QObject *parent)
    : QObject(parent)
    , m_options(options)
    , m_server(server)
    , m_signer(options.secret, options.previousSecrets)
{
    m_timer.setInterval(m_options.reportIntervalMs);
    connect(&m_timer, &QTimer::timeout, this, &Reporter::sendReports);
}

void Reporter::start()
{
    m_lastReportMs = protocol::nowMs();
    sendReports(); // be eligible at once, not one interval later
    m_timer.start();
}

void Reporter::stop()
{
    m_timer.stop();
}

void Reporter::reconfigure(const PushOptions &options)
{
    m_options = options;
    m_signer = TokenSigner(options.secret, options.previousSecrets);
}

void Reporter::sendReports()
{
    const qint64 nowMs = protocol::nowMs();
    const quint64 delivered = m_server->stats().delivered.load(std::memory_order_relaxed);
    const double seconds = std::max<qint64>(1, nowMs - m_lastReportMs) / 1000.0;
    const LatencyHistogram latency = m_server->takeLatency();

    v1::NodeReport report;
    report.set_node_id(m_options.nodeId.toStdString());
    report.set_uri(m_server->publicUri().toStdString());
    report.set_publish_uri(m_server->publicHttpUri().toStdString());
    report.set_region(m_options.region.toStdString());
    report.set_capacity(quint32(m_options.capacity));
    report.set_connections(
        quint32(std::max(0, m_server->stats().connections.load(std::memory_order_relaxed))));
    report.set_state(m_server->state());
    report.set_delivered_per_sec(double(delivered - m_lastDelivered) / seconds);
    report.set_latency_p50_ms(latency.percentileUs(50) / 1000.0);
    report.set_latency_p99_ms(latency.percentileUs(99) / 1000.0);
    report.set_sent_at_ms(nowMs);
    report.set_broker(m_server->brokerHealth().state.toStdString());
    m_lastDelivered = delivered;
    m_lastReportMs = nowMs;
    const QByteArray body = protocol::encode(report);

    TokenClaims claims;
    claims.subject = m_options.nodeId;
    claims.scope = TokenSigner::NodeScope;
    claims.issuedAt = nowMs / 1000;
    claims.expiresAt = claims.issuedAt + NodeTokenLifetimeSeconds;
    const QByteArray authorization = "Bearer " + m_signer.sign(claims);

    for (const QUrl &decision : std::as_const(m_options.decisionUrls)) {
        QUrl url = decision;
        url.setPath(decision.path().chopped(decision.path().endsWith(u'/') ? 1 : 0) + u"/v1/nodes/"_s +
                    QString::fromUtf8(QUrl::toPercentEncoding(m_options.nodeId)) + u"/report"_s);
        QNetworkRequest request(url);
        request.setHeader(QNetworkRequest::ContentTypeHeader, u"application/x-protobuf"_s);
        request.setRawHeader("Accept", "application/x-protobuf");
        request.setRawHeader("Authorization", authorization);
        request.setTransferTimeout(std::max(500, m_options.reportIntervalMs));
        QNetworkReply *reply = m_network.post(request, body);
        connect(reply, &QNetworkReply::finished, this, [this, reply, decision] {
            reply->deleteLater();
            const int status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
            if (reply->error() != QNetworkReply::NoError && status == 0) {
                qCWarning(lcPush) << "report to" << decision.toString() << "failed:" << reply->errorString();
                return;
            }
            v1::ReportReply answer;
            if (status != 200 || !protocol::decode(reply->readAll(), &answer)) {
                qCWarning(lcPush) << "report to" << decision.toString() << "refused: HTTP" << status;
                return;
            }
            if (answer.report_interval_ms() >= 100 && int(answer.report_interval_ms()) != m_timer.interval())
                m_timer.setInterval(int(answer.report_interval_ms()));
            if (answer.command() == v1::NODE_COMMAND_DRAIN)
                m_server->startDrain();
            else if (answer.command() == v1::NODE_COMMAND_UNDRAIN)
                m_server->undrain();
        });
    }
}

} // namespace bfg
