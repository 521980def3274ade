// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
#include "daemon/decision/clusterstate.h"

#include "common/logging.h"
#include "common/protocol.h"
#include "daemon/decision/decisionserver.h"
#include "daemon/store/database.h"
#include "daemon/store/nodetable.h"
#include "daemon/store/settingstable.h"

using namespace Qt::Literals::StringLiterals;

namespace bfg {

namespace {
constexpr int StaleReports = 3; // a node silent this many intervals is not eligible

QString stateName(v1::NodeState state)
{
    switch (state) {
    case v1::NODE_DRAINING:
        return u"draining"_s;
    case v1::NODE_DRAINED:
        return u"drained"_s;
    default:
        return u"active"_s;
    }
}
} // namespace

ClusterState::ClusterState(const DecisionOptions &options)
    : m_options(options)
    , m_policy(options.allowedLoadPercent, qint64(options.reportIntervalMs) * StaleReports)
{}

ClusterState::~ClusterState() = default;

bool ClusterState::open(QString *error)
{
    m_database = std::make_unique<Database>();
    if (!m_database->open(m_options.store, Database::Schema::Decision, error))
        return false;
    m_nodeTable = std::make_unique<NodeTable>(m_database->db());
    m_settings = std::make_unique<SettingsTable>(m_database->db());
    m_audit = std::make_unique<AuditTable>(m_database->db());
    m_adminKeys = std::make_unique<AdminKeyTable>(m_database->db());
    for (const AdminKeyConfig &key : m_options.adminKeys) {
        if (!m_adminKeys->save({key.name, key.scope, AdminKeyTable::hashKey(key.key.toUtf8())}, error))
            return false;
    }
    reload();
    return true;
}

void ClusterState::reload()
{
    QString error;
    if (refresh(&error))
        return;
    // Qt's PostgreSQL driver does not reconnect by itself after the server
    // restarted or dropped us: do it here, once per interval at most.
    qCWarning(lcDecision) << "reading the store failed, reconnecting:" << error;
    if (!m_database->reconnect(&error) || !refresh(&error))
        qCWarning(lcDecision) << "the store is still unavailable:" << error;
}

bool ClusterState::refresh(QString *error)
{
    const auto allowed = m_settings->value(SettingsTable::AllowedLoadKey, error);
    if (!error->isEmpty())
        return false;
    if (allowed) {
        bool ok = false;
        const int percent = allowed->toInt(&ok);
        if (ok && percent >= 1 && percent <= 100)
            m_policy.setAllowedLoadPercent(percent);
    }
    const QList<AdminKey> keys = m_adminKeys->all(error);
    if (!error->isEmpty())
        return false;
    m_keysByHash.clear();
    for (const AdminKey &key : keys)
        m_keysByHash.insert(key.keyHash, key);

    const QList<NodeRecord> stored = m_nodeTable->all(error);
    if (!error->isEmpty())
        return false;
    QHash<QString, int> reserved;
    for (const NodeLoad &load : std::as_const(m_nodes))
        reserved.insert(load.node.id, load.reserved);
    QList<NodeLoad> nodes;
    nodes.reserve(stored.size());
    for (const NodeRecord &node : stored)
        nodes.append({node, reserved.value(node.id)});
    m_nodes = std::move(nodes);
    return true;
}

NodeLoad *ClusterState::find(const QString &id)
{
    const auto it = std::lower_bound(m_nodes.begin(), m_nodes.end(), id,
                                     [](const NodeLoad &n, const QString &key) { return n.node.id < key; });
    return it != m_nodes.end() && it->node.id == id ? &*it : nullptr;
}

void ClusterState::applyReport(const v1::NodeReport &report, qint64 nowMs)
{
    const QString id = QString::fromStdString(report.node_id());
    NodeLoad *load = find(id);
    if (!load) {
        NodeLoad fresh;
        fresh.node.id = id;
        const auto at =
            std::lower_bound(m_nodes.begin(), m_nodes.end(), id,
                             [](const NodeLoad &n, const QString &key) { return n.node.id < key; });
        load = &*m_nodes.insert(at, fresh);
        qCInfo(lcDecision).noquote() << logEvent(
            "node_new", {{"node", id}, {"uri", QString::fromStdString(report.uri())}});
    }
    NodeRecord &node = load->node;
    node.uri = QString::fromStdString(report.uri());
    node.publishUri = QString::fromStdString(report.publish_uri());
    node.region = QString::fromStdString(report.region());
    node.capacity = int(std::min<quint32>(report.capacity(), 100'000'000));
    node.connections = int(std::min<quint32>(report.connections(), 100'000'000));
    node.state = stateName(report.state());
    node.deliveredPerSec = report.delivered_per_sec();
    node.latencyP50Ms = report.latency_p50_ms();
    node.latencyP99Ms = report.latency_p99_ms();
    node.broker = QString::fromStdString(report.broker());
    node.lastReportMs = nowMs;
    load->reserved = 0; // the report's connection count now includes them

    QString error;
    if (!m_nodeTable->saveReport(node, &error))
        qCWarning(lcDecision) << "cannot store the report of" << id << error;

    // Capacity learning: the fewest connections at which the node's p99 went
    // over the SLO is what the operator should call its 100%.
    if (m_options.latencySloMs > 0 && node.latencyP99Ms > m_options.latencySloMs && node.connections > 0 &&
        (node.suggestedCapacity == 0 || node.connections < node.suggestedCapacity)) {
        qCInfo(lcDecision).noquote() << logEvent("node_over_slo",
                                                 {{"node", id},
                                                  {"p99_ms", QString::number(node.latencyP99Ms)},
                                                  {"connections", QString::number(node.connections)},
                                                  {"suggested_capacity", QString::number(node.connections)}});
        node.suggestedCapacity = node.connections;
        if (m_nodeTable->setSuggestedCapacity(id, node.connections, &error) < 0)
            qCWarning(lcDecision) << "cannot store the suggested capacity of" << id << error;
    }
}

std::optional<AdminKey> ClusterState::authenticate(const QByteArray &token) const
{
    if (token.isEmpty())
        return std::nullopt;
    // Keys are looked up by their SHA-256: no comparison of secrets happens.
    const auto it = m_keysByHash.constFind(AdminKeyTable::hashKey(token));
    if (it == m_keysByHash.cend())
        return std::nullopt;
    return *it;
}

bool ClusterState::record(const QString &actor, const QString &action, const QString &target,
                          const QString &oldValue, const QString &newValue, QString *error)
{
    AuditEntry entry;
    entry.atMs = protocol::nowMs();
    entry.actor = actor;
    entry.action = action;
    entry.target = target;
    entry.oldValue = oldValue;
    entry.newValue = newValue;
    qCInfo(lcDecision).noquote() << logEvent(
        "audit",
        {{"actor", actor}, {"action", action}, {"target", target}, {"old", oldValue}, {"new", newValue}});
    return m_audit->append(entry, error);
}

int ClusterState::setAllowedLoad(int percent, const QString &actor, QString *error)
{
    const int old = m_policy.allowedLoadPercent();
    if (!m_settings->setValue(SettingsTable::AllowedLoadKey, QString::number(percent), error))
        return -1;
    m_policy.setAllowedLoadPercent(percent);
    return record(actor, u"set_allowed_load"_s, u"cluster"_s, QString::number(old), QString::number(percent),
                  error)
               ? 1
               : -1;
}

int ClusterState::setAdminState(const QString &id, const QString &adminState, const QString &actor,
                                QString *error)
{
    NodeLoad *load = find(id);
    if (!load)
        return 0;
    const QString old = load->node.adminState;
    const int changed = m_nodeTable->setAdminState(id, adminState, error);
    if (changed <= 0)
        return changed;
    load->node.adminState = adminState;
    const QString action = adminState == u"active"_s ? u"undrain"_s : u"drain"_s;
    return record(actor, action, id, old, adminState, error) ? 1 : -1;
}

int ClusterState::setCapacity(const QString &id, int capacity, const QString &actor, QString *error)
{
    NodeLoad *load = find(id);
    if (!load)
        return 0;
    const int old = load->node.effectiveCapacity();
    const int changed = m_nodeTable->setCapacityOverride(id, capacity, error);
    if (changed <= 0)
        return changed;
    load->node.capacityOverride = capacity;
    return record(actor, u"set_capacity"_s, id, QString::number(old), QString::number(capacity), error) ? 1
                                                                                                        : -1;
}

int ClusterState::forget(const QString &id, const QString &actor, QString *error)
{
    NodeLoad *load = find(id);
    if (!load)
        return 0;
    const QString old = u"%1 %2"_s.arg(load->node.uri, load->node.adminState);
    const int changed = m_nodeTable->remove(id, error);
    if (changed <= 0)
        return changed;
    m_nodes.removeAt(int(load - m_nodes.data()));
    return record(actor, u"forget"_s, id, old, QString(), error) ? 1 : -1;
}

QList<AuditEntry> ClusterState::audit(qint64 sinceMs, int limit, QString *error) const
{
    return m_audit->since(sinceMs, limit, error);
}

bool ClusterState::replaceConfiguredKeys(const QList<AdminKeyConfig> &previous,
                                         const QList<AdminKeyConfig> &keys, QString *error)
{
    QList<AdminKey> saved;
    QStringList names;
    for (const AdminKeyConfig &key : keys) {
        saved.append({key.name, key.scope, AdminKeyTable::hashKey(key.key.toUtf8())});
        names.append(key.name);
    }
    QStringList removed;
    for (const AdminKeyConfig &key : previous) {
        if (!names.contains(key.name))
            removed.append(key.name);
    }
    if (!m_adminKeys->update(saved, removed, error))
        return false;
    reload();
    return true;
}

void ClusterState::setConfiguredAllowedLoad(int percent)
{
    m_policy.setAllowedLoadPercent(percent);
    reload(); // an operator's value in the store wins
}

v1::ClusterSnapshot ClusterState::snapshot(qint64 nowMs) const
{
    v1::ClusterSnapshot snapshot;
    snapshot.set_at_ms(nowMs);
    snapshot.set_allowed_load(quint32(m_policy.allowedLoadPercent()));
    snapshot.set_decision_id(m_options.decisionId.toStdString());
    snapshot.set_report_interval_ms(quint32(m_options.reportIntervalMs));
    quint64 connections = 0;
    quint64 capacity = 0;
    double delivered = 0;
    for (const NodeLoad &load : m_nodes) {
        const NodeRecord &node = load.node;
        v1::NodeStatus *status = snapshot.add_nodes();
        status->set_id(node.id.toStdString());
        status->set_uri(node.uri.toStdString());
        status->set_publish_uri(node.publishUri.toStdString());
        status->set_region(node.region.toStdString());
        status->set_state(node.state.toStdString());
        status->set_admin_state(node.adminState.toStdString());
        status->set_capacity(quint32(node.effectiveCapacity()));
        status->set_reported_capacity(quint32(node.capacity));
        status->set_capacity_override(quint32(node.capacityOverride));
        status->set_suggested_capacity(quint32(node.suggestedCapacity));
        status->set_connections(quint32(node.connections));
        status->set_reserved(quint32(load.reserved));
        status->set_load_percent(
            node.effectiveCapacity() > 0 ? 100.0 * node.connections / node.effectiveCapacity() : 0.0);
        status->set_delivered_per_sec(node.deliveredPerSec);
        status->set_latency_p50_ms(node.latencyP50Ms);
        status->set_latency_p99_ms(node.latencyP99Ms);
        status->set_broker(node.broker.toStdString());
        status->set_last_report_age_ms(node.lastReportMs ? nowMs - node.lastReportMs : -1);
        status->set_eligible(m_policy.isEligible(load, nowMs));
        status->set_down(m_policy.isSilent(load, nowMs));
        connections += quint64(node.connections);
        capacity += quint64(node.effectiveCapacity());
        delivered += node.deliveredPerSec;
    }
    snapshot.set_connections(connections);
    snapshot.set_capacity(capacity);
    snapshot.set_delivered_per_sec(delivered);
    return snapshot;
}

} // namespace bfg
