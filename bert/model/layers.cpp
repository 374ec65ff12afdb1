#include "bert/model/layers.h"

#include "bert/model/dropout_kernels.h"
#include "bert/util/error.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <torch/nn/init.h>
#include <torch/torch.h>

#include <cmath>
#include <cstdint>
#include <mutex>
#include <ostream>

namespace bert::model {

namespace {
thread_local bool t_skip_weight_init = false;
}

SkipWeightInit::SkipWeightInit() : previous_(t_skip_weight_init) { t_skip_weight_init = true; }
SkipWeightInit::~SkipWeightInit() { t_skip_weight_init = previous_; }
bool SkipWeightInit::active() { return t_skip_weight_init; }

LinearImpl::LinearImpl(int64_t in_features, int64_t out_features)
    : in_features_(in_features), out_features_(out_features) {
  reset();
}

void LinearImpl::reset() {
  weight = register_parameter("weight", torch::empty({out_features_, in_features_}));
  bias = register_parameter("bias", torch::empty({out_features_}));
  if (SkipWeightInit::active()) return;
  torch::NoGradGuard no_grad;
  torch::nn::init::kaiming_uniform_(weight, std::sqrt(5.0));
  const double bound = in_features_ > 0 ? 1.0 / std::sqrt(static_cast<double>(in_features_)) : 0.0;
  torch::nn::init::uniform_(bias, -bound, bound);
}

void LinearImpl::pretty_print(std::ostream& stream) const {
  stream << "bert::model::Linear(in_features=" << in_features_ << ", out_features=" << out_features_ << ")";
}

torch::Tensor LinearImpl::forward(const torch::Tensor& input) { return torch::linear(input, weight, bias); }

EmbeddingImpl::EmbeddingImpl(int64_t num_embeddings, int64_t embedding_dim, std::optional<int64_t> padding_idx)
    : num_embeddings_(num_embeddings), embedding_dim_(embedding_dim), padding_idx_(padding_idx) {
  reset();
}

void EmbeddingImpl::reset() {
  weight = register_parameter("weight", torch::empty({num_embeddings_, embedding_dim_}));
  if (SkipWeightInit::active()) return;
  torch::NoGradGuard no_grad;
  torch::nn::init::normal_(weight);
  if (padding_idx_) weight[*padding_idx_].zero_();
}

void EmbeddingImpl::pretty_print(std::ostream& stream) const {
  stream << "bert::model::Embedding(num_embeddings=" << num_embeddings_ << ", embedding_dim=" << embedding_dim_;
  if (padding_idx_) stream << ", padding_idx=" << *padding_idx_;
  stream << ")";
}

torch::Tensor EmbeddingImpl::forward(const torch::Tensor& indices) {
  return torch::embedding(weight, indices, padding_idx_.value_or(-1));
}

namespace {

uint64_t draw_seed() {
  auto generator = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(generator.mutex());
  return generator.get<at::CPUGeneratorImpl>()->random64();
}

constexpr int64_t kGrain = 16384;  // elements per task: below this, threads cost more than they save

struct CpuDropout : torch::autograd::Function<CpuDropout> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& input, double p) {
    namespace k = dropout_kernels;
    const auto x = input.contiguous();
    auto out = torch::empty_like(x);
    auto keep = torch::empty(x.sizes(), x.options().dtype(torch::kBool));
    const uint32_t threshold = k::keep_threshold(1.0 - p);
    const float scale = static_cast<float>(1.0 / (1.0 - p));
    const uint64_t seed = draw_seed();
    auto* keep_data = reinterpret_cast<uint8_t*>(keep.data_ptr<bool>());
    at::parallel_for(0, x.numel(), kGrain, [&](int64_t begin, int64_t end) {
      if (x.scalar_type() == at::kFloat)
        k::forward_f32(x.data_ptr<float>(), out.data_ptr<float>(), keep_data, begin, end, seed, threshold, scale);
      else
        k::forward_bf16(reinterpret_cast<const uint16_t*>(x.data_ptr<at::BFloat16>()),
                        reinterpret_cast<uint16_t*>(out.data_ptr<at::BFloat16>()), keep_data, begin, end, seed,
                        threshold, scale);
    });
    ctx->save_for_backward({keep});
    ctx->saved_data["scale"] = static_cast<double>(scale);
    return out;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    namespace k = dropout_kernels;
    const auto keep = ctx->get_saved_variables()[0];
    const auto scale = static_cast<float>(ctx->saved_data["scale"].toDouble());
    const auto grad = grads[0].contiguous();
    auto out = torch::empty_like(grad);
    const auto* keep_data = reinterpret_cast<const uint8_t*>(keep.data_ptr<bool>());
    at::parallel_for(0, grad.numel(), kGrain, [&](int64_t begin, int64_t end) {
      if (grad.scalar_type() == at::kFloat)
        k::backward_f32(grad.data_ptr<float>(), keep_data, out.data_ptr<float>(), begin, end, scale);
      else
        k::backward_bf16(reinterpret_cast<const uint16_t*>(grad.data_ptr<at::BFloat16>()), keep_data,
                         reinterpret_cast<uint16_t*>(out.data_ptr<at::BFloat16>()), begin, end, scale);
    });
    return {out, torch::Tensor()};
  }
};

void check_dropout_probability(double p) {
  if (p < 0.0 || p > 1.0) throw Error("dropout probability must be in [0, 1], found " + std::to_string(p));
}

}  // namespace

torch::Tensor apply_dropout(const torch::Tensor& input, double p, bool training) {
  check_dropout_probability(p);
  if (!training || p == 0.0) return input;
  const auto dtype = input.scalar_type();
  if (p == 1.0 || !input.device().is_cpu() || (dtype != at::kFloat && dtype != at::kBFloat16))
    return torch::dropout(input, p, /*train=*/true);
  return CpuDropout::apply(input, p);
}

DropoutImpl::DropoutImpl(double p) : p_(p) { check_dropout_probability(p); }

void DropoutImpl::pretty_print(std::ostream& stream) const { stream << "bert::model::Dropout(p=" << p_ << ")"; }

}  // namespace bert::model
