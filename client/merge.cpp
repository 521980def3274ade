// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
#include "client/merge.h"

#include <cstdio>

#include <QFile>
#include <QJsonDocument>
#include <QSaveFile>
#include <QTextStream>

#include "client/probereport.h"

using namespace Qt::Literals::StringLiterals;

namespace bfg::probe {

int mergeResults(const QStringList &files, const QString &jsonPath)
{
    ProbeReport merged;
    bool first = true;
    for (const QString &path : files) {
        QFile file(path);
        QString error;
        if (!file.open(QIODevice::ReadOnly)) {
            error = file.errorString();
        } else {
            QJsonParseError parseError;
            const QJsonDocument document = QJsonDocument::fromJson(file.readAll(), &parseError);
            ProbeReport report;
            if (!document.isObject())
                error = parseError.errorString();
            else if (ProbeReport::fromJson(document.object(), &report, &error) && first)
                merged = std::move(report);
            else if (error.isEmpty() && report.scenario != merged.scenario)
                error = u"scenario %1, the others' is %2"_s.arg(report.scenario, merged.scenario);
            else if (error.isEmpty())
                merged.merge(report);
        }
        if (!error.isEmpty()) {
            std::fprintf(stderr, "bfg-probe: merge: %s: %s\n", qPrintable(path), qPrintable(error));
            return 2;
        }
        first = false;
    }

    QTextStream out(stdout);
    merged.print(out);
    if (!jsonPath.isEmpty()) {
        QSaveFile file(jsonPath);
        if (!file.open(QIODevice::WriteOnly) ||
            file.write(QJsonDocument(merged.toJson()).toJson(QJsonDocument::Indented)) < 0 ||
            !file.commit()) {
            std::fprintf(stderr, "bfg-probe: cannot write %s: %s\n", qPrintable(jsonPath),
                         qPrintable(file.errorString()));
            return 1;
        }
    }
    return merged.passed() ? 0 : 1;
}

} // namespace bfg::probe
