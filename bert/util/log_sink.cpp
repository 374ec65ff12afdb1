#include "bert/util/log_sink.h"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <stdexcept>

namespace bert::log {

namespace {

// Log lines go to stderr so that stdout stays clean for results (predictions, encodings, info).
spdlog::logger& logger() {
  static auto instance = [] {
    auto l = spdlog::stderr_color_mt("bert");
    l->set_pattern("%^%v%$");
    l->set_level(spdlog::level::info);
    return l;
  }();
  return *instance;
}

spdlog::level::level_enum to_spdlog(Level level) {
  switch (level) {
    case Level::trace: return spdlog::level::trace;
    case Level::debug: return spdlog::level::debug;
    case Level::info: return spdlog::level::info;
    case Level::warn: return spdlog::level::warn;
    case Level::error: return spdlog::level::err;
  }
  return spdlog::level::info;
}

std::mutex status_mutex;
std::string status_text;  // empty: no status line on screen

void erase_status() {
  if (!status_text.empty()) std::fputs("\r\033[K", stderr);
}

void draw_status() {
  if (!status_text.empty()) {
    std::fputs(status_text.c_str(), stderr);
    std::fflush(stderr);
  }
}

}  // namespace

bool status_line_available() {
  static const bool available = [] {
    const char* term = std::getenv("TERM");
    return ::isatty(STDERR_FILENO) == 1 && !(term && std::strcmp(term, "dumb") == 0);
  }();
  return available && enabled(Level::info);  // a progress bar is info output (quiet workers draw none)
}

void set_status_line(const std::string& line) {
  if (!status_line_available()) return;
  std::lock_guard<std::mutex> lock(status_mutex);
  erase_status();
  status_text = line;
  draw_status();
}

void clear_status_line() {
  std::lock_guard<std::mutex> lock(status_mutex);
  erase_status();
  std::fflush(stderr);
  status_text.clear();
}

void set_level(const std::string& name) {
  if (name == "trace") logger().set_level(spdlog::level::trace);
  else if (name == "debug") logger().set_level(spdlog::level::debug);
  else if (name == "info") logger().set_level(spdlog::level::info);
  else if (name == "warn") logger().set_level(spdlog::level::warn);
  else if (name == "error") logger().set_level(spdlog::level::err);
  else throw std::invalid_argument("--log-level: expected trace|debug|info|warn|error, found \"" + name + "\"");
}

bool enabled(Level level) { return logger().should_log(to_spdlog(level)); }

void write(Level level, const std::string& message) {
  std::lock_guard<std::mutex> lock(status_mutex);
  erase_status();
  if (level == Level::warn) logger().warn("warning: {}", message);
  else logger().log(to_spdlog(level), message);
  draw_status();
}

}  // namespace bert::log
