// The BERT encoder as a torch::nn module tree that mirrors Hugging Face's `BertModel`.
//
// Every submodule is registered under the name Hugging Face uses, so `named_parameters()` of
// a BertModel yields exactly HF's state-dict keys (`embeddings.word_embeddings.weight`,
// `encoder.layer.3.attention.self.query.bias`, ...) and checkpoints need no renaming table.
// Each module follows LibTorch's Impl + TORCH_MODULE idiom; the options of the whole tree are
// one BertConfig. Attention goes through scaled_dot_product_attention (fused kernels) unless
// the caller asks for the attention probabilities, which only the explicit path can return, or
// trains on the CPU in a case where the explicit path is faster (with attention dropout, or bf16
// up to 256 tokens: explicit_attention_trains_faster in bert_model.cpp).
#pragma once

#include "bert/model/config.h"
#include "bert/model/layers.h"

#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/pimpl.h>

#include <optional>
#include <vector>

namespace bert::model {

struct ForwardOptions {
  bool output_hidden_states = false;  // embeddings output + the output of every layer
  bool output_attentions = false;     // softmax probabilities of every layer (slow path)
};

struct BertOutput {
  torch::Tensor last_hidden_state;           // (B, S, H)
  torch::Tensor pooler_output;               // (B, H); undefined when the model has no pooler
  std::vector<torch::Tensor> hidden_states;  // L+1 tensors (B, S, H) when requested
  std::vector<torch::Tensor> attentions;     // L tensors (B, nh, S, S) when requested
};

// Applies the activation named by HF's `hidden_act` ("gelu" is the exact erf form).
torch::Tensor apply_activation(const std::string& name, const torch::Tensor& x);

class BertEmbeddingsImpl : public torch::nn::Module {
 public:
  explicit BertEmbeddingsImpl(const BertConfig& config);
  // input_ids, token_type_ids: (B, S) int64 → (B, S, H)
  torch::Tensor forward(const torch::Tensor& input_ids, const torch::Tensor& token_type_ids);

  Embedding word_embeddings = nullptr;
  Embedding position_embeddings = nullptr;
  Embedding token_type_embeddings = nullptr;
  torch::nn::LayerNorm LayerNorm = nullptr;  // NOLINT: HF's key name
  Dropout dropout = nullptr;
};
TORCH_MODULE(BertEmbeddings);

class BertSelfAttentionImpl : public torch::nn::Module {
 public:
  explicit BertSelfAttentionImpl(const BertConfig& config);
  // hidden: (B, S, H); mask: additive (B, 1, 1, S) or undefined. Returns context (B, S, H)
  // and, when need_probs, the attention probabilities (B, nh, S, S).
  std::pair<torch::Tensor, torch::Tensor> forward(const torch::Tensor& hidden, const torch::Tensor& mask,
                                                  bool need_probs);

  Linear query = nullptr, key = nullptr, value = nullptr;
  Dropout dropout = nullptr;

 private:
  int64_t num_heads_, head_size_;
  double dropout_p_;
};
TORCH_MODULE(BertSelfAttention);

// dense → dropout → LayerNorm(x + residual): HF's BertSelfOutput and BertOutput.
class BertResidualOutputImpl : public torch::nn::Module {
 public:
  BertResidualOutputImpl(int64_t in_features, const BertConfig& config);
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& residual);

  Linear dense = nullptr;
  torch::nn::LayerNorm LayerNorm = nullptr;  // NOLINT: HF's key name
  Dropout dropout = nullptr;
};
TORCH_MODULE(BertResidualOutput);

class BertAttentionImpl : public torch::nn::Module {
 public:
  explicit BertAttentionImpl(const BertConfig& config);
  std::pair<torch::Tensor, torch::Tensor> forward(const torch::Tensor& hidden, const torch::Tensor& mask,
                                                  bool need_probs);

  BertSelfAttention self_attention = nullptr;  // registered as "self"
  BertResidualOutput output = nullptr;
};
TORCH_MODULE(BertAttention);

class BertIntermediateImpl : public torch::nn::Module {
 public:
  explicit BertIntermediateImpl(const BertConfig& config);
  torch::Tensor forward(const torch::Tensor& x);  // (B, S, H) → (B, S, I)

  Linear dense = nullptr;

 private:
  std::string activation_;
};
TORCH_MODULE(BertIntermediate);

class BertLayerImpl : public torch::nn::Module {
 public:
  explicit BertLayerImpl(const BertConfig& config);
  std::pair<torch::Tensor, torch::Tensor> forward(const torch::Tensor& hidden, const torch::Tensor& mask,
                                                  bool need_probs);

  BertAttention attention = nullptr;
  BertIntermediate intermediate = nullptr;
  BertResidualOutput output = nullptr;
};
TORCH_MODULE(BertLayer);

class BertEncoderImpl : public torch::nn::Module {
 public:
  explicit BertEncoderImpl(const BertConfig& config);
  // Runs every layer; fills out->hidden_states / out->attentions when asked.
  torch::Tensor forward(torch::Tensor hidden, const torch::Tensor& mask, const ForwardOptions& options,
                        BertOutput* out);

  torch::nn::ModuleList layer = nullptr;
  // Gradient checkpointing (transformers' gradient_checkpointing_enable()): in training with
  // autograd on, each layer keeps only its input; backward runs the layer's forward again (same
  // dropout masks: the generator state is replayed; same autocast precision) to get its gradients.
  // Less memory (activations of one layer instead of all) for about a third more compute.
  bool gradient_checkpointing = false;
};
TORCH_MODULE(BertEncoder);

// Turns gradient checkpointing on or off in every encoder under `module` (any model of ours);
// returns how many encoders it found.
int set_gradient_checkpointing(torch::nn::Module& module, bool enabled);

class BertPoolerImpl : public torch::nn::Module {
 public:
  explicit BertPoolerImpl(const BertConfig& config);
  torch::Tensor forward(const torch::Tensor& hidden);  // tanh(dense(hidden[:, 0])) → (B, H)

  Linear dense = nullptr;
};
TORCH_MODULE(BertPooler);

class BertModelImpl : public torch::nn::Module {
 public:
  explicit BertModelImpl(const BertConfig& config, bool add_pooling_layer = true);
  // attention_mask (B, S) 1 = token, 0 = padding; undefined = all tokens.
  // token_type_ids undefined = all zeros.
  BertOutput forward(const torch::Tensor& input_ids, const torch::Tensor& attention_mask = {},
                     const torch::Tensor& token_type_ids = {}, const ForwardOptions& options = {});

  const BertConfig& config() const { return config_; }

  BertEmbeddings embeddings = nullptr;
  BertEncoder encoder = nullptr;
  BertPooler pooler = nullptr;             // nullptr when built without a pooler

 private:
  BertConfig config_;
};
TORCH_MODULE(BertModel);

// HF's _init_weights over a whole module tree: Linear and Embedding weights ~ N(0, range),
// biases 0, the padding row of the word embeddings 0, LayerNorm weight 1 and bias 0.
void init_bert_weights(torch::nn::Module& module, const BertConfig& config);

}  // namespace bert::model
