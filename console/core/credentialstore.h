// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// Where the console keeps admin tokens: the OS keychain through QtKeychain
// (on Linux the Secret Service, reached through libsecret), or, when none
// answers, this process's memory only. The connect dialog reads and stores
// tokens here; nothing else in the console sees where they live, and no
// token ever goes to a settings file.
//
// The first keychain call that fails for any reason but "no such entry", or
// that does not answer within timeoutMs(), switches the store to
// session-only for the rest of its life: one warning for the operator, no
// prompt or D-Bus timeout on every later call.
#pragma once

#include <functional>

#include <QHash>
#include <QObject>
#include <QString>

namespace QKeychain {
class Job;
} // namespace QKeychain

class QTimer;

namespace bfg {

class CredentialStore : public QObject
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(CredentialStore)

public:
    // Only a hung keychain waits this long: no session bus, or no Secret Service on it, fails in
    // milliseconds. Generous because the keychain may first ask the operator to unlock it.
    static constexpr int DefaultTimeoutMs = 30000;

    // `service` names the keychain entries (default "bfg-console"; tests pass their own).
    explicit CredentialStore(const QString &service = QStringLiteral("bfg-console"),
                             QObject *parent = nullptr);
    ~CredentialStore() override;

    QString service() const { return m_service; }

    // Reads the token stored for `clusterKey`; calls `done(token)` (empty when none) later, from the
    // event loop, always exactly once (never if `context` or this store is destroyed first; a null
    // `context` means this store).
    void readToken(const QString &clusterKey, QObject *context,
                   std::function<void(const QString &token)> done);
    // Stores it; `done(persisted)` later: true when in the keychain, false when kept for this session
    // only (then warning() says why).
    void storeToken(const QString &clusterKey, const QString &token, QObject *context,
                    std::function<void(bool persisted)> done);
    // Drops the session copy at once and deletes the keychain entry in the background.
    void forgetToken(const QString &clusterKey);

    // False once a keychain call failed for lack of a keychain (no Secret Service / D-Bus); then
    // everything is session-only.
    bool isKeychainAvailable() const { return m_keychainAvailable; }
    // Human text for the operator when the keychain is unavailable, e.g. "No keychain available
    // (…reason…): the token is kept for this session only."; empty otherwise.
    QString warning() const { return m_warning; }

    // How long one keychain call may take before the store gives up on the keychain. The call
    // itself cannot be cancelled and is left to finish on its own.
    int timeoutMs() const { return m_timeoutMs; }
    void setTimeoutMs(int timeoutMs) { m_timeoutMs = timeoutMs; }

Q_SIGNALS:
    void keychainUnavailable(const QString &warning); // emitted once, when first detected

private:
    // How a keychain call ended. Failed covers errors and calls given up on; by the time a handler
    // sees it, the store is session-only.
    enum class Outcome { Done, NotFound, Failed };
    using JobHandler = std::function<void(Outcome outcome, const QString &text)>;
    struct PendingCall
    {
        QTimer *timer = nullptr;
        JobHandler handler;
    };

    // Starts `job` and calls `handler` once: when it finishes, when it times out, or when another
    // call finds the keychain unavailable (calls queue behind each other in QtKeychain).
    // `notFoundIsAnAnswer`: EntryNotFound means "no token" (read, delete), not "no keychain" (write:
    // libsecret says so when there is no default collection).
    void runJob(QKeychain::Job *job, bool notFoundIsAnAnswer, JobHandler handler);
    void jobFinished(quint64 callId, bool notFoundIsAnAnswer, QKeychain::Job *job);
    void settle(quint64 callId, Outcome outcome, const QString &text);
    void markUnavailable(const QString &reason);

    QString m_service;
    QHash<QString, QString> m_sessionTokens;
    QHash<quint64, PendingCall> m_pendingCalls;
    quint64 m_nextCallId = 0;
    QString m_warning;
    int m_timeoutMs = DefaultTimeoutMs;
    bool m_keychainAvailable = true;
};

} // namespace bfg
