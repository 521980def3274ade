// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
#include "console/core/recentclusters.h"

#include <QSettings>

using namespace Qt::Literals::StringLiterals;

namespace bfg {

namespace {
const QString Group = u"recent"_s;
const QString NameKey = u"name"_s;
const QString UrlsKey = u"decisionUrls"_s;
} // namespace

RecentClusters::RecentClusters(QSettings *settings)
    : m_settings(settings)
{
    Q_ASSERT(settings);
}

QList<RecentCluster> RecentClusters::clusters() const
{
    QList<RecentCluster> clusters;
    const int size = m_settings->beginReadArray(Group);
    for (int i = 0; i < size && clusters.size() < MaxCount; ++i) {
        m_settings->setArrayIndex(i);
        RecentCluster cluster{m_settings->value(NameKey).toString(),
                              normalizedUrls(m_settings->value(UrlsKey).toStringList())};
        if (!cluster.decisionUrls.isEmpty())
            clusters.append(std::move(cluster));
    }
    m_settings->endArray();
    return clusters;
}

void RecentClusters::remember(const RecentCluster &cluster)
{
    const RecentCluster entry{cluster.name.trimmed(), normalizedUrls(cluster.decisionUrls)};
    if (entry.decisionUrls.isEmpty())
        return;
    QList<RecentCluster> clusters = this->clusters();
    clusters.removeIf([&entry](const RecentCluster &c) { return c.decisionUrls == entry.decisionUrls; });
    clusters.prepend(entry);
    write(clusters.mid(0, MaxCount));
}

void RecentClusters::forget(const QStringList &decisionUrls)
{
    const QStringList urls = normalizedUrls(decisionUrls);
    QList<RecentCluster> clusters = this->clusters();
    if (clusters.removeIf([&urls](const RecentCluster &c) { return c.decisionUrls == urls; }) > 0)
        write(clusters);
}

QStringList RecentClusters::normalizedUrls(const QStringList &decisionUrls)
{
    QStringList urls;
    urls.reserve(decisionUrls.size());
    for (const QString &url : decisionUrls) {
        QString normalized = url.trimmed();
        while (normalized.endsWith(u'/'))
            normalized.chop(1);
        if (!normalized.isEmpty())
            urls.append(normalized);
    }
    return urls;
}

QString RecentClusters::keyFor(const QStringList &decisionUrls)
{
    return normalizedUrls(decisionUrls).join(u',');
}

void RecentClusters::write(const QList<RecentCluster> &clusters)
{
    m_settings->remove(Group);
    m_settings->beginWriteArray(Group, int(clusters.size()));
    for (int i = 0; i < clusters.size(); ++i) {
        m_settings->setArrayIndex(i);
        m_settings->setValue(NameKey, clusters.at(i).name);
        m_settings->setValue(UrlsKey, clusters.at(i).decisionUrls);
    }
    m_settings->endArray();
}

} // namespace bfg
