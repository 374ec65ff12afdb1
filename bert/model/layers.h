// The layers of the BERT tree that LibTorch's own modules serve badly, as our own modules:
// Linear and Embedding (start-up) and Dropout (speed on the CPU).
//
// Linear and Embedding hold the same parameters under the same names as torch::nn::Linear /
// torch::nn::Embedding (`weight`, `bias`), draw the same default initialisation from the same
// generator, and compute the same functions. The one difference, and the reason they exist: LibTorch's modules always
// draw their random initial weights in the constructor, while these skip the draw while a
// SkipWeightInit is alive. Loading a model whose every weight is in a file then costs no random
// numbers (for bert-mini's 7.8 M-entry word table that draw was ~75 ms of a 0.6 s `bert predict`).
#pragma once

#include <torch/nn/cloneable.h>
#include <torch/nn/pimpl.h>

#include <optional>
#include <ostream>

namespace bert::model {

// While one is alive (on this thread), Linear and Embedding allocate their parameters without
// drawing initial values, and init_bert_weights() does nothing: for a model whose every weight is
// about to be read from a checkpoint, where the random draw only costs start-up time.
class SkipWeightInit {
 public:
  SkipWeightInit();
  ~SkipWeightInit();
  SkipWeightInit(const SkipWeightInit&) = delete;
  SkipWeightInit& operator=(const SkipWeightInit&) = delete;

  static bool active();

 private:
  bool previous_;
};

// y = x Wᵀ + b, W: (out, in). Default draw as torch::nn::Linear: kaiming-uniform W, b ~ U(±1/√in).
class LinearImpl : public torch::nn::Cloneable<LinearImpl> {
 public:
  LinearImpl(int64_t in_features, int64_t out_features);
  void reset() override;
  void pretty_print(std::ostream& stream) const override;
  torch::Tensor forward(const torch::Tensor& input);  // (..., in) → (..., out)

  torch::Tensor weight, bias;

 private:
  int64_t in_features_, out_features_;
};
TORCH_MODULE(Linear);

// A lookup table (num, dim). Default draw as torch::nn::Embedding: N(0, 1), the padding row 0.
class EmbeddingImpl : public torch::nn::Cloneable<EmbeddingImpl> {
 public:
  EmbeddingImpl(int64_t num_embeddings, int64_t embedding_dim, std::optional<int64_t> padding_idx = std::nullopt);
  void reset() override;
  void pretty_print(std::ostream& stream) const override;
  torch::Tensor forward(const torch::Tensor& indices);  // (...) int64 → (..., dim)

  torch::Tensor weight;
  const std::optional<int64_t>& padding_idx() const { return padding_idx_; }

 private:
  int64_t num_embeddings_, embedding_dim_;
  std::optional<int64_t> padding_idx_;
};
TORCH_MODULE(Embedding);

// Inverted dropout: in training, each element is zeroed with probability p and the rest scaled by
// 1/(1-p); an identity otherwise. On the CPU (fp32, bf16) the keep mask is a keyed hash of each
// element's index under one 64-bit seed drawn from LibTorch's default CPU generator, filled by all
// intra-op threads (bert/model/dropout_kernels.h). LibTorch's CPU dropout draws every element from
// the generator on one thread: 9-11 ms for a bert-base hidden state of 16 × 128 × 768, against
// 0.8-0.9 ms here (`build/dropout_bench`, 2 threads). The mask depends only on the seed and the
// index, so runs are reproducible, resume exactly (the generator state is checkpointed) and do not
// depend on the thread count. Other devices and dtypes use LibTorch's dropout (on CUDA already a
// counter-based generator, and safe in CUDA graphs).
torch::Tensor apply_dropout(const torch::Tensor& input, double p, bool training);

class DropoutImpl : public torch::nn::Cloneable<DropoutImpl> {
 public:
  explicit DropoutImpl(double p);
  void reset() override {}
  void pretty_print(std::ostream& stream) const override;
  torch::Tensor forward(const torch::Tensor& input) { return apply_dropout(input, p_, is_training()); }
  double p() const { return p_; }

 private:
  double p_;
};
TORCH_MODULE(Dropout);

}  // namespace bert::model
