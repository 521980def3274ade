// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
#include "daemon/metrics/metricsregistry.h"

#include "common/protocol.h"
#include "daemon/http/httpservice.h"
#include "daemon/metrics/metricswriter.h"
#include "daemon/metrics/processmetrics.h"

using namespace Qt::Literals::StringLiterals;

namespace bfg {

void MetricsRegistry::addCollector(Collector collector)
{
    m_collectors.push_back(std::move(collector));
}

QByteArray MetricsRegistry::scrape() const
{
    MetricsWriter writer;
    for (const Collector &collector : m_collectors)
        collector(writer);
    ProcessMetrics::write(writer);
    return writer.text();
}

void MetricsRegistry::serve(HttpService *http, const QByteArray &key) const
{
    http->addRoute(
        QHttpServerRequest::Method::Get, u"/metrics"_s,
        [this, key](const QHttpServerRequest &request, const QStringList &, const HttpReplyPtr &reply) {
            if (!key.isEmpty()) {
                const QByteArray header = request.value(QByteArrayLiteral("authorization"));
                const QByteArray presented =
                    header.startsWith("Bearer ") ? header.mid(7).trimmed() : QByteArray();
                if (!protocol::constantTimeEquals(presented, key)) {
                    reply->sendError({401, u"unauthorized"_s,
                                      u"metrics need Authorization: Bearer <general/metrics_key>"_s});
                    return;
                }
            }
            reply->send(200, MetricsWriter::ContentType, scrape());
        });
}

} // namespace bfg
