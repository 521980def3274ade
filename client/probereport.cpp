// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
#include "client/probereport.h"

#include <algorithm>

#include <QJsonArray>
#include <QTextStream>

using namespace Qt::Literals::StringLiterals;

namespace bfg::probe {

namespace {
QString ms(double value)
{
    return QString::number(value, 'f', value < 10 ? 2 : 1);
}

double percentileMs(const LatencyHistogram &histogram, double percent)
{
    return double(histogram.percentileUs(percent)) / 1000.0;
}

QJsonObject percentilesJson(const LatencyHistogram &histogram)
{
    return {{u"p50"_s, percentileMs(histogram, 50)},
            {u"p90"_s, percentileMs(histogram, 90)},
            {u"p99"_s, percentileMs(histogram, 99)},
            {u"p999"_s, percentileMs(histogram, 99.9)},
            {u"max"_s, double(histogram.maxUs()) / 1000.0}};
}

quint64 count(const QJsonObject &json, const QString &key)
{
    return quint64(std::max<qint64>(0, json.value(key).toInteger()));
}
} // namespace

double ProbeReport::msgsPerSec() const
{
    const double seconds = publishingS > 0 ? publishingS : durationS;
    return seconds > 0 ? double(received) / seconds : 0.0;
}

QStringList ProbeReport::failures() const
{
    QStringList reasons;
    if (!fatal.isEmpty())
        reasons << fatal;
    if (usersLive < users)
        reasons << u"%1 of %2 users never went live"_s.arg(users - usersLive).arg(users);
    if (failedClients > 0)
        reasons << u"%1 clients stopped on a terminal error"_s.arg(failedClients);
    if (lost > 0)
        reasons << u"%1 lost"_s.arg(lost);
    if (duplicated > 0)
        reasons << u"%1 duplicated"_s.arg(duplicated);
    if (reordered > 0)
        reasons << u"%1 reordered"_s.arg(reordered);
    if (misdelivered > 0)
        reasons << u"%1 misdelivered"_s.arg(misdelivered);
    if (wrongEpoch > 0)
        reasons << u"%1 with an unannounced epoch"_s.arg(wrongEpoch);
    if (rejected > 0)
        reasons << (chat ? u"%1 publishes refused by the node"_s : u"%1 refused by the publish API"_s)
                       .arg(rejected);
    if (chat) {
        if (unacked > 0)
            reasons << u"%1 messages never acked"_s.arg(unacked);
        if (chatFigures.disagreements > 0)
            reasons << u"%1 order disagreements"_s.arg(chatFigures.disagreements);
        if (chatFigures.subscriptionsRefused > 0)
            reasons << u"%1 room subscriptions refused"_s.arg(chatFigures.subscriptionsRefused);
    }
    if (publishing && fatal.isEmpty() && usersLive > 0 && publishingS > 0 && sent > 0 && published == 0)
        reasons << (chat ? u"nothing was acked"_s : u"nothing was acked by the publish API"_s);
    if (usersNotBack > 0)
        reasons << u"%1 users not live again after the last drop"_s.arg(usersNotBack);
    if (away > 0)
        reasons << u"%1 users that left did not come back"_s.arg(away);
    if (drainFailures > 0)
        reasons << u"%1 drain or undrain calls failed"_s.arg(drainFailures);
    return reasons;
}

QString ProbeReport::verdictLine() const
{
    const QStringList reasons = failures();
    return reasons.isEmpty() ? u"verdict: PASS"_s : u"verdict: FAIL (%1)"_s.arg(reasons.join(u", "_s));
}

void ProbeReport::print(QTextStream &out) const
{
    out << "bfg-probe " << BFG_VERSION << ", scenario " << scenario << ": " << users << " users ("
        << userPrefix << "*";
    if (shards > 1)
        out << ", " << shards << " shards merged";
    out << "), ";
    if (publishing)
        out << ratePerUser << " msg/s each, " << QString::number(publishingS, 'f', 1) << " s of publishing";
    else
        out << "listening for " << QString::number(publishingS, 'f', 1) << " s";
    out << (interrupted ? " (interrupted)" : "") << '\n';
    out << "users:       " << usersLive << '/' << users << " went live, " << usersLiveAtEnd
        << " live at the end, " << failedClients << " failed\n";
    if (chat) {
        const Chat &c = chatFigures;
        out << "chat:        " << c.rooms << " rooms x " << c.members << " members, " << ratePerUser
            << " msg/s each";
        if (c.typingRate > 0)
            out << " + " << c.typingRate << " typing/s";
        out << ", affinity " << (c.affinityRoom ? "room" : "none") << '\n';
        out << "published:   " << published << " acked (" << c.ackedDuplicate
            << " as duplicates of a retry), " << unacked << " unacked, " << rejected << " refused, of "
            << sent << " sent over the members' "
            << "WebSockets; acks p50=" << ms(percentileMs(c.ackLatency, 50))
            << " p99=" << ms(percentileMs(c.ackLatency, 99)) << " ms\n";
    } else if (publishing) {
        out << "published:   " << published << " acked, " << unacked << " unacked, " << rejected
            << " refused (" << sent << " sent in " << requests << " requests, " << retries << " retried) via "
            << publishUrl << '\n';
    } else {
        out << "published:   nothing (listening only)\n";
    }
    out << "received:    " << received << " (" << QString::number(msgsPerSec(), 'f', 1) << " msg/s)\n";
    out << "lost:        " << lost;
    if (lostUndelivered)
        out << " (" << lostUndelivered << " acked but not received by the end)";
    out << "   duplicated: " << duplicated << "   reordered: " << reordered
        << "   misdelivered: " << misdelivered;
    if (wrongEpoch)
        out << "   wrong epoch: " << wrongEpoch;
    out << '\n';
    out << "resumes:     " << resumes << " (" << recovered << " recovered, " << notRecovered
        << " not recovered), " << reconnects << " reconnects\n";
    if (!sharedStream.isEmpty())
        out << "shared:      " << sharedStream << ": " << sharedReceived
            << " received by all users, every user up to seq " << sharedMinSeq
            << (sharedAcked ? u", %1 published here"_s.arg(sharedAcked) : QString()) << '\n';
    out << "latency ms:  p50=" << ms(percentileMs(latency, 50)) << " p90=" << ms(percentileMs(latency, 90))
        << " p99=" << ms(percentileMs(latency, 99)) << " p99.9=" << ms(percentileMs(latency, 99.9))
        << " max=" << ms(double(latency.maxUs()) / 1000.0) << '\n';
    if (scenario == u"burst"_s) {
        out << "bursts:      x" << burstFactor << ", " << burstSent << " messages sent in bursts; p99 "
            << ms(percentileMs(burstLatency, 99)) << " ms in bursts, " << ms(percentileMs(quietLatency, 99))
            << " ms between\n";
    }
    if (!recoveryS.isEmpty()) {
        QStringList times;
        for (double seconds : recoveryS)
            times << (seconds < 0 ? u"not all back"_s : QString::number(seconds, 'f', 2) + u" s"_s);
        out << "drops:       " << recoveryS.size() << ", every user live again after: " << times.join(u", "_s)
            << '\n';
    }
    if (!decisionAnswers.empty()) {
        QStringList answers;
        for (const auto &[status, n] : decisionAnswers)
            answers << u"%1 %2"_s.arg(status == 0 ? u"no answer"_s : QString::number(status)).arg(n);
        out << "decision:    " << answers.join(u", "_s) << '\n';
    }
    if (scenario == u"churn"_s) {
        out << "churn:       " << leaves << " left, " << rejoins << " came back (live again after p50 "
            << ms(percentileMs(rejoinLatency, 50)) << " ms, p99 " << ms(percentileMs(rejoinLatency, 99))
            << " ms), " << away << " still away\n";
    }
    if (drains > 0 || drainFailures > 0)
        out << "drains:      " << drains << " done, " << drainFailures << " failed calls\n";
    if (chat) {
        const Chat &c = chatFigures;
        out << "rooms:       " << c.expected << " deliveries expected; order disagreements "
            << c.disagreements << "; room resumes " << c.resumes << " (" << c.recovered << " recovered, "
            << c.notRecovered << " not); " << c.subscriptionsRefused << " subscriptions refused\n";
        if (c.ephemeralSent > 0 || c.ephemeralReceived > 0) {
            out << "ephemeral:   " << c.ephemeralSent << " sent, " << c.ephemeralAcked << " acked, "
                << c.ephemeralRefused << " refused or lost, " << c.ephemeralReceived << " received ("
                << c.ephemeralOwn << " the sender's own), " << c.ephemeralDropped
                << " dropped; p50=" << ms(percentileMs(c.ephemeralLatency, 50))
                << " p99=" << ms(percentileMs(c.ephemeralLatency, 99)) << " ms\n";
        }
        QStringList nodes;
        for (const auto &[node, users] : c.usersPerNode)
            nodes << u"%1 %2"_s.arg(node.isEmpty() ? u"(none)"_s : node).arg(users);
        QStringList spread;
        for (const auto &[count, rooms] : c.roomsByNodes)
            spread << u"%1 on %2"_s.arg(rooms).arg(count == 1 ? u"1 node"_s : u"%1 nodes"_s.arg(count));
        out << "nodes:       users " << (nodes.isEmpty() ? u"-"_s : nodes.join(u", "_s)) << "; rooms "
            << (spread.isEmpty() ? u"-"_s : spread.join(u", "_s)) << '\n';
    }
    for (const ProcessSamples &process : processes) {
        out << "memory:      " << process.name << ": RSS " << process.firstRssKb / 1024 << " -> "
            << process.lastRssKb / 1024 << " MB (max " << process.maxRssKb / 1024 << " MB), CPU "
            << QString::number(process.cpuSeconds, 'f', 1) << " s\n";
    }
    if (!fatal.isEmpty())
        out << "error:       " << fatal << '\n';
    out << verdictLine() << '\n';
    out.flush();
}

QJsonObject ProbeReport::toJson() const
{
    const QStringList reasons = failures();
    QJsonObject answers;
    for (const auto &[status, n] : decisionAnswers)
        answers.insert(QString::number(status), double(n));
    QJsonArray recoveries;
    for (double seconds : recoveryS)
        recoveries.append(seconds);
    QJsonArray processList;
    for (const ProcessSamples &process : processes) {
        QJsonArray samples;
        for (const auto &[seconds, kb] : process.rss)
            samples.append(QJsonArray{seconds, double(kb)});
        processList.append(QJsonObject{{u"name"_s, process.name},
                                       {u"first_rss_kb"_s, double(process.firstRssKb)},
                                       {u"max_rss_kb"_s, double(process.maxRssKb)},
                                       {u"last_rss_kb"_s, double(process.lastRssKb)},
                                       {u"cpu_s"_s, process.cpuSeconds},
                                       {u"rss_samples"_s, samples}});
    }
    QJsonValue chatJson;
    if (chat) {
        const Chat &c = chatFigures;
        QJsonObject nodes;
        for (const auto &[node, users] : c.usersPerNode)
            nodes.insert(node, users);
        QJsonObject spread;
        for (const auto &[count, rooms] : c.roomsByNodes)
            spread.insert(QString::number(count), rooms);
        chatJson = QJsonObject{
            {u"rooms"_s, c.rooms},
            {u"members"_s, c.members},
            {u"typing_rate"_s, c.typingRate},
            {u"affinity"_s, c.affinityRoom ? u"room"_s : u"none"_s},
            {u"expected"_s, double(c.expected)},
            {u"acked_duplicate"_s, double(c.ackedDuplicate)},
            {u"order_disagreements"_s, double(c.disagreements)},
            {u"unchecked"_s, double(c.unchecked)},
            {u"subscriptions_refused"_s, c.subscriptionsRefused},
            {u"resumes"_s, c.resumes},
            {u"recovered"_s, c.recovered},
            {u"not_recovered"_s, c.notRecovered},
            {u"ack_latency_ms"_s, percentilesJson(c.ackLatency)},
            {u"ack_histogram"_s, c.ackLatency.toJson()},
            {u"ephemeral"_s, QJsonObject{{u"sent"_s, double(c.ephemeralSent)},
                                         {u"acked"_s, double(c.ephemeralAcked)},
                                         {u"refused"_s, double(c.ephemeralRefused)},
                                         {u"received"_s, double(c.ephemeralReceived)},
                                         {u"own"_s, double(c.ephemeralOwn)},
                                         {u"dropped"_s, double(c.ephemeralDropped)},
                                         {u"latency_ms"_s, percentilesJson(c.ephemeralLatency)},
                                         {u"histogram"_s, c.ephemeralLatency.toJson()}}},
            {u"users_per_node"_s, nodes},
            {u"rooms_by_nodes"_s, spread},
        };
    }
    return QJsonObject{
        {u"version"_s, QStringLiteral(BFG_VERSION)},
        {u"scenario"_s, scenario},
        {u"shards"_s, shards},
        {u"users"_s, users},
        {u"users_live"_s, usersLive},
        {u"users_live_at_end"_s, usersLiveAtEnd},
        {u"failed_clients"_s, failedClients},
        {u"user_prefix"_s, userPrefix},
        {u"rate"_s, ratePerUser},
        {u"duration_s"_s, durationS},
        {u"publishing_s"_s, publishingS},
        {u"publishing"_s, publishing},
        {u"publish_url"_s, publishUrl},
        {u"sent"_s, double(sent)},
        {u"published"_s, double(published)},
        {u"unacked"_s, double(unacked)},
        {u"rejected"_s, double(rejected)},
        {u"publish_requests"_s, double(requests)},
        {u"publish_retries"_s, double(retries)},
        {u"received"_s, double(received)},
        {u"lost"_s, double(lost)},
        {u"lost_undelivered"_s, double(lostUndelivered)},
        {u"duplicated"_s, double(duplicated)},
        {u"reordered"_s, double(reordered)},
        {u"misdelivered"_s, double(misdelivered)},
        {u"wrong_epoch"_s, double(wrongEpoch)},
        {u"resumes"_s, resumes},
        {u"recovered"_s, recovered},
        {u"not_recovered"_s, notRecovered},
        {u"reconnects"_s, double(reconnects)},
        {u"shared"_s, sharedStream.isEmpty() ? QJsonValue()
                                             : QJsonObject{{u"stream"_s, sharedStream},
                                                           {u"received"_s, double(sharedReceived)},
                                                           {u"acked_seq"_s, double(sharedAcked)},
                                                           {u"min_seq"_s, double(sharedMinSeq)}}},
        {u"latency_ms"_s, percentilesJson(latency)},
        {u"latency_histogram"_s, latency.toJson()},
        {u"burst"_s, scenario != u"burst"_s
                         ? QJsonValue()
                         : QJsonObject{{u"factor"_s, burstFactor},
                                       {u"sent"_s, double(burstSent)},
                                       {u"latency_ms"_s, percentilesJson(burstLatency)},
                                       {u"quiet_latency_ms"_s, percentilesJson(quietLatency)},
                                       {u"histogram"_s, burstLatency.toJson()},
                                       {u"quiet_histogram"_s, quietLatency.toJson()}}},
        {u"drops"_s, QJsonObject{{u"recovery_s"_s, recoveries}, {u"users_not_back"_s, usersNotBack}}},
        {u"decision_answers"_s, answers},
        {u"churn"_s, scenario != u"churn"_s ? QJsonValue()
                                            : QJsonObject{{u"left"_s, double(leaves)},
                                                          {u"came_back"_s, double(rejoins)},
                                                          {u"away"_s, away},
                                                          {u"rejoin_ms"_s, percentilesJson(rejoinLatency)},
                                                          {u"rejoin_histogram"_s, rejoinLatency.toJson()}}},
        {u"drains"_s, QJsonObject{{u"done"_s, drains}, {u"failed"_s, drainFailures}}},
        {u"processes"_s, processList},
        {u"chat"_s, chatJson},
        {u"msgs_per_sec"_s, msgsPerSec()},
        {u"interrupted"_s, interrupted},
        {u"error"_s, fatal},
        {u"verdict"_s, reasons.isEmpty() ? u"pass"_s : u"fail"_s},
        {u"failures"_s, QJsonArray::fromStringList(reasons)},
    };
}

bool ProbeReport::fromJson(const QJsonObject &json, ProbeReport *out, QString *error)
{
    if (!json.value(u"users"_s).isDouble() || !json.value(u"latency_histogram"_s).isObject()) {
        *error = u"not a bfg-probe --json result (no users or latency_histogram)"_s;
        return false;
    }
    ProbeReport r;
    r.scenario = json.value(u"scenario"_s).toString(u"steady"_s);
    r.shards = std::max(1, json.value(u"shards"_s).toInt(1));
    r.users = json.value(u"users"_s).toInt();
    r.usersLive = json.value(u"users_live"_s).toInt();
    r.usersLiveAtEnd = json.value(u"users_live_at_end"_s).toInt();
    r.failedClients = json.value(u"failed_clients"_s).toInt();
    r.userPrefix = json.value(u"user_prefix"_s).toString();
    r.ratePerUser = json.value(u"rate"_s).toDouble();
    r.durationS = json.value(u"duration_s"_s).toDouble();
    r.publishingS = json.value(u"publishing_s"_s).toDouble();
    r.publishing = json.value(u"publishing"_s).toBool();
    r.publishUrl = json.value(u"publish_url"_s).toString();
    r.sent = count(json, u"sent"_s);
    r.published = count(json, u"published"_s);
    r.unacked = count(json, u"unacked"_s);
    r.rejected = count(json, u"rejected"_s);
    r.requests = count(json, u"publish_requests"_s);
    r.retries = count(json, u"publish_retries"_s);
    r.received = count(json, u"received"_s);
    r.lost = count(json, u"lost"_s);
    r.lostUndelivered = count(json, u"lost_undelivered"_s);
    r.duplicated = count(json, u"duplicated"_s);
    r.reordered = count(json, u"reordered"_s);
    r.misdelivered = count(json, u"misdelivered"_s);
    r.wrongEpoch = count(json, u"wrong_epoch"_s);
    r.resumes = json.value(u"resumes"_s).toInt();
    r.recovered = json.value(u"recovered"_s).toInt();
    r.notRecovered = json.value(u"not_recovered"_s).toInt();
    r.reconnects = count(json, u"reconnects"_s);
    const QJsonObject shared = json.value(u"shared"_s).toObject();
    r.sharedStream = shared.value(u"stream"_s).toString();
    r.sharedReceived = count(shared, u"received"_s);
    r.sharedAcked = count(shared, u"acked_seq"_s);
    r.sharedMinSeq = count(shared, u"min_seq"_s);
    bool histogramsOk = LatencyHistogram::fromJson(json.value(u"latency_histogram"_s).toObject(), &r.latency);
    const QJsonObject burst = json.value(u"burst"_s).toObject();
    if (!burst.isEmpty()) {
        r.burstFactor = burst.value(u"factor"_s).toDouble();
        r.burstSent = count(burst, u"sent"_s);
        histogramsOk =
            histogramsOk &&
            LatencyHistogram::fromJson(burst.value(u"histogram"_s).toObject(), &r.burstLatency) &&
            LatencyHistogram::fromJson(burst.value(u"quiet_histogram"_s).toObject(), &r.quietLatency);
    }
    const QJsonObject drops = json.value(u"drops"_s).toObject();
    for (const QJsonValue &seconds : drops.value(u"recovery_s"_s).toArray())
        r.recoveryS.append(seconds.toDouble());
    r.usersNotBack = drops.value(u"users_not_back"_s).toInt();
    const QJsonObject answers = json.value(u"decision_answers"_s).toObject();
    for (auto it = answers.begin(); it != answers.end(); ++it)
        r.decisionAnswers[it.key().toInt()] = quint64(std::max<qint64>(0, it.value().toInteger()));
    const QJsonObject churn = json.value(u"churn"_s).toObject();
    if (!churn.isEmpty()) {
        r.leaves = count(churn, u"left"_s);
        r.rejoins = count(churn, u"came_back"_s);
        r.away = churn.value(u"away"_s).toInt();
        histogramsOk = histogramsOk && LatencyHistogram::fromJson(
                                           churn.value(u"rejoin_histogram"_s).toObject(), &r.rejoinLatency);
    }
    const QJsonObject drains = json.value(u"drains"_s).toObject();
    r.drains = drains.value(u"done"_s).toInt();
    r.drainFailures = drains.value(u"failed"_s).toInt();
    for (const QJsonValue &value : json.value(u"processes"_s).toArray()) {
        const QJsonObject object = value.toObject();
        ProcessSamples process;
        process.name = object.value(u"name"_s).toString();
        process.firstRssKb = object.value(u"first_rss_kb"_s).toInteger();
        process.maxRssKb = object.value(u"max_rss_kb"_s).toInteger();
        process.lastRssKb = object.value(u"last_rss_kb"_s).toInteger();
        process.cpuSeconds = object.value(u"cpu_s"_s).toDouble();
        for (const QJsonValue &sample : object.value(u"rss_samples"_s).toArray())
            process.rss.append({sample.toArray().at(0).toDouble(), sample.toArray().at(1).toInteger()});
        r.processes.append(process);
    }
    const QJsonObject chat = json.value(u"chat"_s).toObject();
    if (!chat.isEmpty()) {
        r.chat = true;
        Chat &c = r.chatFigures;
        c.rooms = chat.value(u"rooms"_s).toInt();
        c.members = chat.value(u"members"_s).toInt();
        c.typingRate = chat.value(u"typing_rate"_s).toDouble();
        c.affinityRoom = chat.value(u"affinity"_s).toString() == u"room"_s;
        c.expected = count(chat, u"expected"_s);
        c.ackedDuplicate = count(chat, u"acked_duplicate"_s);
        c.disagreements = count(chat, u"order_disagreements"_s);
        c.unchecked = count(chat, u"unchecked"_s);
        c.subscriptionsRefused = chat.value(u"subscriptions_refused"_s).toInt();
        c.resumes = chat.value(u"resumes"_s).toInt();
        c.recovered = chat.value(u"recovered"_s).toInt();
        c.notRecovered = chat.value(u"not_recovered"_s).toInt();
        const QJsonObject ephemeral = chat.value(u"ephemeral"_s).toObject();
        c.ephemeralSent = count(ephemeral, u"sent"_s);
        c.ephemeralAcked = count(ephemeral, u"acked"_s);
        c.ephemeralRefused = count(ephemeral, u"refused"_s);
        c.ephemeralReceived = count(ephemeral, u"received"_s);
        c.ephemeralOwn = count(ephemeral, u"own"_s);
        c.ephemeralDropped = count(ephemeral, u"dropped"_s);
        histogramsOk =
            histogramsOk &&
            LatencyHistogram::fromJson(chat.value(u"ack_histogram"_s).toObject(), &c.ackLatency) &&
            LatencyHistogram::fromJson(ephemeral.value(u"histogram"_s).toObject(), &c.ephemeralLatency);
        const QJsonObject nodes = chat.value(u"users_per_node"_s).toObject();
        for (auto it = nodes.begin(); it != nodes.end(); ++it)
            c.usersPerNode[it.key()] = it.value().toInt();
        const QJsonObject spread = chat.value(u"rooms_by_nodes"_s).toObject();
        for (auto it = spread.begin(); it != spread.end(); ++it)
            c.roomsByNodes[it.key().toInt()] = it.value().toInt();
    }
    r.interrupted = json.value(u"interrupted"_s).toBool();
    r.fatal = json.value(u"error"_s).toString();
    if (!histogramsOk) {
        *error = u"a latency histogram in it is malformed"_s;
        return false;
    }
    *out = std::move(r);
    return true;
}

void ProbeReport::merge(const ProbeReport &o)
{
    shards += o.shards;
    users += o.users;
    usersLive += o.usersLive;
    usersLiveAtEnd += o.usersLiveAtEnd;
    failedClients += o.failedClients;
    durationS = std::max(durationS, o.durationS);
    publishingS = std::max(publishingS, o.publishingS);
    publishing = publishing || o.publishing;
    if (publishUrl != o.publishUrl)
        publishUrl += u", "_s + o.publishUrl;
    sent += o.sent;
    published += o.published;
    unacked += o.unacked;
    rejected += o.rejected;
    requests += o.requests;
    retries += o.retries;
    received += o.received;
    lost += o.lost;
    lostUndelivered += o.lostUndelivered;
    duplicated += o.duplicated;
    reordered += o.reordered;
    misdelivered += o.misdelivered;
    wrongEpoch += o.wrongEpoch;
    resumes += o.resumes;
    recovered += o.recovered;
    notRecovered += o.notRecovered;
    reconnects += o.reconnects;
    sharedReceived += o.sharedReceived;
    sharedAcked = std::max(sharedAcked, o.sharedAcked);
    sharedMinSeq = sharedStream.isEmpty() ? o.sharedMinSeq : std::min(sharedMinSeq, o.sharedMinSeq);
    if (sharedStream.isEmpty())
        sharedStream = o.sharedStream;
    latency.merge(o.latency);
    burstSent += o.burstSent;
    burstLatency.merge(o.burstLatency);
    quietLatency.merge(o.quietLatency);
    // The shards dropped together: every user was back when the slowest shard's were.
    for (qsizetype i = 0; i < o.recoveryS.size(); ++i) {
        if (i >= recoveryS.size())
            recoveryS.append(o.recoveryS[i]);
        else if (recoveryS[i] >= 0)
            recoveryS[i] = o.recoveryS[i] < 0 ? -1.0 : std::max(recoveryS[i], o.recoveryS[i]);
    }
    usersNotBack += o.usersNotBack;
    for (const auto &[status, n] : o.decisionAnswers)
        decisionAnswers[status] += n;
    leaves += o.leaves;
    rejoins += o.rejoins;
    away += o.away;
    rejoinLatency.merge(o.rejoinLatency);
    drains += o.drains;
    drainFailures += o.drainFailures;
    processes += o.processes;
    if (o.chat) {
        Chat &c = chatFigures;
        const Chat &d = o.chatFigures;
        if (!chat) {
            c.members = d.members;
            c.typingRate = d.typingRate;
            c.affinityRoom = d.affinityRoom;
        }
        chat = true;
        c.rooms += d.rooms;
        c.expected += d.expected;
        c.ackedDuplicate += d.ackedDuplicate;
        c.disagreements += d.disagreements;
        c.unchecked += d.unchecked;
        c.subscriptionsRefused += d.subscriptionsRefused;
        c.resumes += d.resumes;
        c.recovered += d.recovered;
        c.notRecovered += d.notRecovered;
        c.ephemeralSent += d.ephemeralSent;
        c.ephemeralAcked += d.ephemeralAcked;
        c.ephemeralRefused += d.ephemeralRefused;
        c.ephemeralReceived += d.ephemeralReceived;
        c.ephemeralOwn += d.ephemeralOwn;
        c.ephemeralDropped += d.ephemeralDropped;
        c.ackLatency.merge(d.ackLatency);
        c.ephemeralLatency.merge(d.ephemeralLatency);
        for (const auto &[node, users] : d.usersPerNode)
            c.usersPerNode[node] += users;
        for (const auto &[nodes, rooms] : d.roomsByNodes)
            c.roomsByNodes[nodes] += rooms;
    }
    interrupted = interrupted || o.interrupted;
    if (!o.fatal.isEmpty())
        fatal = fatal.isEmpty() ? o.fatal : fatal + u"; "_s + o.fatal;
}

} // namespace bfg::probe
