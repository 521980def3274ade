// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
#include "common/logging.h"

Q_LOGGING_CATEGORY(lcMain, "bfg.main", QtInfoMsg)
Q_LOGGING_CATEGORY(lcDecision, "bfg.decision", QtInfoMsg)
Q_LOGGING_CATEGORY(lcPush, "bfg.push", QtInfoMsg)
Q_LOGGING_CATEGORY(lcEventLoop, "bfg.eventloop", QtInfoMsg)
Q_LOGGING_CATEGORY(lcBroker, "bfg.broker", QtInfoMsg)
Q_LOGGING_CATEGORY(lcStore, "bfg.store", QtInfoMsg)
Q_LOGGING_CATEGORY(lcHttp, "bfg.http", QtInfoMsg)
Q_LOGGING_CATEGORY(lcClient, "bfg.client", QtInfoMsg)
Q_LOGGING_CATEGORY(lcProbe, "bfg.probe", QtInfoMsg)
Q_LOGGING_CATEGORY(lcConsole, "bfg.console", QtInfoMsg)
