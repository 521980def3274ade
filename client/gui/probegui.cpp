// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
#include "client/gui/probegui.h"

#include <cstdio>

#include <QApplication>
#include <QLoggingCategory>

#include "client/gui/probewindow.h"
#include "client/probeoptions.h"

using namespace Qt::Literals::StringLiterals;

namespace bfg::probe {

int runProbeGui(int argc, char *argv[], const ProbeOptions &options)
{
    QApplication app(argc, argv);
    QApplication::setApplicationDisplayName(u"BFG probe"_s);
    if (QString error; !options.applyTls(&error)) {
        std::fprintf(stderr, "bfg-probe --gui: %s\n", qPrintable(error));
        return 2;
    }
    // The window's event log says what the client does; keep stderr for warnings.
    QLoggingCategory::setFilterRules(u"bfg.client.info=false"_s);
    ProbeWindow window(options);
    window.show();
    return QApplication::exec();
}

} // namespace bfg::probe
