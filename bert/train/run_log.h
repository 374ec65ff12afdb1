// What a training run tells people and programs: on a terminal a progress bar redrawn every step
// (`[pretrain] 1200/10000 [###.......] 12% loss 4.213 ... 12.4k tok/s eta 01:02:10`), elsewhere
// one log line per --log-every steps with the same numbers; the same numbers as JSON lines in
// RUN_DIR/metrics.jsonl, appended (a resumed run continues the file); the resolved options in
// RUN_DIR/run.json.
#pragma once

#include <nlohmann/json.hpp>

#include <chrono>
#include <fstream>
#include <optional>
#include <string>

namespace bert::train {

// "01:02:10" (hours may exceed 24).
std::string format_duration(double seconds);
// 12400 → "12.4k", 3.2e6 → "3.20M".
std::string format_rate(double per_second);

// `bert evaluate --output PATH`: the metrics as JSON (indented), or, for a .csv / .tsv path, a
// two-column table `metric,value` of the numbers (the confusion matrix and other lists are JSON only).
void write_metrics_file(const std::string& path, const nlohmann::json& metrics);

class MetricsLog {
 public:
  explicit MetricsLog(const std::string& run_dir);
  // Appends one JSON object (with "time" added) and flushes, so a crash loses at most one line.
  void write(nlohmann::json record);

 private:
  std::ofstream out_;
  std::string path_;
};

// "[####......]" of `width` cells for done/total.
std::string progress_bar(int64_t done, int64_t total, int width);

// Progress of a training loop. Throughput counts training time only: call restart_clock() after
// an evaluation or a checkpoint.
class ProgressReporter {
 public:
  ProgressReporter(std::string tag, int64_t total_steps, int64_t log_every, int64_t start_step);
  ~ProgressReporter();  // takes the progress bar off the screen
  ProgressReporter(const ProgressReporter&) = delete;
  ProgressReporter& operator=(const ProgressReporter&) = delete;

  struct Rate {
    double tokens_per_s = 0;
    double eta_s = -1;
  };
  // After each optimizer step, with the tokens it consumed and its numbers ("loss 4.2 lr 1e-4").
  // Redraws the bar; on a logging step (every log_every steps, and the last) logs a line when
  // there is no bar and returns the rate since the previous logging step.
  std::optional<Rate> step(int64_t step, int64_t tokens, const std::string& numbers);
  void restart_clock(int64_t step);
  void finish();  // the loop is over: the bar leaves the screen

 private:
  Rate window_rate(int64_t step) const;

  std::string tag_;
  int64_t total_steps_, log_every_;
  bool bar_;
  std::chrono::steady_clock::time_point window_start_;
  int64_t window_step_ = 0, window_tokens_ = 0;
};

// Writes RUN_DIR/run.json (atomically): the resolved options of a run, for people and for the
// resume check below.
void write_run_json(const std::string& run_dir, const nlohmann::json& options);

// Before resuming RUN_DIR: the options in `identity` (those that define what is trained: data,
// model, batch shape, seed) must equal those saved in RUN_DIR/run.json, or the resumed run
// would silently become a different one. Throws naming each differing option.
void check_resume_compatible(const std::string& run_dir, const nlohmann::json& identity);

// Steps whose loss or gradient norm is not finite are skipped (no optimizer update) and counted;
// `max_in_a_row` of them in a row stop the run with `advice`.
class NonFiniteSteps {
 public:
  NonFiniteSteps(int max_in_a_row, std::string advice, int64_t skipped_before = 0)
      : max_in_a_row_(max_in_a_row), advice_(std::move(advice)), total_(skipped_before) {}
  // True when the step may be applied. Logs a warning for a skipped one; throws on too many.
  bool accept(int64_t step, double loss, double grad_norm);
  int64_t skipped_total() const { return total_; }

 private:
  int max_in_a_row_;
  std::string advice_;
  int64_t total_ = 0;
  int in_a_row_ = 0;
};

}  // namespace bert::train
