// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// Which push node a new client should use (DESIGN.md, "Load policy"). A
// node is eligible when it is active, reported within the last three
// report intervals, and `connections + reserved < capacity * allowed%`.
// Among eligible nodes: the less loaded of two random ones (power of two
// choices), or with an affinity key the rendezvous-hash winner, so that
// clients sharing the key land together while that node has room; a
// requested region is preferred while it has an eligible node. Pure
// logic: the decision server feeds it, the tests drive it directly.
#pragma once

#include <QList>
#include <QRandomGenerator>
#include <QString>

#include "daemon/store/nodetable.h"

namespace bfg {

struct NodeLoad
{
    NodeRecord node;
    int reserved = 0; // assignments handed out since the node's last report
};

class LoadPolicy
{
public:
    LoadPolicy(int allowedLoadPercent, qint64 staleAfterMs);

    int allowedLoadPercent() const { return m_allowedLoadPercent; }
    void setAllowedLoadPercent(int percent) { m_allowedLoadPercent = percent; }

    bool isEligible(const NodeLoad &load, qint64 nowMs) const;
    // No report for the stale window (or never): the node counts as down.
    bool isSilent(const NodeLoad &load, qint64 nowMs) const;

    // The index of the chosen node in `nodes`, or -1 when none is eligible.
    // With a region, only eligible nodes of that region are considered while
    // there is one; then any eligible node.
    int choose(const QList<NodeLoad> &nodes, const QString &affinity, const QString &region, qint64 nowMs,
               QRandomGenerator &random) const;

private:
    static double loadFraction(const NodeLoad &load);

    int m_allowedLoadPercent;
    qint64 m_staleAfterMs;
};

} // namespace bfg
