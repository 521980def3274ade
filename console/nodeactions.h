// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// What an operator can do to one node: drain, undrain, set capacity,
// forget. Owns the actions (toolbar, menu, context menu share them),
// enables them for the selected node, asks for confirmation of what is
// destructive, saying what will happen, and calls the admin API.
#pragma once

#include <QObject>
#include <QString>

class QAction;
class QMessageBox;
class QWidget;

namespace bfg {

class AdminClient;
class NodeTableModel;
struct AdminResult;

class NodeActions : public QObject
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(NodeActions)

public:
    NodeActions(AdminClient *client, NodeTableModel *nodes, QWidget *window);

    QAction *drainAction() const { return m_drain; }
    QAction *undrainAction() const { return m_undrain; }
    QAction *capacityAction() const { return m_capacity; }
    QAction *forgetAction() const { return m_forget; }
    QList<QAction *> actions() const { return {m_drain, m_undrain, m_capacity, m_forget}; }

    // The node the actions apply to (empty: none selected).
    void setCurrentNode(const QString &id);
    QString currentNode() const { return m_node; }
    // Re-evaluates which actions apply, after a snapshot.
    void updateEnabled();

    // The drain confirmation for `id`, not yet shown (the screenshot mode shows it without exec()).
    QMessageBox *drainConfirmation(const QString &id);

Q_SIGNALS:
    void succeeded(const QString &message);
    void failed(const QString &message);

private:
    void drain();
    void undrain();
    void setCapacity();
    void forget();
    bool confirm(QMessageBox *box);
    void report(const QString &what, const AdminResult &result);

    AdminClient *m_client;
    NodeTableModel *m_nodes;
    QWidget *m_window;
    QString m_node;
    QAction *m_drain;
    QAction *m_undrain;
    QAction *m_capacity;
    QAction *m_forget;
};

} // namespace bfg
