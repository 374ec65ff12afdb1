#include "bert/train/run_log.h"

#include "bert/util/error.h"

#include <filesystem>
#include <fmt/format.h>

namespace bert::train {

std::string format_duration(double seconds) {
  if (!(seconds >= 0) || seconds > 1e8) return "--:--:--";
  auto s = static_cast<int64_t>(seconds + 0.5);
  return fmt::format("{:02d}:{:02d}:{:02d}", s / 3600, (s / 60) % 60, s % 60);
}

std::string format_rate(double v) {
  if (v >= 1e6) return fmt::format("{:.2f}M", v / 1e6);
  if (v >= 1e3) return fmt::format("{:.1f}k", v / 1e3);
  return fmt::format("{:.1f}", v);
}

MetricsLog::MetricsLog(const std::string& run_dir) : path_((std::filesystem::path(run_dir) / "metrics.jsonl").string()) {
  std::filesystem::create_directories(run_dir);
  out_.open(path_, std::ios::app);
  if (!out_) throw Error(path_ + ": cannot open for appending");
}

void MetricsLog::write(nlohmann::json record) {
  record["time"] = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  out_ << record.dump() << "\n";
  out_.flush();
  if (!out_) throw Error(path_ + ": write failed (disk full?)");
}

void Throughput::start(int64_t step) {
  last_ = std::chrono::steady_clock::now();
  last_step_ = step;
}

std::pair<double, double> Throughput::report(int64_t step, int64_t items, int64_t total_steps) {
  auto now = std::chrono::steady_clock::now();
  const double elapsed = std::chrono::duration<double>(now - last_).count();
  const int64_t steps = step - last_step_;
  last_ = now;
  last_step_ = step;
  if (elapsed <= 0 || steps <= 0) return {0.0, -1.0};
  return {items / elapsed, (total_steps - step) * elapsed / steps};
}

}  // namespace bert::train
