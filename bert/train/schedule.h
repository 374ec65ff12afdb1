// Learning-rate schedules as pure functions of the step: linear warmup from 0 to the peak,
// then linear decay to 0 (BERT's and HF Trainer's default), cosine decay to 0, or constant.
// Step counts optimizer updates (not micro-batches), starting at 0 for the first update.
#pragma once

#include <cstdint>
#include <string>

namespace bert::train {

enum class ScheduleKind { Linear, Cosine, Constant };

struct Schedule {
  ScheduleKind kind = ScheduleKind::Linear;
  double peak_lr = 1e-4;
  int64_t warmup_steps = 0;
  int64_t total_steps = 1;

  // The learning rate for update number `step` (0-based), as HF's get_*_schedule_with_warmup
  // computes it: lr = peak * factor(step).
  double lr_at(int64_t step) const;
};

// "linear" | "cosine" | "constant"; anything else is an error naming the flag value.
ScheduleKind parse_schedule(const std::string& name);

// --warmup-steps wins when > 0, otherwise ceil(ratio * total).
int64_t resolve_warmup_steps(int64_t warmup_steps, double warmup_ratio, int64_t total_steps);

}  // namespace bert::train
