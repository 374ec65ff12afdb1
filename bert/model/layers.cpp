#include "bert/model/layers.h"

#include <torch/nn/init.h>
#include <torch/torch.h>

#include <cmath>
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

}  // namespace bert::model
