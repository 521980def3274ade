// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
#include "console/nodeactions.h"

#include <QAbstractButton>
#include <QAction>
#include <QInputDialog>
#include <QLocale>
#include <QMessageBox>
#include <QPointer>

#include "console/core/adminclient.h"
#include "console/core/nodetablemodel.h"

using namespace Qt::Literals::StringLiterals;

namespace bfg {

namespace {
QAction *makeAction(const QString &icon, const QString &text, const QKeySequence &shortcut,
                    const QString &tip, const QString &name, QObject *parent)
{
    auto *action = new QAction(QIcon(u":/icons/%1.svg"_s.arg(icon)), text, parent);
    action->setShortcut(shortcut);
    action->setToolTip(u"%1 (%2)"_s.arg(tip, shortcut.toString(QKeySequence::NativeText)));
    action->setStatusTip(tip);
    action->setObjectName(name);
    return action;
}

QString count(qint64 value)
{
    return QLocale().toString(value);
}
} // namespace

NodeActions::NodeActions(AdminClient *client, NodeTableModel *nodes, QWidget *window)
    : QObject(window)
    , m_client(client)
    , m_nodes(nodes)
    , m_window(window)
{
    m_drain =
        makeAction(u"drain"_s, u"&Drain…"_s, Qt::CTRL | Qt::Key_D,
                   u"Move the node's users to other nodes and give it no new ones"_s, u"drainAction"_s, this);
    m_undrain = makeAction(u"undrain"_s, u"&Undrain"_s, Qt::CTRL | Qt::Key_U,
                           u"Let the node take new users again"_s, u"undrainAction"_s, this);
    m_capacity =
        makeAction(u"capacity"_s, u"Set &capacity…"_s, Qt::CTRL | Qt::Key_K,
                   u"Set the connections the node is rated for (its 100 %)"_s, u"capacityAction"_s, this);
    m_forget =
        makeAction(u"forget"_s, u"&Forget…"_s, QKeySequence(QKeySequence::Delete),
                   u"Remove a drained or long-silent node from the cluster view"_s, u"forgetAction"_s, this);
    // Delete means "forget this node" only where nodes are: not in the audit log or a text field.
    m_forget->setShortcutContext(Qt::WidgetWithChildrenShortcut);
    connect(m_drain, &QAction::triggered, this, &NodeActions::drain);
    connect(m_undrain, &QAction::triggered, this, &NodeActions::undrain);
    connect(m_capacity, &QAction::triggered, this, &NodeActions::setCapacity);
    connect(m_forget, &QAction::triggered, this, &NodeActions::forget);
    updateEnabled();
}

void NodeActions::setCurrentNode(const QString &id)
{
    m_node = id;
    updateEnabled();
}

void NodeActions::updateEnabled()
{
    const v1::NodeStatus *node = m_nodes->node(m_node);
    const bool ordered = node && node->admin_state() == "draining";
    m_drain->setEnabled(node && !ordered);
    m_undrain->setEnabled(ordered);
    m_capacity->setEnabled(node);
    m_forget->setEnabled(node);
}

bool NodeActions::confirm(QMessageBox *box)
{
    const bool yes = box->exec() == QMessageBox::Yes;
    box->deleteLater();
    return yes;
}

QMessageBox *NodeActions::drainConfirmation(const QString &id)
{
    const v1::NodeStatus *node = m_nodes->node(id);
    const qint64 users = node ? node->connections() : 0;
    auto *box = new QMessageBox(QMessageBox::Warning, u"Drain %1"_s.arg(id), u"Drain node %1?"_s.arg(id),
                                QMessageBox::Yes | QMessageBox::Cancel, m_window);
    box->setObjectName(u"drainConfirmation"_s);
    box->setInformativeText(
        u"Its %1 connected users are asked to reconnect to other nodes, a few at a time, and resume where "
        u"they were. It takes no new users until you undrain it. The other nodes need room for them: "
        u"check their load first."_s.arg(count(users)));
    box->button(QMessageBox::Yes)->setText(u"Drain"_s);
    box->setDefaultButton(QMessageBox::Cancel);
    return box;
}

void NodeActions::drain()
{
    const QString id = m_node;
    if (id.isEmpty() || !confirm(drainConfirmation(id)))
        return;
    m_client->drain(id, [this, id](const AdminResult &result) { report(u"Draining %1"_s.arg(id), result); });
}

void NodeActions::undrain()
{
    const QString id = m_node;
    if (id.isEmpty())
        return;
    m_client->undrain(
        id, [this, id](const AdminResult &result) { report(u"%1 takes new users again"_s.arg(id), result); });
}

void NodeActions::setCapacity()
{
    const QString id = m_node;
    const v1::NodeStatus *node = m_nodes->node(id);
    if (!node)
        return;
    bool ok = false;
    const int capacity = QInputDialog::getInt(
        m_window, u"Capacity of %1"_s.arg(id),
        u"Connections %1 is rated for (100 %); it reports %2.\nThe allowed load applies to this figure."_s
            .arg(id, count(node->reported_capacity())),
        int(node->capacity()), 1, 10'000'000, 100, &ok);
    if (!ok)
        return;
    m_client->setCapacity(id, capacity, [this, id, capacity](const AdminResult &result) {
        report(u"Capacity of %1 set to %2"_s.arg(id, count(capacity)), result);
    });
}

void NodeActions::forget()
{
    const QString id = m_node;
    if (id.isEmpty())
        return;
    auto *box = new QMessageBox(QMessageBox::Warning, u"Forget %1"_s.arg(id), u"Forget node %1?"_s.arg(id),
                                QMessageBox::Yes | QMessageBox::Cancel, m_window);
    box->setObjectName(u"forgetConfirmation"_s);
    box->setInformativeText(u"It disappears from the cluster view, its capacity override and drain order "
                            u"with it. Only a node that is drained and empty, or silent for 10 minutes, can "
                            u"be forgotten; if it reports again it comes back as new."_s);
    box->button(QMessageBox::Yes)->setText(u"Forget"_s);
    box->setDefaultButton(QMessageBox::Cancel);
    if (!confirm(box))
        return;
    m_client->forget(id, [this, id](const AdminResult &result) { report(u"Forgot %1"_s.arg(id), result); });
}

void NodeActions::report(const QString &what, const AdminResult &result)
{
    if (result.ok)
        Q_EMIT succeeded(what);
    else
        Q_EMIT failed(u"%1 failed: %2"_s.arg(what, result.message));
}

} // namespace bfg
