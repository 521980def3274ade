// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// The push node's WebSocket codec (common/websocket.h) on untrusted bytes.
// Input: 4 control bytes, then what a client sends. Control byte 0 picks the
// reader's message size limit, bytes 1-3 three points where the network cuts
// the stream. The bytes go to the upgrade-request parser, and to two frame
// readers: one gets them whole, the other in the cut pieces; both must
// report the same events (a message exactly once however it arrives), and
// what they report must respect the limits.
#include <algorithm>
#include <array>
#include <cstdint>
#include <vector>

#include <QByteArray>

#include "common/websocket.h"
#include "fuzz/fuzzcheck.h"

namespace websocket = bfg::websocket;
using websocket::FrameReader;

namespace {
struct Report
{
    FrameReader::Event event;
    int code;
    QByteArray payload;
    bool operator==(const Report &other) const
    {
        return event == other.event && code == other.code && payload == other.payload;
    }
};

std::vector<Report> read(FrameReader &reader, const std::vector<QByteArrayView> &pieces,
                         qint64 maxMessageBytes)
{
    std::vector<Report> reports;
    const FrameReader::Handler handler = [&](FrameReader::Event event, int code, QByteArrayView payload) {
        // Nothing after an error or a close.
        BFG_FUZZ_CHECK(reports.empty() || (reports.back().event != FrameReader::Event::Error &&
                                           reports.back().event != FrameReader::Event::Close));
        switch (event) {
        case FrameReader::Event::Text:
        case FrameReader::Event::Binary:
            BFG_FUZZ_CHECK(payload.size() <= maxMessageBytes);
            // What the node would send back: the frame must carry it intact.
            BFG_FUZZ_CHECK(websocket::payloadOf(websocket::frame(websocket::Opcode::Binary, payload)) ==
                           payload);
            break;
        case FrameReader::Event::Ping:
        case FrameReader::Event::Pong:
            BFG_FUZZ_CHECK(payload.size() <= 125);
            break;
        case FrameReader::Event::Close: {
            BFG_FUZZ_CHECK(payload.size() <= 123);
            // Echoing the close, as the node does: a valid close frame.
            const QByteArray echo = websocket::closeFrame(code, payload);
            BFG_FUZZ_CHECK(websocket::payloadOf(echo).size() <= 125);
            break;
        }
        case FrameReader::Event::Error:
            BFG_FUZZ_CHECK(code == websocket::CloseProtocolError || code == websocket::CloseTooBig);
            break;
        }
        reports.push_back({event, code, payload.toByteArray()});
    };
    for (const QByteArrayView piece : pieces) {
        QByteArray writable = piece.toByteArray(); // the reader unmasks in place
        const bool ok = reader.consume(writable.data(), writable.size(), handler);
        BFG_FUZZ_CHECK(ok == !reader.hasFailed());
        // At most the message so far and one incomplete frame (14 bytes of header).
        BFG_FUZZ_CHECK(reader.bufferedBytes() <= 2 * maxMessageBytes + 125 + 14);
    }
    return reports;
}

void upgrade(QByteArrayView bytes)
{
    const qsizetype end = websocket::requestHeadEnd(bytes);
    BFG_FUZZ_CHECK(end == -1 || (end >= 4 && end <= bytes.size()));
    const QByteArrayView head = end < 0 ? bytes : bytes.first(end);
    if (head.size() > websocket::MaxRequestHeadBytes)
        return; // refused with 431 before it is parsed
    const websocket::UpgradeRequest request = websocket::parseUpgradeRequest(head);
    if (request.ok) {
        // The key may lack its padding ("...ZQ"): it need only decode to 16 bytes.
        const auto key = QByteArray::fromBase64Encoding(request.key, QByteArray::AbortOnBase64DecodingErrors);
        BFG_FUZZ_CHECK(request.status == 101 && key && key.decoded.size() == 16);
        BFG_FUZZ_CHECK(websocket::upgradeResponse(request).endsWith("\r\n\r\n"));
    } else {
        BFG_FUZZ_CHECK(request.status >= 400 && request.status < 500 && !request.error.isEmpty());
        BFG_FUZZ_CHECK(websocket::errorResponse(request.status, request.error).startsWith("HTTP/1.1 4"));
    }
}
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 4)
        return 0;
    const QByteArrayView bytes(reinterpret_cast<const char *>(data) + 4, qsizetype(size - 4));
    upgrade(bytes);

    // 1 byte to 64 KiB, the node's default.
    const qint64 maxMessageBytes = qint64(1) << (data[0] % 17);
    std::array<qsizetype, 3> cuts{};
    for (size_t i = 0; i < cuts.size(); ++i)
        cuts[i] = bytes.size() * data[1 + i] / 255;
    std::sort(cuts.begin(), cuts.end());
    std::vector<QByteArrayView> pieces;
    qsizetype from = 0;
    for (const qsizetype cut : cuts) {
        pieces.push_back(bytes.sliced(from, cut - from));
        from = cut;
    }
    pieces.push_back(bytes.sliced(from));

    FrameReader whole(maxMessageBytes);
    FrameReader split(maxMessageBytes);
    const std::vector<Report> wholeReports = read(whole, {bytes}, maxMessageBytes);
    const std::vector<Report> splitReports = read(split, pieces, maxMessageBytes);
    BFG_FUZZ_CHECK(wholeReports == splitReports);
    BFG_FUZZ_CHECK(whole.hasFailed() == split.hasFailed() && whole.closeCode() == split.closeCode());
    return 0;
}
