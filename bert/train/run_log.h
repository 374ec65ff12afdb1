// What a training run tells people and programs: one fixed-format log line per interval
// (`[pretrain] step 1200/10000 loss 4.213 ... 12.4k tok/s eta 01:02:10`) and the same numbers as
// JSON lines in RUN_DIR/metrics.jsonl, appended (a resumed run continues the file).
#pragma once

#include <nlohmann/json.hpp>

#include <chrono>
#include <fstream>
#include <string>

namespace bert::train {

// "01:02:10" (hours may exceed 24).
std::string format_duration(double seconds);
// 12400 → "12.4k", 3.2e6 → "3.20M".
std::string format_rate(double per_second);

class MetricsLog {
 public:
  explicit MetricsLog(const std::string& run_dir);
  // Appends one JSON object (with "time" added) and flushes, so a crash loses at most one line.
  void write(nlohmann::json record);

 private:
  std::ofstream out_;
  std::string path_;
};

// Throughput and ETA over the steps since the last report.
class Throughput {
 public:
  void start(int64_t step);
  // Returns {items per second since the last call, estimated seconds left}.
  std::pair<double, double> report(int64_t step, int64_t items_since_last, int64_t total_steps);

 private:
  std::chrono::steady_clock::time_point last_;
  int64_t last_step_ = 0;
};

}  // namespace bert::train
