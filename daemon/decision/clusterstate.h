// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// What a decision server knows about the cluster: the nodes with their
// last reports, the allowed load, the admin keys. Kept in memory for the
// hot path (every assignment) and written through to the store; reloaded
// from the store every report interval, so that several decision servers
// on one PostgreSQL database agree within one interval. Every change an
// operator makes lands in the audit log.
#pragma once

#include <memory>
#include <optional>

#include <QHash>

#include "bfg/v1/cluster.pb.h"
#include "daemon/decision/loadpolicy.h"
#include "daemon/store/adminkeytable.h"
#include "daemon/store/audittable.h"

namespace bfg {

class Database;
class NodeTable;
class SettingsTable;
struct AdminKeyConfig;
struct DecisionOptions;

class ClusterState
{
public:
    static inline const QString ReadScope = QStringLiteral("read");
    static inline const QString OperatorScope = QStringLiteral("operator");

    explicit ClusterState(const DecisionOptions &options);
    ~ClusterState();
    Q_DISABLE_COPY_MOVE(ClusterState)

    bool open(QString *error);
    // Takes what other decision servers (and operators through them) wrote.
    void reload();

    const LoadPolicy &policy() const { return m_policy; }
    QList<NodeLoad> &nodes() { return m_nodes; }
    NodeLoad *find(const QString &id);

    void applyReport(const v1::NodeReport &report, qint64 nowMs);
    // The admin key behind a bearer token, if any.
    std::optional<AdminKey> authenticate(const QByteArray &token) const;

    // Operator changes. They return 1 when done, 0 for an unknown node,
    // -1 on a store error (with `error` set).
    int setAllowedLoad(int percent, const QString &actor, QString *error);
    int setAdminState(const QString &id, const QString &adminState, const QString &actor, QString *error);
    int setCapacity(const QString &id, int capacity, const QString &actor, QString *error);
    int forget(const QString &id, const QString &actor, QString *error);
    QList<AuditEntry> audit(qint64 sinceMs, int limit, QString *error) const;

    // A reload of the configuration. The configured admin keys become
    // `keys`: saved, and those of `previous` no longer named deleted, in one
    // transaction (false, nothing changed, on a store error).
    bool replaceConfiguredKeys(const QList<AdminKeyConfig> &previous, const QList<AdminKeyConfig> &keys,
                               QString *error);
    // The configuration's allowed load: in effect unless an operator has set
    // one through the admin API (kept in the store), which stays.
    void setConfiguredAllowedLoad(int percent);

    v1::ClusterSnapshot snapshot(qint64 nowMs) const;

private:
    bool refresh(QString *error);
    bool record(const QString &actor, const QString &action, const QString &target, const QString &oldValue,
                const QString &newValue, QString *error);

    const DecisionOptions &m_options;
    LoadPolicy m_policy;
    std::unique_ptr<Database> m_database;
    std::unique_ptr<NodeTable> m_nodeTable;
    std::unique_ptr<SettingsTable> m_settings;
    std::unique_ptr<AuditTable> m_audit;
    std::unique_ptr<AdminKeyTable> m_adminKeys;
    QList<NodeLoad> m_nodes; // in id order
    QHash<QByteArray, AdminKey> m_keysByHash;
};

} // namespace bfg
