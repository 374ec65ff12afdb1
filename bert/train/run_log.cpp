#include "bert/train/run_log.h"

#include "bert/util/error.h"
#include "bert/util/files.h"
#include "bert/util/log.h"
#include "bert/util/text.h"

#include <algorithm>
#include <cmath>
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

std::string progress_bar(int64_t done, int64_t total, int width) {
  const double share = total > 0 ? std::clamp(static_cast<double>(done) / static_cast<double>(total), 0.0, 1.0) : 0.0;
  const int filled = static_cast<int>(share * width);
  return "[" + std::string(static_cast<size_t>(filled), '#') + std::string(static_cast<size_t>(width - filled), '.') + "]";
}

ProgressReporter::ProgressReporter(std::string tag, int64_t total_steps, int64_t log_every, int64_t start_step)
    : tag_(std::move(tag)), total_steps_(total_steps), log_every_(log_every), bar_(log::status_line_available()) {
  restart_clock(start_step);
}

ProgressReporter::~ProgressReporter() { finish(); }

void ProgressReporter::finish() {
  if (bar_) log::clear_status_line();
  bar_ = false;
}

void ProgressReporter::restart_clock(int64_t step) {
  window_start_ = std::chrono::steady_clock::now();
  window_step_ = step;
  window_tokens_ = 0;
}

ProgressReporter::Rate ProgressReporter::window_rate(int64_t step) const {
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - window_start_).count();
  const int64_t steps = step - window_step_;
  if (elapsed <= 0 || steps <= 0) return {};
  return {static_cast<double>(window_tokens_) / elapsed,
          static_cast<double>(total_steps_ - step) * elapsed / static_cast<double>(steps)};
}

std::optional<ProgressReporter::Rate> ProgressReporter::step(int64_t step, int64_t tokens, const std::string& numbers) {
  window_tokens_ += tokens;
  const Rate rate = window_rate(step);
  if (bar_) {
    const int64_t percent = total_steps_ > 0 ? step * 100 / total_steps_ : 0;
    log::set_status_line(fmt::format("{} {}/{} {} {:3d}% {} {} tok/s eta {}", tag_, step, total_steps_,
                                     progress_bar(step, total_steps_, 20), percent, numbers,
                                     format_rate(rate.tokens_per_s), format_duration(rate.eta_s)));
  }
  if (step % log_every_ != 0 && step != total_steps_) return std::nullopt;
  if (!bar_)
    log::info("{} step {}/{} {} {} tok/s eta {}", tag_, step, total_steps_, numbers, format_rate(rate.tokens_per_s),
              format_duration(rate.eta_s));
  restart_clock(step);
  return rate;
}

void write_run_json(const std::string& run_dir, const nlohmann::json& options) {
  std::filesystem::create_directories(run_dir);
  write_file_atomic((std::filesystem::path(run_dir) / "run.json").string(), options.dump(2) + "\n");
}

void write_metrics_file(const std::string& path, const nlohmann::json& metrics) {
  const bool csv = ends_with(path, ".csv"), tsv = ends_with(path, ".tsv");
  if (!csv && !tsv) {
    write_file_atomic(path, metrics.dump(2) + "\n");
  } else {
    const char delim = csv ? ',' : '\t';
    std::string table = fmt::format("metric{}value\n", delim);
    std::string left_out;
    for (const auto& [key, value] : metrics.items()) {
      if (value.is_number_float()) table += fmt::format("{}{}{}\n", key, delim, value.get<double>());  // NaN: "nan"
      else if (value.is_number()) table += fmt::format("{}{}{}\n", key, delim, value.dump());
      else left_out += (left_out.empty() ? "" : ", ") + key;
    }
    write_file_atomic(path, table);
    if (!left_out.empty())
      log::info("[evaluate] {}: not in the table (lists; --output x.json has them): {}", path, left_out);
  }
  log::info("[evaluate] metrics written to {}", path);
}

void check_resume_compatible(const std::string& run_dir, const nlohmann::json& identity) {
  const std::string path = (std::filesystem::path(run_dir) / "run.json").string();
  if (!std::filesystem::exists(path)) return;  // a run from before run.json existed: nothing to compare
  nlohmann::json saved;
  try {
    saved = nlohmann::json::parse(read_text_file(path));
  } catch (const nlohmann::json::exception& e) {
    throw Error(path + ": not valid JSON (" + e.what() + ")");
  }
  if (saved.contains("command") && saved["command"].is_string() && identity.contains("command") &&
      saved["command"] != identity["command"])
    throw Error(run_dir + " holds a " + saved["command"].get<std::string>() + " run, not a " +
                identity["command"].get<std::string>() + " one; choose another --out");
  std::string differences;
  for (const auto& [key, value] : identity.items()) {
    if (!saved.contains(key) || saved[key] == value) continue;
    differences += fmt::format("\n  {}: the run has {}, this command gives {}", key, saved[key].dump(), value.dump());
  }
  if (!differences.empty())
    throw Error(run_dir + " holds a run started with other settings, so it cannot be resumed with these:" +
                differences + "\nuse the run's settings (see " + path + ") to resume it, or choose another --out");
}

bool NonFiniteSteps::accept(int64_t step, double loss, double grad_norm) {
  if (std::isfinite(loss) && std::isfinite(grad_norm)) {
    in_a_row_ = 0;
    return true;
  }
  ++total_;
  ++in_a_row_;
  log::warn("step {}: loss {} gradient norm {}: update skipped ({} in a row, {} in this run)", step, loss, grad_norm,
            in_a_row_, total_);
  if (in_a_row_ >= max_in_a_row_)
    throw Error(fmt::format("stopped at step {}: {} steps in a row had a non-finite loss or gradient; {}", step,
                            in_a_row_, advice_));
  return false;
}

}  // namespace bert::train
