// Where a training step's time goes, for profiling on a GPU without a profiler: with
// BERT_STEP_TIMING=1 in the environment, the loop marks the end of each phase (data wait, copy to
// the device, forward, backward, clipping + optimizer); a mark can first wait for the device, so
// that "host" marks measure how long launching took and the following "device" mark how long the
// GPU still needed. The waits serialise host and GPU, so steps run slower than without; the split
// is what this is for. Off (every call a no-op) unless the variable is set.
#pragma once

#include <torch/types.h>

#include <chrono>
#include <map>
#include <string>
#include <vector>

namespace bert::train {

class StepTiming {
 public:
  explicit StepTiming(const torch::Device& device);
  bool enabled() const { return enabled_; }
  // Starts a step's clock.
  void start();
  // Adds the time since the previous mark to `phase`; with wait_for_device, after the device has
  // finished what was queued.
  void mark(const std::string& phase, bool wait_for_device = false);
  // Logs milliseconds per step of each phase (mean over the steps after the first `skip`, but for
  // the last, which writes the final checkpoint).
  void report(int64_t skip = 2) const;

 private:
  bool enabled_ = false;
  torch::Device device_;
  int64_t steps_ = 0;
  std::chrono::steady_clock::time_point last_;
  std::vector<std::string> order_;
  std::map<std::string, std::vector<double>> ms_;  // per phase, one entry per step
};

}  // namespace bert::train
