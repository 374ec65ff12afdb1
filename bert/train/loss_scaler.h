// Dynamic loss scaling for fp16 training (the scheme of PyTorch's GradScaler): the loss is
// multiplied by a large scale before backward so that small fp16 gradients do not flush to zero;
// the gradients are divided by it again before clipping. A step whose gradients overflowed (inf or
// NaN) is skipped and the scale halved; after `growth_interval` good steps in a row it doubles.
// Overflow steps are part of the scheme (the first few while the scale comes down), so they are not
// counted as bad steps. Disabled (scale 1, no checks) for fp32 and bf16, whose range is fp32's.
#pragma once

#include <nlohmann/json.hpp>
#include <torch/types.h>

#include <vector>

namespace bert::train {

class LossScaler {
 public:
  explicit LossScaler(bool enabled, double initial_scale = 65536.0, int64_t growth_interval = 2000);

  bool enabled() const { return enabled_; }
  double scale() const { return scale_; }

  // loss x scale (the loss itself when disabled).
  torch::Tensor scale_loss(const torch::Tensor& loss) const;
  // Divides every gradient by the scale; false when any gradient is inf or NaN (skip this step).
  bool unscale(const std::vector<torch::Tensor>& parameters) const;
  // After each step: halves the scale after an overflow, doubles it after growth_interval good steps.
  void update(bool gradients_finite);

  // Checkpoint state ({"loss_scale": .., "loss_scale_good_steps": ..}); restore ignores absent keys.
  nlohmann::json state() const;
  void restore(const nlohmann::json& state);

 private:
  bool enabled_;
  double scale_;
  int64_t growth_interval_;
  int64_t good_steps_ = 0;
};

class NonFiniteSteps;
// Whether to apply this step: an fp16 overflow is skipped quietly while the scale can still come
// down; anything else non-finite goes through `bad_steps` (skipped, counted, too many stop the run).
bool apply_step(bool gradients_finite, const LossScaler& scaler, NonFiniteSteps& bad_steps, int64_t step,
                double loss, double grad_norm);

}  // namespace bert::train
