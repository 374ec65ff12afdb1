// Shared by test/train/test_optimizer.cpp (CPU) and test/cuda (GPU): five steps of our fused
// adamw_step + clip_gradient_norm against LibTorch's torch::optim::AdamW::step +
// clip_grad_norm_ from the same start, on the same gradients, on `device`.
#pragma once

#include "bert/train/optimizer.h"
#include "test/test_helpers.h"

#include <torch/nn/utils/clip_grad.h>
#include <torch/torch.h>

namespace bert::test {

inline void run_optimizer_comparison(const torch::Device& device) {
  torch::manual_seed(7);
  // Two modules with the same start; names decide the groups (LayerNorm and biases: no decay).
  auto make = [&] {
    torch::nn::Sequential m(torch::nn::Linear(16, 32), torch::nn::LayerNorm(torch::nn::LayerNormOptions({32})),
                            torch::nn::Linear(32, 4));
    return m;
  };
  auto ours = make(), theirs = make();
  {
    torch::NoGradGuard no_grad;
    for (size_t i = 0; i < ours->parameters().size(); ++i) {
      ours->parameters()[i].copy_(torch::randn_like(ours->parameters()[i]));
      theirs->parameters()[i].copy_(ours->parameters()[i]);
    }
  }
  ours->to(device);
  theirs->to(device);
  train::AdamWSettings s;
  s.lr = 3e-3;
  s.weight_decay = 0.1;
  s.eps = 1e-6;
  auto opt_ours = train::make_adamw(*ours, s);
  auto opt_theirs = train::make_adamw(*theirs, s);
  for (int step = 0; step < 5; ++step) {
    INFO("step " << step);
    auto x = torch::randn({8, 16}).to(device);
    for (auto* m : {&ours, &theirs}) {
      (*m)->zero_grad();
      (*m)->forward(x).pow(2).sum().mul(10.0).backward();  // large gradients: clipping acts
    }
    if (step == 2)  // a parameter without a gradient is left alone (and its step count too)
      for (auto* m : {&ours, &theirs}) (*m)[2]->as<torch::nn::Linear>()->bias.mutable_grad().reset();
    const double max_norm = step == 4 ? 1e9 : 1.0;  // the last step: no clipping
    const double n_ours = train::clip_gradient_norm(ours->parameters(), max_norm);
    const double n_theirs = torch::nn::utils::clip_grad_norm_(theirs->parameters(), max_norm);
    REQUIRE(n_ours == Approx(n_theirs).epsilon(1e-6));
    if (step < 4) REQUIRE(n_ours > 1.0);
    train::set_learning_rate(*opt_ours, s.lr * (step + 1));
    train::set_learning_rate(*opt_theirs, s.lr * (step + 1));
    train::adamw_step(*opt_ours);
    opt_theirs->step();
    for (size_t i = 0; i < ours->parameters().size(); ++i)
      require_close("param " + std::to_string(i), ours->parameters()[i], theirs->parameters()[i], 1e-6, 1e-5);
  }
  // The state is AdamW's own: step counts per parameter (the bias skipped once has one step less).
  const auto ours_params = ours->parameters(), theirs_params = theirs->parameters();
  for (size_t i = 0; i < ours_params.size(); ++i) {
    INFO("param " << i);
    auto state_of = [](torch::optim::AdamW& opt, const torch::Tensor& p) -> torch::optim::AdamWParamState& {
      return static_cast<torch::optim::AdamWParamState&>(*opt.state().at(p.unsafeGetTensorImpl()));
    };
    auto& st = state_of(*opt_ours, ours_params[i]);
    auto& want = state_of(*opt_theirs, theirs_params[i]);
    CHECK(st.step() == want.step());
    // Squared gradients summed in another order on a GPU: measured 1.3e-5 relative on an H100.
    require_close("exp_avg_sq", st.exp_avg_sq(), want.exp_avg_sq(), 1e-7, 1e-4);
    CHECK(st.exp_avg().device() == device);
  }
}

}  // namespace bert::test
