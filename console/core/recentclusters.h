// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// The clusters the operator connected to, newest first, kept in QSettings
// (group "recent") so that the connect dialog can offer them again. Names
// and decision URLs only: tokens live in the CredentialStore, under the key
// keyFor() gives.
#pragma once

#include <QList>
#include <QString>
#include <QStringList>

class QSettings;

namespace bfg {

struct RecentCluster
{
    QString name;
    QStringList decisionUrls; // in fallback order

    friend bool operator==(const RecentCluster &a, const RecentCluster &b)
    {
        return a.name == b.name && a.decisionUrls == b.decisionUrls;
    }
    friend bool operator!=(const RecentCluster &a, const RecentCluster &b) { return !(a == b); }
};

class RecentClusters
{
public:
    static constexpr int MaxCount = 10;

    explicit RecentClusters(QSettings *settings); // not owned

    QList<RecentCluster> clusters() const;       // newest first, at most MaxCount
    void remember(const RecentCluster &cluster); // moves to front, dedups by URL list
    void forget(const QStringList &decisionUrls);

    // The URLs trimmed, without trailing '/', blank ones dropped; order kept.
    static QStringList normalizedUrls(const QStringList &decisionUrls);
    // The keychain key of a cluster: its decision URLs joined with ',' (normalised: trimmed, no
    // trailing '/').
    static QString keyFor(const QStringList &decisionUrls);

private:
    void write(const QList<RecentCluster> &clusters);

    QSettings *m_settings;
};

} // namespace bfg
