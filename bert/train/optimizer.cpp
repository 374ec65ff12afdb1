#include "bert/train/optimizer.h"

#include "bert/util/checks.h"
#include "bert/util/text.h"

#include <ATen/ops/_foreach_mul.h>
#include <ATen/ops/_foreach_norm.h>
#include <ATen/ops/_foreach_zero.h>
#include <ATen/ops/_fused_adamw.h>

#include <cmath>
#include <map>
#include <tuple>

namespace bert::train {

bool is_no_decay_parameter(const std::string& name) {
  return ends_with(name, "bias") || name.find("LayerNorm.") != std::string::npos;
}

void check_optimizer_flags(const AdamWSettings& s, double clip_norm) {
  require_non_negative("--lr", s.lr);
  require_non_negative("--weight-decay", s.weight_decay);
  require_positive("--adam-eps", s.eps);
  require_in_range("--adam-beta1", s.beta1, 0, 1, /*below_hi=*/true);
  require_in_range("--adam-beta2", s.beta2, 0, 1, /*below_hi=*/true);
  require_non_negative("--clip-norm", clip_norm);
}

std::unique_ptr<torch::optim::AdamW> make_adamw(torch::nn::Module& model, const AdamWSettings& s) {
  std::vector<torch::Tensor> decay, no_decay;
  for (const auto& p : model.named_parameters(/*recurse=*/true)) {
    if (!p.value().requires_grad()) continue;
    (is_no_decay_parameter(p.key()) ? no_decay : decay).push_back(p.value());
  }
  auto options = [&](double wd) {
    return std::make_unique<torch::optim::AdamWOptions>(torch::optim::AdamWOptions(s.lr)
                                                            .betas({s.beta1, s.beta2})
                                                            .eps(s.eps)
                                                            .weight_decay(wd));
  };
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(decay, options(s.weight_decay));
  groups.emplace_back(no_decay, options(0.0));
  return std::make_unique<torch::optim::AdamW>(groups, torch::optim::AdamWOptions(s.lr)
                                                           .betas({s.beta1, s.beta2})
                                                           .eps(s.eps)
                                                           .weight_decay(s.weight_decay));
}

void set_learning_rate(torch::optim::Optimizer& optimizer, double lr) {
  for (auto& group : optimizer.param_groups()) static_cast<torch::optim::AdamWOptions&>(group.options()).lr(lr);
}

void adamw_step(torch::optim::AdamW& optimizer) {
  torch::NoGradGuard no_grad;
  auto& state = optimizer.state();
  for (auto& group : optimizer.param_groups()) {
    const auto& o = static_cast<const torch::optim::AdamWOptions&>(group.options());
    TORCH_CHECK(!o.amsgrad(), "adamw_step: amsgrad is not used here");
    // The kernel takes tensors of one device and dtype and one step count per tensor; group by all
    // three (in practice one group: every parameter is fp32 on one device and stepped every time).
    struct Lists {
      std::vector<torch::Tensor> params, grads, exp_avgs, exp_avg_sqs;
    };
    std::map<std::tuple<std::string, int, int64_t>, Lists> lists;
    for (auto& p : group.params()) {
      if (!p.grad().defined()) continue;
      auto& slot = state[p.unsafeGetTensorImpl()];
      if (!slot) {  // lazily, as AdamW::step: zero moments, step 0
        auto s = std::make_unique<torch::optim::AdamWParamState>();
        s->exp_avg(torch::zeros_like(p, torch::MemoryFormat::Preserve));
        s->exp_avg_sq(torch::zeros_like(p, torch::MemoryFormat::Preserve));
        slot = std::move(s);
      }
      auto& s = static_cast<torch::optim::AdamWParamState&>(*slot);
      s.step(s.step() + 1);  // the kernel reads the step count after the increment
      auto& l = lists[{p.device().str(), static_cast<int>(p.scalar_type()), s.step()}];
      l.params.push_back(p);
      l.grads.push_back(p.grad());
      l.exp_avgs.push_back(s.exp_avg());
      l.exp_avg_sqs.push_back(s.exp_avg_sq());
    }
    for (auto& [key, l] : lists) {
      const double step = static_cast<double>(std::get<2>(key));
      // Step counts as fp32 scalars on the parameters' device (one fill, no host copy per tensor).
      auto steps = torch::full({static_cast<int64_t>(l.params.size())}, step,
                               torch::TensorOptions().dtype(torch::kFloat).device(l.params.front().device()))
                       .unbind(0);
      at::_fused_adamw_(l.params, l.grads, l.exp_avgs, l.exp_avg_sqs, /*max_exp_avg_sqs=*/{}, steps, o.lr(),
                        std::get<0>(o.betas()), std::get<1>(o.betas()), o.weight_decay(), o.eps(),
                        /*amsgrad=*/false, /*maximize=*/false);
    }
  }
}

void zero_gradients(const std::vector<torch::Tensor>& parameters) {
  std::vector<torch::Tensor> grads;
  for (const auto& p : parameters)
    if (p.grad().defined()) grads.push_back(p.grad());
  if (!grads.empty()) at::_foreach_zero_(grads);
}

double clip_gradient_norm(const std::vector<torch::Tensor>& parameters, double max_norm) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> grads;
  for (const auto& p : parameters)
    if (p.grad().defined()) grads.push_back(p.grad());
  if (grads.empty()) return 0.0;
  const auto norms = at::_foreach_norm(grads, 2);
  const double total = torch::linalg_vector_norm(torch::stack(norms), 2).item<double>();
  const double factor = max_norm / (total + 1e-6);
  if (max_norm > 0 && std::isfinite(total) && factor < 1.0) at::_foreach_mul_(grads, factor);
  return total;
}

}  // namespace bert::train
