#include "bert/train/loss_scaler.h"

#include "bert/train/run_log.h"
#include "bert/util/log.h"

#include <torch/torch.h>

#include <algorithm>

namespace bert::train {

LossScaler::LossScaler(bool enabled, double initial_scale, int64_t growth_interval)
    : enabled_(enabled), scale_(enabled ? initial_scale : 1.0), growth_interval_(growth_interval) {}

torch::Tensor LossScaler::scale_loss(const torch::Tensor& loss) const { return enabled_ ? loss * scale_ : loss; }

bool LossScaler::unscale(const std::vector<torch::Tensor>& parameters) const {
  if (!enabled_) return true;
  torch::NoGradGuard no_grad;
  // One device-side flag for all gradients, read once: no host sync per tensor.
  torch::Tensor all_finite;
  for (const auto& p : parameters) {
    if (!p.grad().defined()) continue;
    p.mutable_grad().div_(scale_);
    auto finite = torch::isfinite(p.grad()).all();
    all_finite = all_finite.defined() ? all_finite.logical_and(finite) : finite;
  }
  return !all_finite.defined() || all_finite.item<bool>();
}

void LossScaler::update(bool gradients_finite) {
  if (!enabled_) return;
  if (!gradients_finite) {
    scale_ = std::max(scale_ * 0.5, 1.0);
    good_steps_ = 0;
  } else if (++good_steps_ >= growth_interval_) {
    scale_ *= 2.0;
    good_steps_ = 0;
  }
}

nlohmann::json LossScaler::state() const {
  return enabled_ ? nlohmann::json{{"loss_scale", scale_}, {"loss_scale_good_steps", good_steps_}} : nlohmann::json::object();
}

void LossScaler::restore(const nlohmann::json& state) {
  if (!enabled_) return;
  scale_ = state.value("loss_scale", scale_);
  good_steps_ = state.value("loss_scale_good_steps", good_steps_);
}

bool apply_step(bool gradients_finite, const LossScaler& scaler, NonFiniteSteps& bad_steps, int64_t step,
                double loss, double grad_norm) {
  if (!gradients_finite && scaler.scale() > 1.0) {
    log::debug("[fp16] step {}: gradients overflowed at loss scale {:g}; skipped, scale halved", step, scaler.scale());
    return false;
  }
  return bad_steps.accept(step, loss, grad_norm);
}

}  // namespace bert::train
