// The logging back end: spdlog behind plain functions.
//
// Why a wall: the LibTorch wheel ships fmt 12 headers on its include path, and Debian's spdlog
// 1.10 only builds against Debian's fmt 9. So spdlog lives in its own small target (bert_log,
// compiled without the torch include path), and everything else formats with fmt 12 (header
// only, from the torch include path) and hands finished strings to these functions.
#pragma once

#include <string>

namespace bert::log {

enum class Level { trace, debug, info, warn, error };

// "trace" | "debug" | "info" | "warn" | "error"; anything else is an error naming the value.
void set_level(const std::string& name);
bool enabled(Level level);
void write(Level level, const std::string& message);

// A status line (a training progress bar) kept below the log on a terminal: each log line clears
// it, prints, then redraws it. Only drawn when stderr is a terminal (and TERM is not "dumb");
// status_line_available() tells callers whether to show a bar or fall back to periodic log lines.
bool status_line_available();
void set_status_line(const std::string& line);
void clear_status_line();  // removes it for good (end of training)

}  // namespace bert::log
