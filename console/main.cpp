// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// bfg-console: parses the command line, builds the main window and runs
// the event loop. Without --decision it opens the connect dialog.
#include <cstdio>

#include <QApplication>
#include <QCommandLineParser>
#include <QDir>
#include <QFile>
#include <QMessageBox>
#include <QScreen>
#include <QSettings>
#include <QTableView>
#include <QTimer>

#include "common/clienttls.h"
#include "console/core/adminclient.h"
#include "console/core/credentialstore.h"
#include "console/core/nodetablemodel.h"
#include "console/core/recentclusters.h"
#include "console/mainwindow.h"
#include "console/nodeactions.h"

using namespace Qt::Literals::StringLiterals;

namespace {

int fail(const QString &message)
{
    std::fprintf(stderr, "bfg-console: %s\n", qPrintable(message));
    return 2;
}

// --screenshots: once the charts have filled, save the main window and the
// drain confirmation (over the window, as the operator sees it), then quit.
void takeScreenshots(bfg::MainWindow *window, const QString &dir)
{
    auto *view = window->findChild<QTableView *>(u"nodesView"_s);
    view->selectRow(0);
    const QString node = view->model()->index(0, 0).data(bfg::NodeTableModel::NodeIdRole).toString();
    QDir().mkpath(dir);
    const QString windowPath = QDir(dir).filePath(u"main-window.png"_s);
    const QString drainPath = QDir(dir).filePath(u"drain-confirmation.png"_s);
    bool ok = window->grab().save(windowPath);
    QMessageBox *box = window->nodeActions()->drainConfirmation(node);
    box->show();
    QTimer::singleShot(1000, window, [window, box, windowPath, drainPath, ok]() mutable {
        const QRect frame = window->frameGeometry();
        ok = window->screen()
                 ->grabWindow(0, frame.x(), frame.y(), frame.width(), frame.height())
                 .save(drainPath) &&
             ok;
        box->deleteLater();
        std::printf("bfg-console: screenshots %s %s: %s\n", qPrintable(windowPath), qPrintable(drainPath),
                    ok ? "saved" : "FAILED");
        std::fflush(stdout);
        QCoreApplication::exit(ok ? 0 : 1);
    });
}

} // namespace

int main(int argc, char *argv[])
{
    QApplication app(argc, argv);
    QApplication::setOrganizationName(u"BFG"_s);
    QApplication::setApplicationName(u"bfg-console"_s);
    QApplication::setApplicationDisplayName(u"BFG console"_s);
    QApplication::setApplicationVersion(QStringLiteral(BFG_VERSION));
    QApplication::setWindowIcon(QIcon(u":/icons/bfg-console.svg"_s));

    QCommandLineParser parser;
    parser.setApplicationDescription(
        u"The BFG operator console: live per-node connections, latency and throughput, the allowed load, "
        u"drain and undrain, the audit log. It talks only to the decision servers' admin API.\n\n"
        u"Without --decision it opens the connect dialog (File → Connect…, Ctrl+O). Admin keys are kept in "
        u"the OS keychain, never in the settings file; without a keychain, for this session only.\n\n"
        u"Settings (window layout, column widths, theme, recent clusters without their keys) are kept in "
        u"~/.config/BFG/bfg-console.conf. --help-all adds Qt's own options (-platform, -style ...).\n\n"
        u"Exit code: 0 once the window is closed; 2 for bad usage; with --screenshots, 1 if they could "
        u"not be saved."_s);
    parser.addHelpOption();
    parser.addVersionOption();
    const QCommandLineOption decisionOption(
        u"decision"_s,
        u"Decision server URL(s), comma-separated or repeated, in fallback order (e.g. http://10.0.0.5:8080)."_s,
        u"urls"_s);
    const QCommandLineOption tokenFileOption(
        u"token-file"_s,
        u"Read the admin key from this file (e.g. bfgd's data_dir/admin-key) instead of the keychain; it "
        u"is not stored."_s,
        u"path"_s);
    const QCommandLineOption themeOption(
        u"theme"_s, u"Colours: system (default: as last chosen), light or dark."_s, u"theme"_s);
    const QCommandLineOption screenshotsOption(
        u"screenshots"_s,
        u"For documentation: after --screenshot-after seconds save main-window.png and "
        u"drain-confirmation.png "
        u"into this directory, then quit (scripts/screenshot-console)."_s,
        u"dir"_s);
    const QCommandLineOption screenshotAfterOption(u"screenshot-after"_s,
                                                   u"Seconds to wait before the screenshots (default 30)."_s,
                                                   u"seconds"_s, u"30"_s);
    const QCommandLineOption caFileOption(u"ca-file"_s,
                                          QString::fromLatin1(bfg::clienttls::CaFileHelp) + u'.', u"file"_s);
    const QCommandLineOption insecureOption(u"insecure"_s,
                                            QString::fromLatin1(bfg::clienttls::InsecureHelp) + u'.');
    parser.addOptions({decisionOption, tokenFileOption, themeOption, screenshotsOption, screenshotAfterOption,
                       caFileOption, insecureOption});
    // Bad usage exits 2 like every other check below (process() would exit 1);
    // process() then handles --help, --help-all and --version.
    if (!parser.parse(QCoreApplication::arguments()))
        return fail(parser.errorText());
    parser.process(app);

    if (QString error;
        !bfg::clienttls::configure(parser.value(caFileOption), parser.isSet(insecureOption), &error))
        return fail(error);

    QList<QUrl> urls;
    QStringList urlTexts;
    for (const QString &value : parser.values(decisionOption))
        for (const QString &text : value.split(u',', Qt::SkipEmptyParts)) {
            const QUrl url = bfg::AdminClient::normalizedUrl(text);
            if (!url.isValid())
                return fail(u"--decision: %1 is not an http:// or https:// URL with a host"_s.arg(text));
            urls.append(url);
            urlTexts.append(url.toString());
        }
    QByteArray key;
    if (parser.isSet(tokenFileOption)) {
        if (urls.isEmpty())
            return fail(u"--token-file needs --decision"_s);
        QFile file(parser.value(tokenFileOption));
        if (!file.open(QIODevice::ReadOnly))
            return fail(u"cannot read %1: %2"_s.arg(file.fileName(), file.errorString()));
        key = file.readAll().trimmed();
        if (key.isEmpty())
            return fail(u"%1 is empty"_s.arg(file.fileName()));
    }
    const QString theme = parser.value(themeOption);
    if (!theme.isEmpty() && theme != u"system"_s && theme != u"light"_s && theme != u"dark"_s)
        return fail(u"--theme must be system, light or dark"_s);
    bool ok = false;
    const int screenshotAfter = parser.value(screenshotAfterOption).toInt(&ok);
    if (!ok || screenshotAfter < 0)
        return fail(u"--screenshot-after must be a whole number of seconds"_s);
    if (parser.isSet(screenshotsOption) && key.isEmpty())
        return fail(u"--screenshots needs --decision and --token-file"_s);

    QSettings settings;
    bfg::CredentialStore credentials;
    bfg::MainWindow window(&settings, &credentials);
    if (!theme.isEmpty())
        window.setTheme(theme == u"dark"_s    ? bfg::MainWindow::Theme::Dark
                        : theme == u"light"_s ? bfg::MainWindow::Theme::Light
                                              : bfg::MainWindow::Theme::System);
    window.show();

    if (!key.isEmpty()) {
        window.connectToCluster(urls, key);
    } else if (!urls.isEmpty()) {
        // A known cluster: its key from the keychain, else ask.
        credentials.readToken(bfg::RecentClusters::keyFor(urlTexts), &window,
                              [&window, urls, urlTexts](const QString &token) {
                                  if (token.isEmpty())
                                      window.openConnectDialog(urlTexts);
                                  else
                                      window.connectToCluster(urls, token.toUtf8());
                              });
    } else {
        QTimer::singleShot(0, &window, [&window] { window.openConnectDialog(); });
    }
    if (parser.isSet(screenshotsOption)) {
        const QString dir = parser.value(screenshotsOption);
        QTimer::singleShot(screenshotAfter * 1000, &window,
                           [&window, dir] { takeScreenshots(&window, dir); });
    }
    return app.exec();
}
