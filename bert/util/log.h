// Logging for the library and the apps: `bert::log::info("[pretrain] step {} loss {:.3f}", s, l)`.
// Formats with fmt (the copy LibTorch ships) and writes through log_sink (spdlog); see
// log_sink.h for why the two are kept apart.
#pragma once

#include "bert/util/log_sink.h"

#include <fmt/format.h>

#include <utility>

namespace bert::log {

template <typename... Args>
void at(Level level, fmt::format_string<Args...> format, Args&&... args) {
  if (enabled(level)) write(level, fmt::format(format, std::forward<Args>(args)...));
}
template <typename... Args>
void debug(fmt::format_string<Args...> f, Args&&... a) { at(Level::debug, f, std::forward<Args>(a)...); }
template <typename... Args>
void info(fmt::format_string<Args...> f, Args&&... a) { at(Level::info, f, std::forward<Args>(a)...); }
template <typename... Args>
void warn(fmt::format_string<Args...> f, Args&&... a) { at(Level::warn, f, std::forward<Args>(a)...); }
template <typename... Args>
void error(fmt::format_string<Args...> f, Args&&... a) { at(Level::error, f, std::forward<Args>(a)...); }

}  // namespace bert::log
