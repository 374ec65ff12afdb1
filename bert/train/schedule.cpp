#include "bert/train/schedule.h"

#include "bert/util/error.h"

#include <algorithm>
#include <cmath>

namespace bert::train {

double Schedule::lr_at(int64_t step) const {
  if (step < warmup_steps) return peak_lr * static_cast<double>(step) / static_cast<double>(std::max<int64_t>(1, warmup_steps));
  if (kind == ScheduleKind::Constant) return peak_lr;
  const double progress = static_cast<double>(step - warmup_steps) /
                          static_cast<double>(std::max<int64_t>(1, total_steps - warmup_steps));
  if (kind == ScheduleKind::Linear) return peak_lr * std::max(0.0, 1.0 - progress);
  return peak_lr * std::max(0.0, 0.5 * (1.0 + std::cos(M_PI * std::min(1.0, progress))));
}

ScheduleKind parse_schedule(const std::string& name) {
  if (name == "linear") return ScheduleKind::Linear;
  if (name == "cosine") return ScheduleKind::Cosine;
  if (name == "constant") return ScheduleKind::Constant;
  throw Error("--schedule: expected linear, cosine or constant, found \"" + name + "\"");
}

int64_t resolve_warmup_steps(int64_t warmup_steps, double warmup_ratio, int64_t total_steps) {
  if (warmup_steps > 0) return warmup_steps;
  if (warmup_ratio < 0 || warmup_ratio > 1)
    throw Error("--warmup-ratio: expected a value in [0, 1], found " + std::to_string(warmup_ratio));
  return static_cast<int64_t>(std::ceil(warmup_ratio * static_cast<double>(total_steps)));
}

}  // namespace bert::train
