// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// bfg-probe-gui: `bfg-probe --gui`, one user in a window. A program of its
// own so that bfg-probe, the load driver, links no GUI library; bfg-probe
// --gui starts this with its arguments. See `bfg-probe --help`.
#include <cstdio>

#include <QCoreApplication>
#include <QStringList>

#include "client/gui/probegui.h"
#include "client/probeoptions.h"

using namespace Qt::Literals::StringLiterals;

int main(int argc, char *argv[])
{
    QCoreApplication::setApplicationName(u"bfg-probe"_s);
    QCoreApplication::setApplicationVersion(QStringLiteral(BFG_VERSION));
    QStringList arguments;
    for (int i = 0; i < argc; ++i)
        arguments.append(QString::fromLocal8Bit(argv[i]));
    if (!arguments.contains(u"--gui"_s))
        arguments.insert(1, u"--gui"_s); // started by its own name
    bfg::probe::ProbeOptions options;
    QString error;
    if (!bfg::probe::ProbeOptions::parse(arguments, &options, &error)) {
        std::fprintf(stderr, "bfg-probe --gui: %s\nTry 'bfg-probe --help' for more information.\n",
                     qPrintable(error));
        return 2;
    }
    return bfg::probe::runProbeGui(argc, argv, options);
}
