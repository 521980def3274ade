// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// A Protobuf message as the JSON a person expects from curl: field names as
// in the .proto (snake_case), 64-bit integers as JSON numbers (not the
// strings of the canonical proto3 mapping), enums by name, every field
// present. Lets an HTTP answer be built once, as Protobuf, and served in
// either content type.
#pragma once

#include <QJsonObject>

namespace google::protobuf {
class Message;
}

namespace bfg {

QJsonObject jsonFromProto(const google::protobuf::Message &message);

} // namespace bfg
