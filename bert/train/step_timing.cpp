#include "bert/train/step_timing.h"

#include "bert/util/log.h"

#include <torch/cuda.h>

#include <cstdlib>
#include <numeric>

namespace bert::train {

StepTiming::StepTiming(const torch::Device& device) : device_(device) {
  const char* v = std::getenv("BERT_STEP_TIMING");
  enabled_ = v != nullptr && std::string(v) == "1";
}

void StepTiming::start() {
  if (!enabled_) return;
  if (device_.is_cuda()) torch::cuda::synchronize(device_.index());
  ++steps_;
  last_ = std::chrono::steady_clock::now();
}

void StepTiming::mark(const std::string& phase, bool wait_for_device) {
  if (!enabled_) return;
  if (wait_for_device && device_.is_cuda()) torch::cuda::synchronize(device_.index());
  const auto now = std::chrono::steady_clock::now();
  auto& v = ms_[phase];
  if (v.empty()) order_.push_back(phase);
  v.resize(static_cast<size_t>(steps_), 0.0);
  v.back() += std::chrono::duration<double, std::milli>(now - last_).count();
  last_ = now;
}

void StepTiming::report(int64_t skip) const {
  // The last step is left out too: it writes the final checkpoint.
  const int64_t last = steps_ - 1;
  if (!enabled_ || last <= skip) return;
  double total = 0;
  std::string table;
  for (const auto& phase : order_) {
    auto v = ms_.at(phase);
    v.resize(static_cast<size_t>(steps_), 0.0);
    const double mean = std::accumulate(v.begin() + skip, v.begin() + last, 0.0) / static_cast<double>(last - skip);
    total += mean;
    table += fmt::format("\n  {:<28} {:8.2f} ms", phase, mean);
  }
  log::warn("[step timing] mean per step over steps {}..{} (BERT_STEP_TIMING=1: the device is waited for at "
            "\"device\" marks, so steps run slower than usual):{}\n  {:<28} {:8.2f} ms",
            skip + 1, last, table, "total", total);
}

}  // namespace bert::train
