// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
#include "daemon/push/publishbody.h"

#include <optional>

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>

#include "bfg/v1/api.pb.h"
#include "common/protocol.h"

using namespace Qt::Literals::StringLiterals;

namespace bfg {

namespace {
// One JSON item: {"stream": "...", "text": "..." | "payload_b64": "...", "id": "..."}.
std::optional<PublishItem> itemFromJson(const QJsonValue &value, QString *problem)
{
    if (!value.isObject()) {
        *problem = u"each item must be an object"_s;
        return std::nullopt;
    }
    const QJsonObject object = value.toObject();
    PublishItem item;
    item.stream = object.value(u"stream"_s).toString();
    item.id = object.value(u"id"_s).toString();
    const QJsonValue text = object.value(u"text"_s);
    const QJsonValue base64 = object.value(u"payload_b64"_s);
    if (text.isString() == base64.isString()) {
        *problem = u"give exactly one of \"text\" and \"payload_b64\""_s;
        return std::nullopt;
    }
    if (text.isString()) {
        item.payload = text.toString().toUtf8();
    } else {
        auto decoded = QByteArray::fromBase64Encoding(base64.toString().toLatin1(),
                                                      QByteArray::AbortOnBase64DecodingErrors);
        if (!decoded) {
            *problem = u"payload_b64 is not valid base64"_s;
            return std::nullopt;
        }
        item.payload = std::move(*decoded);
    }
    return item;
}

PublishBody refuse(int status, QString code, QString message)
{
    PublishBody body;
    body.status = status;
    body.code = std::move(code);
    body.message = std::move(message);
    return body;
}
} // namespace

PublishBody parsePublishBody(QByteArrayView bytes, bool protobuf, const PublishLimits &limits)
{
    PublishBody body;
    if (protobuf) {
        v1::PublishRequest batch;
        if (!protocol::decode(bytes, &batch))
            return refuse(400, u"bad_request"_s, u"body is not a bfg.v1.PublishRequest"_s);
        body.items.reserve(size_t(batch.items_size()));
        for (const v1::PublishItem &item : batch.items())
            body.items.push_back({QString::fromStdString(item.stream()),
                                  QByteArray(item.payload().data(), qsizetype(item.payload().size())),
                                  QString::fromStdString(item.id())});
    } else {
        QJsonParseError parseError;
        const QJsonDocument document = QJsonDocument::fromJson(bytes.toByteArray(), &parseError);
        if (parseError.error != QJsonParseError::NoError || !document.isObject())
            return refuse(400, u"bad_request"_s,
                          u"body is not a JSON object: %1"_s.arg(parseError.errorString()));
        const QJsonObject object = document.object();
        QString problem;
        if (object.contains(u"items"_s)) {
            const QJsonArray array = object.value(u"items"_s).toArray();
            for (const QJsonValue &value : array) {
                auto item = itemFromJson(value, &problem);
                if (!item)
                    break;
                body.items.push_back(std::move(*item));
            }
        } else if (auto item = itemFromJson(object, &problem)) {
            body.single = true;
            body.items.push_back(std::move(*item));
        }
        if (!problem.isEmpty())
            return refuse(400, u"bad_request"_s, problem);
    }

    if (body.items.empty() || body.items.size() > size_t(std::max(limits.maxBatch, 0)))
        return refuse(400, u"bad_request"_s, u"publish 1 to %1 messages per request"_s.arg(limits.maxBatch));
    for (const PublishItem &item : body.items) {
        if (!protocol::isValidStreamName(item.stream))
            return refuse(
                400, u"bad_request"_s,
                u"invalid stream name \"%1\": use kind:name, e.g. user:42"_s.arg(item.stream.left(64)));
        if (item.payload.size() > limits.maxPayloadBytes)
            return refuse(413, u"payload_too_large"_s,
                          u"payload above %1 bytes"_s.arg(limits.maxPayloadBytes));
        if (item.id.size() > limits.maxIdChars)
            return refuse(400, u"bad_request"_s,
                          u"message id longer than %1 characters"_s.arg(limits.maxIdChars));
    }
    return body;
}

} // namespace bfg
