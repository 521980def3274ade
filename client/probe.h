// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// One probe run, start to verdict: find the publish API through the
// decision servers, start one PushClient per simulated user spread over
// the ramp, wait until all are live, publish for the asked duration
// (optionally dropping every connection once on the way), wait for the
// last messages, then stop and report. Everything runs on one thread; work
// per message is O(1), per-user scans happen at most a few times a second.
#pragma once

#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include <QElapsedTimer>
#include <QList>
#include <QObject>
#include <QTimer>

#include "client/chatverifier.h"
#include "client/probeoptions.h"
#include "client/probereport.h"
#include "client/userverifier.h"
#include "common/backoff.h"
#include "common/latencyhistogram.h"

namespace bfg {
class ConnectGate;
class DecisionClient;
class HttpConnection;
class PushClient;
namespace v1 {
class Message;
class StreamState;
class Welcome;
} // namespace v1
} // namespace bfg

namespace bfg::probe {

class Publisher;

class Probe : public QObject
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(Probe)

public:
    explicit Probe(ProbeOptions options, QObject *parent = nullptr);
    ~Probe() override;

    void start();
    // First call: stop publishing and wait for delivery as at a normal end.
    // A second call, or one before publishing began: finish at once.
    void interrupt();

    int exitCode() const { return m_exitCode; }

Q_SIGNALS:
    void finished(int exitCode);

private:
    enum class Phase { Idle, Bootstrap, Connecting, Publishing, Draining, Done };

    void bootstrap();
    void launchClients();
    void startDueClients();
    void onWelcomed(int user, const v1::Welcome &welcome, bool resumed);
    // A user is ready (live; chat: subscribed to its room) for the first time.
    void onUserReady(int user);
    // A user that was never ready will not be (stopped on a terminal error, refused its room).
    void onNeverReady();
    bool wasReady(int user) const;
    void onMessage(int user, const v1::Message &message);
    void onClientFailed(int user, int code, const QString &text);
    void onLiveTimeout();
    void beginPublishing();
    void endPublishing();
    void checkDrained();
    void printProgress();
    void finish(const QString &fatal = {});
    ProbeReport makeReport();
    bool writeJson(const ProbeReport &report) const;
    double secondsSinceStart() const { return double(m_runClock.elapsed()) / 1000.0; }
    void recordLatency(qint64 latencyUs, qint64 nowUs);

    // The scenarios (probescenarios.cpp): what happens while publishing.
    void startScenario();
    void stopScenario();
    void updateBurst();
    bool sentInBurst(qint64 sendUs) const;
    // Storm and soak: every connection aborted at once; the users come back
    // with their own backoff, and onUserBack() times how long that takes.
    void dropEveryone();
    void closeDrop();
    void onUserBack(int user);
    void churnTick();
    void rejoin(int user);
    void drainTick();
    void callAdmin(const QString &node, bool drain);
    void printFigures();
    void sampleProcesses(bool print);
    void addScenarioFigures(ProbeReport *report) const;

    // The chat scenario (probechat.cpp): members publishing into their rooms.
    void setUpChat();
    void connectChat(int user, PushClient *client);
    void onChatSubscribed(int user, const v1::StreamState &state);
    void onChatAcked(int user, const QString &clientMessageId, quint64 seq, bool duplicate);
    void onChatRefused(int user, const QString &clientMessageId, int code, const QString &text);
    void onChatMessage(int user, const v1::Message &message, qint64 nowUs);
    void startChat();
    void stopChat();
    void chatTick();
    void publishChat(int user, bool ephemeral, qint64 nowUs);
    bool isChatDrained();
    void addChatFigures(ProbeReport *report);

    ProbeOptions m_options;
    Phase m_phase = Phase::Idle;
    int m_exitCode = 1;

    DecisionClient *m_decision = nullptr;
    ConnectGate *m_gate = nullptr;
    Publisher *m_publisher = nullptr;
    std::vector<PushClient *> m_clients;
    std::vector<UserVerifier> m_verifiers;
    // --shared-stream: one more verifier per user, for the stream they all read.
    static constexpr int SharedKey = -1; // how the publisher's acks name the shared stream
    std::string m_sharedStream;
    std::vector<UserVerifier> m_sharedVerifiers;
    quint64 m_sharedAckedMax = 0;
    quint64 m_sharedReceived = 0;
    std::vector<int> m_liveNotPublished; // went live before publishing began
    int m_started = 0;
    int m_usersLive = 0;
    int m_failedClients = 0;
    int m_failedBeforeLive = 0;
    int m_interrupts = 0;
    qint64 m_firstInterruptMs = 0;
    Backoff m_bootstrapBackoff{500, 5000};

    LatencyHistogram m_latency;       // the whole run
    LatencyHistogram m_windowLatency; // since the last progress line
    quint64 m_received = 0;
    quint64 m_receivedAtLastLine = 0;

    QElapsedTimer m_runClock;
    QElapsedTimer m_rampClock;
    QElapsedTimer m_publishClock;
    qint64 m_publishedForMs = 0;
    qint64 m_lastLineMs = 0;

    QTimer m_rampTimer;
    QTimer m_liveTimer;
    QTimer m_phaseTimer;
    QTimer m_dropTimer;
    QTimer m_drainCheckTimer;
    QTimer m_drainDeadlineTimer;
    QTimer m_progressTimer;
    QTimer m_hardLimitTimer;

    // Scenarios.
    qint64 m_publishStartUs = 0;
    qint64 m_testDropNth = 0; // BFG_PROBE_TEST_DROP_NTH: the Nth message "never arrives"
    QTimer m_burstTimer;
    bool m_inBurst = false;
    quint64 m_sentAtBurstStart = 0;
    quint64 m_burstSent = 0;
    LatencyHistogram m_burstLatency;
    LatencyHistogram m_quietLatency;
    QTimer m_stormTimer;
    int m_dropsStarted = 0;
    qint64 m_dropStartMs = 0;
    std::vector<char> m_awaitingBack; // per user: dropped and not live again yet
    int m_notBack = 0;
    QList<double> m_recoveryS;
    QTimer m_churnTimer;
    QElapsedTimer m_churnClock;
    double m_churnDue = 0;
    int m_churnCursor = 0;
    std::vector<char> m_away;            // per user: left, not started again yet
    std::vector<qint64> m_rejoinStartMs; // per user: started again at (0: not rejoining)
    quint64 m_leaves = 0;
    quint64 m_rejoins = 0;
    LatencyHistogram m_rejoinLatency;
    QTimer m_drainTimer;
    HttpConnection *m_admin = nullptr;
    int m_drains = 0;
    int m_drainFailures = 0;
    QTimer m_reportTimer;
    LatencyHistogram m_reportLatency;
    quint64 m_receivedAtReport = 0;
    qint64 m_lastReportMs = 0;
    struct Watched
    {
        qint64 pid = 0;
        qint64 lastTicks = -1;
        qint64 lastMs = 0;
        ProcessSamples samples;
    };
    std::vector<Watched> m_watched;

    // chat
    ChatVerifier m_chat;
    QStringList m_roomNames;             // by local room
    std::vector<std::string> m_roomTags; // the payload's tag: the room's name
    QTimer m_chatTimer;
    QElapsedTimer m_chatClock;
    qint64 m_chatLastNs = 0;
    QElapsedTimer m_chatSampleClock;
    std::vector<double> m_chatCredit; // per user: messages due (fractional rates accumulate)
    std::vector<double> m_typingCredit;
    std::vector<quint64> m_chatCounter; // per user: the last client message id "c<n>" / "t<n>"
    std::vector<quint64> m_typingCounter;
    std::vector<std::unordered_map<quint64, qint64>> m_chatSendUs; // per user: "c<n>" -> sent at, until acked
    std::string m_chatPayload;
    LatencyHistogram m_ackLatency;
    LatencyHistogram m_ephemeralLatency;
    std::map<QString, int> m_usersPerNode; // when publishing began
    std::map<int, int> m_roomsByNodes;
    int m_chatRefusalsLogged = 0;
};

} // namespace bfg::probe
