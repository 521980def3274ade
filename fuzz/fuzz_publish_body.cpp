// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// The body of POST /v1/publish (daemon/push/publishbody.h). Input: one
// control byte, then the body. Control bit 0: the body is Protobuf (else
// JSON); bit 1: a batch limit of 2 (else the default 1,000); bit 2: a
// payload limit of 16 bytes (else the default for 64 KiB frames). What the
// parser accepts must meet the limits; what it refuses gets a 4xx with a
// code and a message.
#include <cstdint>

#include "daemon/push/publishbody.h"
#include "fuzz/fuzzcheck.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const bool protobuf = data[0] & 0x01;
    bfg::PublishLimits limits;
    if (data[0] & 0x02)
        limits.maxBatch = 2;
    if (data[0] & 0x04)
        limits.maxPayloadBytes = 16;
    const QByteArrayView body(reinterpret_cast<const char *>(data) + 1, qsizetype(size - 1));

    const bfg::PublishBody parsed = bfg::parsePublishBody(body, protobuf, limits);
    if (parsed.ok()) {
        BFG_FUZZ_CHECK(!parsed.items.empty() && parsed.items.size() <= size_t(limits.maxBatch));
        BFG_FUZZ_CHECK(!parsed.single || (!protobuf && parsed.items.size() == 1));
        for (const bfg::PublishItem &item : parsed.items) {
            BFG_FUZZ_CHECK(item.stream.size() <= 200 && item.stream.contains(u':'));
            BFG_FUZZ_CHECK(item.payload.size() <= limits.maxPayloadBytes);
            BFG_FUZZ_CHECK(item.id.size() <= limits.maxIdChars);
        }
    } else {
        BFG_FUZZ_CHECK(parsed.status == 400 || parsed.status == 413);
        BFG_FUZZ_CHECK(!parsed.code.isEmpty() && !parsed.message.isEmpty());
    }
    return 0;
}
