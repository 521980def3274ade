// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
#include "daemon/http/protojson.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>

#include <QJsonArray>

namespace bfg {

namespace {
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

QJsonValue scalar(const Message &message, const Reflection *reflection, const FieldDescriptor *field,
                  int index)
{
    const bool repeated = field->is_repeated();
    switch (field->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32:
        return repeated ? reflection->GetRepeatedInt32(message, field, index)
                        : reflection->GetInt32(message, field);
    case FieldDescriptor::CPPTYPE_INT64:
        return qint64(repeated ? reflection->GetRepeatedInt64(message, field, index)
                               : reflection->GetInt64(message, field));
    case FieldDescriptor::CPPTYPE_UINT32:
        return qint64(repeated ? reflection->GetRepeatedUInt32(message, field, index)
                               : reflection->GetUInt32(message, field));
    case FieldDescriptor::CPPTYPE_UINT64:
        return qint64(repeated ? reflection->GetRepeatedUInt64(message, field, index)
                               : reflection->GetUInt64(message, field));
    case FieldDescriptor::CPPTYPE_DOUBLE:
        return repeated ? reflection->GetRepeatedDouble(message, field, index)
                        : reflection->GetDouble(message, field);
    case FieldDescriptor::CPPTYPE_FLOAT:
        return repeated ? reflection->GetRepeatedFloat(message, field, index)
                        : reflection->GetFloat(message, field);
    case FieldDescriptor::CPPTYPE_BOOL:
        return repeated ? reflection->GetRepeatedBool(message, field, index)
                        : reflection->GetBool(message, field);
    case FieldDescriptor::CPPTYPE_ENUM:
        return QString::fromStdString(repeated ? reflection->GetRepeatedEnum(message, field, index)->name()
                                               : reflection->GetEnum(message, field)->name());
    case FieldDescriptor::CPPTYPE_STRING: {
        const std::string value = repeated ? reflection->GetRepeatedString(message, field, index)
                                           : reflection->GetString(message, field);
        if (field->type() == FieldDescriptor::TYPE_BYTES)
            return QString::fromLatin1(QByteArray(value.data(), qsizetype(value.size())).toBase64());
        return QString::fromStdString(value);
    }
    case FieldDescriptor::CPPTYPE_MESSAGE:
        return jsonFromProto(repeated ? reflection->GetRepeatedMessage(message, field, index)
                                      : reflection->GetMessage(message, field));
    }
    return {};
}
} // namespace

QJsonObject jsonFromProto(const Message &message)
{
    QJsonObject object;
    const auto *descriptor = message.GetDescriptor();
    const Reflection *reflection = message.GetReflection();
    for (int i = 0; i < descriptor->field_count(); ++i) {
        const FieldDescriptor *field = descriptor->field(i);
        const QString name = QString::fromStdString(field->name());
        if (field->is_repeated()) {
            QJsonArray array;
            for (int j = 0; j < reflection->FieldSize(message, field); ++j)
                array.append(scalar(message, reflection, field, j));
            object.insert(name, array);
        } else {
            object.insert(name, scalar(message, reflection, field, 0));
        }
    }
    return object;
}

} // namespace bfg
