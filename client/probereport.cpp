// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
#include "client/probereport.h"

#include <QJsonArray>
#include <QTextStream>

using namespace Qt::Literals::StringLiterals;

namespace bfg::probe {

namespace {
QString ms(double value)
{
    return QString::number(value, 'f', value < 10 ? 2 : 1);
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
        reasons << u"%1 refused by the publish API"_s.arg(rejected);
    if (publishing && fatal.isEmpty() && usersLive > 0 && publishingS > 0 && sent > 0 && published == 0)
        reasons << u"nothing was acked by the publish API"_s;
    return reasons;
}

QString ProbeReport::verdictLine() const
{
    const QStringList reasons = failures();
    return reasons.isEmpty() ? u"verdict: PASS"_s : u"verdict: FAIL (%1)"_s.arg(reasons.join(u", "_s));
}

void ProbeReport::print(QTextStream &out) const
{
    out << "bfg-probe " << BFG_VERSION << ": " << users << " users (" << userPrefix << "*), ";
    if (publishing)
        out << ratePerUser << " msg/s each, " << QString::number(publishingS, 'f', 1) << " s of publishing";
    else
        out << "listening for " << QString::number(publishingS, 'f', 1) << " s";
    out << (interrupted ? " (interrupted)" : "") << '\n';
    out << "users:       " << usersLive << '/' << users << " went live, " << usersLiveAtEnd
        << " live at the end, " << failedClients << " failed\n";
    if (publishing) {
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
    out << "latency ms:  p50=" << ms(latencyP50Ms) << " p90=" << ms(latencyP90Ms)
        << " p99=" << ms(latencyP99Ms) << " p99.9=" << ms(latencyP999Ms) << " max=" << ms(latencyMaxMs)
        << '\n';
    if (!fatal.isEmpty())
        out << "error:       " << fatal << '\n';
    out << verdictLine() << '\n';
    out.flush();
}

QJsonObject ProbeReport::toJson() const
{
    const QStringList reasons = failures();
    return QJsonObject{
        {u"version"_s, QStringLiteral(BFG_VERSION)},
        {u"users"_s, users},
        {u"users_live"_s, usersLive},
        {u"users_live_at_end"_s, usersLiveAtEnd},
        {u"failed_clients"_s, failedClients},
        {u"user_prefix"_s, userPrefix},
        {u"rate"_s, ratePerUser},
        {u"duration_s"_s, durationS},
        {u"publishing_s"_s, publishingS},
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
        {u"latency_ms"_s, QJsonObject{{u"p50"_s, latencyP50Ms},
                                      {u"p90"_s, latencyP90Ms},
                                      {u"p99"_s, latencyP99Ms},
                                      {u"p999"_s, latencyP999Ms},
                                      {u"max"_s, latencyMaxMs}}},
        {u"msgs_per_sec"_s, msgsPerSec()},
        {u"interrupted"_s, interrupted},
        {u"error"_s, fatal},
        {u"verdict"_s, reasons.isEmpty() ? u"pass"_s : u"fail"_s},
        {u"failures"_s, QJsonArray::fromStringList(reasons)},
    };
}

} // namespace bfg::probe
