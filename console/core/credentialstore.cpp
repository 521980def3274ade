// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
#include "console/core/credentialstore.h"

#include <algorithm>
#include <utility>

#include <qt6keychain/keychain.h>

#include <QPointer>
#include <QTimer>

#include "common/logging.h"

using namespace Qt::Literals::StringLiterals;

namespace bfg {

namespace {
// Runs `f` from the event loop, unless `context` is gone by then.
void later(QObject *context, std::function<void()> f)
{
    if (context)
        QMetaObject::invokeMethod(context, std::move(f), Qt::QueuedConnection);
}
} // namespace

CredentialStore::CredentialStore(const QString &service, QObject *parent)
    : QObject(parent)
    , m_service(service)
{}

// Jobs still running keep going on their own and delete themselves; their answers no longer reach
// this object (the connections die with it), and the timers are its children.
CredentialStore::~CredentialStore() = default;

void CredentialStore::readToken(const QString &clusterKey, QObject *context,
                                std::function<void(const QString &token)> done)
{
    const QPointer<QObject> receiver = context ? context : this;
    if (!m_keychainAvailable) {
        later(receiver, [done = std::move(done), token = m_sessionTokens.value(clusterKey)] { done(token); });
        return;
    }
    auto *job = new QKeychain::ReadPasswordJob(m_service);
    job->setKey(clusterKey);
    runJob(job, true,
           [this, clusterKey, receiver, done = std::move(done)](Outcome outcome, const QString &text) {
               const QString token = outcome == Outcome::Done ? text : m_sessionTokens.value(clusterKey);
               later(receiver, [done, token] { done(token); });
           });
}

void CredentialStore::storeToken(const QString &clusterKey, const QString &token, QObject *context,
                                 std::function<void(bool persisted)> done)
{
    const QPointer<QObject> receiver = context ? context : this;
    if (!m_keychainAvailable) {
        m_sessionTokens.insert(clusterKey, token);
        later(receiver, [done = std::move(done)] { done(false); });
        return;
    }
    auto *job = new QKeychain::WritePasswordJob(m_service);
    job->setKey(clusterKey);
    job->setTextData(token);
    runJob(job, false,
           [this, clusterKey, token, receiver, done = std::move(done)](Outcome outcome, const QString &) {
               const bool persisted = outcome == Outcome::Done;
               if (persisted)
                   m_sessionTokens.remove(clusterKey);
               else
                   m_sessionTokens.insert(clusterKey, token);
               later(receiver, [done, persisted] { done(persisted); });
           });
}

void CredentialStore::forgetToken(const QString &clusterKey)
{
    m_sessionTokens.remove(clusterKey);
    if (!m_keychainAvailable)
        return;
    auto *job = new QKeychain::DeletePasswordJob(m_service);
    job->setKey(clusterKey);
    runJob(job, true, [](Outcome, const QString &) {});
}

void CredentialStore::runJob(QKeychain::Job *job, bool notFoundIsAnAnswer, JobHandler handler)
{
    // Nobody's child, deleted by itself once finished: libsecret holds a raw pointer to the job
    // until its callback has run, so the job may have to outlive this store.
    job->setAutoDelete(true);
    const quint64 callId = ++m_nextCallId;
    auto *timer = new QTimer(this);
    timer->setSingleShot(true);
    m_pendingCalls.insert(callId, {timer, std::move(handler)});

    connect(job, &QKeychain::Job::finished, this,
            [this, callId, notFoundIsAnAnswer](QKeychain::Job *finished) {
                jobFinished(callId, notFoundIsAnAnswer, finished);
            });
    connect(timer, &QTimer::timeout, this,
            [this] { markUnavailable(tr("no answer within %1 s").arg(m_timeoutMs / 1000.0)); });
    timer->start(m_timeoutMs);
    job->start();
}

void CredentialStore::jobFinished(quint64 callId, bool notFoundIsAnAnswer, QKeychain::Job *job)
{
    const QKeychain::Error error = job->error();
    if (!m_pendingCalls.contains(callId)) {
        qCInfo(lcConsole).noquote() << "keychain answered after the console had stopped waiting:"
                                    << (error == QKeychain::NoError ? u"ok"_s : job->errorString());
        return;
    }
    if (error == QKeychain::NoError) {
        const auto *read = qobject_cast<QKeychain::ReadPasswordJob *>(job);
        settle(callId, Outcome::Done, read ? read->textData() : QString());
    } else if (error == QKeychain::EntryNotFound && notFoundIsAnAnswer) {
        settle(callId, Outcome::NotFound, QString());
    } else {
        // Settles this call, and whatever queued behind it, as Failed.
        markUnavailable(job->errorString().isEmpty() ? tr("QtKeychain error %1").arg(int(error))
                                                     : job->errorString());
    }
}

void CredentialStore::settle(quint64 callId, Outcome outcome, const QString &text)
{
    const PendingCall call = m_pendingCalls.take(callId);
    if (!call.handler)
        return;
    call.timer->stop();
    call.timer->deleteLater();
    call.handler(outcome, text);
}

void CredentialStore::markUnavailable(const QString &reason)
{
    const bool first = m_keychainAvailable;
    if (first) {
        m_keychainAvailable = false;
        m_warning = tr("No keychain available (%1): the token is kept for this session only.").arg(reason);
        qCWarning(lcConsole).noquote()
            << "keychain unavailable, admin tokens are kept for this session only:" << reason;
    }
    // The calls still waiting would only queue behind the one that failed: session-only too.
    QList<quint64> waiting = m_pendingCalls.keys();
    std::sort(waiting.begin(), waiting.end());
    for (const quint64 callId : std::as_const(waiting))
        settle(callId, Outcome::Failed, QString());
    if (first)
        Q_EMIT keychainUnavailable(m_warning);
}

} // namespace bfg
