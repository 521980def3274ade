// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
#include "daemon/decision/loadpolicy.h"

#include <QCryptographicHash>

using namespace Qt::Literals::StringLiterals;

namespace bfg {

LoadPolicy::LoadPolicy(int allowedLoadPercent, qint64 staleAfterMs)
    : m_allowedLoadPercent(allowedLoadPercent)
    , m_staleAfterMs(staleAfterMs)
{}

bool LoadPolicy::isSilent(const NodeLoad &load, qint64 nowMs) const
{
    return nowMs - load.node.lastReportMs >= m_staleAfterMs;
}

bool LoadPolicy::isEligible(const NodeLoad &load, qint64 nowMs) const
{
    const NodeRecord &node = load.node;
    if (node.state != u"active"_s || node.adminState != u"active"_s)
        return false;
    if (isSilent(load, nowMs))
        return false;
    // connections + reserved < capacity * allowed / 100, in integers.
    return qint64(node.connections + load.reserved) * 100 <
           qint64(node.effectiveCapacity()) * m_allowedLoadPercent;
}

double LoadPolicy::loadFraction(const NodeLoad &load)
{
    const int capacity = load.node.effectiveCapacity();
    return capacity > 0 ? double(load.node.connections + load.reserved) / capacity : 1.0;
}

int LoadPolicy::choose(const QList<NodeLoad> &nodes, const QString &affinity, const QString &region,
                       qint64 nowMs, QRandomGenerator &random) const
{
    QList<int> eligible;
    QList<int> inRegion;
    for (int i = 0; i < nodes.size(); ++i) {
        if (!isEligible(nodes[i], nowMs))
            continue;
        eligible.append(i);
        if (!region.isEmpty() && nodes[i].node.region == region)
            inRegion.append(i);
    }
    if (!inRegion.isEmpty())
        eligible = inRegion;
    if (eligible.isEmpty())
        return -1;

    if (!affinity.isEmpty()) {
        // Rendezvous (highest random weight) hashing: adding or losing a node
        // moves only the keys that node wins or held.
        int best = -1;
        QByteArray bestScore;
        for (int i : std::as_const(eligible)) {
            const QByteArray score = QCryptographicHash::hash((affinity + u'\n' + nodes[i].node.id).toUtf8(),
                                                              QCryptographicHash::Sha1);
            if (best < 0 || score > bestScore) {
                best = i;
                bestScore = score;
            }
        }
        return best;
    }

    if (eligible.size() == 1)
        return eligible.first();
    const int first = int(random.bounded(quint32(eligible.size())));
    int second = int(random.bounded(quint32(eligible.size() - 1)));
    if (second >= first)
        ++second;
    const int a = eligible[first];
    const int b = eligible[second];
    return loadFraction(nodes[b]) < loadFraction(nodes[a]) ? b : a;
}

} // namespace bfg
