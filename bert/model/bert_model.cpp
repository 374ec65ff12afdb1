#include "bert/model/bert_model.h"

#include "bert/util/error.h"

#include <ATen/autocast_mode.h>
#include <torch/autograd.h>
#include <torch/nn/init.h>
#include <torch/nn/functional/activation.h>

#include <cmath>
#include <limits>
#include <mutex>

namespace bert::model {

namespace nn = torch::nn;

torch::Tensor apply_activation(const std::string& name, const torch::Tensor& x) {
  if (name == "gelu") return torch::gelu(x);
  if (name == "gelu_new" || name == "gelu_pytorch_tanh" || name == "gelu_fast") return torch::gelu(x, "tanh");
  if (name == "relu") return torch::relu(x);
  if (name == "silu" || name == "swish") return torch::silu(x);
  if (name == "tanh") return torch::tanh(x);
  throw Error("unknown activation \"" + name + "\"");
}

BertEmbeddingsImpl::BertEmbeddingsImpl(const BertConfig& c) {
  word_embeddings = register_module(
      "word_embeddings", Embedding(c.vocab_size, c.hidden_size, c.pad_token_id));
  position_embeddings =
      register_module("position_embeddings", Embedding(c.max_position_embeddings, c.hidden_size));
  token_type_embeddings = register_module("token_type_embeddings", Embedding(c.type_vocab_size, c.hidden_size));
  LayerNorm = register_module(
      "LayerNorm", nn::LayerNorm(nn::LayerNormOptions({c.hidden_size}).eps(c.layer_norm_eps)));
  dropout = register_module("dropout", Dropout(c.hidden_dropout_prob));
}

torch::Tensor BertEmbeddingsImpl::forward(const torch::Tensor& input_ids, const torch::Tensor& token_type_ids) {
  const int64_t seq_len = input_ids.size(1);
  const int64_t max_positions = position_embeddings->weight.size(0);
  if (seq_len > max_positions)
    throw Error("sequence length " + std::to_string(seq_len) + " exceeds max_position_embeddings " +
                std::to_string(max_positions));
  auto positions = torch::arange(seq_len, input_ids.options());  // (S)
  auto x = word_embeddings(input_ids) + token_type_embeddings(token_type_ids) +
           position_embeddings(positions).unsqueeze(0);  // (B, S, H)
  return dropout(LayerNorm(x));
}

namespace {

// Which attention trains faster on the CPU, the explicit path (matmul, softmax, dropout, matmul) or
// scaled_dot_product_attention; forward + backward of one bert-base layer's attention, 2 threads,
// LibTorch 2.13 on an Intel Xeon with AMX. With attention dropout SDPA leaves its fused kernel for
// an unfused fallback that also computes bf16 in fp32: the explicit path (with our dropout) wins at
// every length, 1.8-3x at 128 tokens and 1.5-1.7x at 512. Without dropout SDPA's fused kernel is as fast
// or faster in fp32 at every length and in bf16 from 256 tokens up (3x at 512), while in bf16 up
// to 256 tokens the explicit path is ahead (2.8x at 128).
bool explicit_attention_trains_faster(bool dropout_active, bool reduced_precision, int64_t seq_len) {
  return dropout_active || (reduced_precision && seq_len <= 256);
}

}  // namespace

BertSelfAttentionImpl::BertSelfAttentionImpl(const BertConfig& c)
    : num_heads_(c.num_attention_heads), head_size_(c.head_size()), dropout_p_(c.attention_probs_dropout_prob) {
  query = register_module("query", Linear(c.hidden_size, c.hidden_size));
  key = register_module("key", Linear(c.hidden_size, c.hidden_size));
  value = register_module("value", Linear(c.hidden_size, c.hidden_size));
  dropout = register_module("dropout", Dropout(c.attention_probs_dropout_prob));
}

std::pair<torch::Tensor, torch::Tensor> BertSelfAttentionImpl::forward(const torch::Tensor& hidden,
                                                                       const torch::Tensor& mask, bool need_probs) {
  const int64_t B = hidden.size(0), S = hidden.size(1);
  auto split_heads = [&](const torch::Tensor& t) {
    return t.view({B, S, num_heads_, head_size_}).transpose(1, 2);  // (B, nh, S, hs)
  };
  auto q = split_heads(query(hidden));
  auto k = split_heads(key(hidden));
  auto v = split_heads(value(hidden));
  const bool dropout_active = is_training() && dropout_p_ > 0.0;
  const bool explicit_path =
      need_probs || (hidden.is_cpu() && is_training() &&  // training mode, also in a checkpointed layer's no-grad forward
                     explicit_attention_trains_faster(dropout_active, q.scalar_type() != torch::kFloat, S));
  torch::Tensor context, probs;
  if (explicit_path) {
    auto scores = torch::matmul(q, k.transpose(-1, -2)) / std::sqrt(static_cast<double>(head_size_));  // (B, nh, S, S)
    if (mask.defined()) scores = scores + mask;
    // Softmax in fp32 (scores are bf16 under autocast), probabilities back in v's dtype.
    probs = torch::softmax(scores, -1, torch::kFloat).to(v.scalar_type());
    context = torch::matmul(dropout(probs), v);  // (B, nh, S, hs)
  } else {
    const double p = dropout_active ? dropout_p_ : 0.0;
    auto attn_mask = mask.defined() ? std::optional<at::Tensor>(mask.to(q.scalar_type())) : std::nullopt;
    context = at::scaled_dot_product_attention(q, k, v, attn_mask, p);  // (B, nh, S, hs)
  }
  context = context.transpose(1, 2).reshape({B, S, num_heads_ * head_size_});  // (B, S, H)
  return {context, probs};
}

BertResidualOutputImpl::BertResidualOutputImpl(int64_t in_features, const BertConfig& c) {
  dense = register_module("dense", Linear(in_features, c.hidden_size));
  LayerNorm = register_module(
      "LayerNorm", nn::LayerNorm(nn::LayerNormOptions({c.hidden_size}).eps(c.layer_norm_eps)));
  dropout = register_module("dropout", Dropout(c.hidden_dropout_prob));
}

torch::Tensor BertResidualOutputImpl::forward(const torch::Tensor& x, const torch::Tensor& residual) {
  return LayerNorm(dropout(dense(x)) + residual);
}

BertAttentionImpl::BertAttentionImpl(const BertConfig& c) {
  self_attention = register_module("self", BertSelfAttention(c));
  output = register_module("output", BertResidualOutput(c.hidden_size, c));
}

std::pair<torch::Tensor, torch::Tensor> BertAttentionImpl::forward(const torch::Tensor& hidden,
                                                                   const torch::Tensor& mask, bool need_probs) {
  auto [context, probs] = self_attention(hidden, mask, need_probs);
  return {output(context, hidden), probs};
}

BertIntermediateImpl::BertIntermediateImpl(const BertConfig& c) : activation_(c.hidden_act) {
  dense = register_module("dense", Linear(c.hidden_size, c.intermediate_size));
}

torch::Tensor BertIntermediateImpl::forward(const torch::Tensor& x) { return apply_activation(activation_, dense(x)); }

BertLayerImpl::BertLayerImpl(const BertConfig& c) {
  attention = register_module("attention", BertAttention(c));
  intermediate = register_module("intermediate", BertIntermediate(c));
  output = register_module("output", BertResidualOutput(c.intermediate_size, c));
}

std::pair<torch::Tensor, torch::Tensor> BertLayerImpl::forward(const torch::Tensor& hidden, const torch::Tensor& mask,
                                                               bool need_probs) {
  auto [attended, probs] = attention(hidden, mask, need_probs);
  return {output(intermediate(attended), attended), probs};
}

BertEncoderImpl::BertEncoderImpl(const BertConfig& c) {
  layer = register_module("layer", nn::ModuleList());
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) layer->push_back(BertLayer(c));
}

namespace {

// The autocast state of one device type, to run a recomputation as the original forward ran.
struct AutocastState {
  c10::DeviceType device;
  bool enabled;
  at::ScalarType dtype;
  explicit AutocastState(c10::DeviceType d)
      : device(d), enabled(at::autocast::is_autocast_enabled(d)), dtype(at::autocast::get_autocast_dtype(d)) {}
  void apply() const {
    at::autocast::set_autocast_enabled(device, enabled);
    at::autocast::set_autocast_dtype(device, dtype);
  }
};

// While alive, the generator and autocast state that a checkpointed forward saved in `ctx`; then
// the present ones again (also when the recomputation throws).
class ForwardReplay {
 public:
  ForwardReplay(const torch::Device& device, torch::autograd::AutogradContext* ctx)
      : generator_(at::globalContext().defaultGenerator(device)), now_(device.type()) {
    {
      std::lock_guard<std::mutex> lock(generator_.mutex());
      now_state_ = generator_.get_state();
      generator_.set_state(ctx->saved_data["rng"].toTensor());
    }
    AutocastState then = now_;
    then.enabled = ctx->saved_data["autocast_enabled"].toBool();
    then.dtype = ctx->saved_data["autocast_dtype"].toScalarType();
    then.apply();
    at::autocast::increment_nesting();
  }
  ~ForwardReplay() {
    if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
    now_.apply();
    std::lock_guard<std::mutex> lock(generator_.mutex());
    generator_.set_state(now_state_);
  }
  ForwardReplay(const ForwardReplay&) = delete;
  ForwardReplay& operator=(const ForwardReplay&) = delete;

 private:
  at::Generator generator_;
  AutocastState now_;
  torch::Tensor now_state_;
};

// One BertLayer whose activations are not kept: forward runs without autograd and saves the
// input, the generator state and the autocast state; backward restores them, runs the layer again
// with autograd and back-propagates through that (the parameters' gradients accumulate there).
// No mask (a batch without padding) travels as an empty tensor: autograd functions take defined ones.
struct CheckpointedLayer : torch::autograd::Function<CheckpointedLayer> {
  static torch::Tensor mask_or_none(const torch::Tensor& mask) { return mask.numel() == 0 ? torch::Tensor() : mask; }

  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& hidden,
                               const torch::Tensor& mask, int64_t layer_address) {
    auto generator = at::globalContext().defaultGenerator(hidden.device());
    {
      std::lock_guard<std::mutex> lock(generator.mutex());
      ctx->saved_data["rng"] = generator.get_state();
    }
    const AutocastState autocast(hidden.device().type());
    ctx->saved_data["autocast_enabled"] = autocast.enabled;
    ctx->saved_data["autocast_dtype"] = autocast.dtype;
    ctx->saved_data["layer"] = layer_address;
    ctx->save_for_backward({hidden, mask});
    return reinterpret_cast<BertLayerImpl*>(layer_address)->forward(hidden, mask_or_none(mask), false).first;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_output) {
    const auto saved = ctx->get_saved_variables();
    auto input = saved[0].detach().requires_grad_(true);
    auto* layer = reinterpret_cast<BertLayerImpl*>(ctx->saved_data["layer"].toInt());
    torch::Tensor output;
    {
      ForwardReplay replay(input.device(), ctx);
      torch::AutoGradMode grad(true);
      output = layer->forward(input, mask_or_none(saved[1]), false).first;
    }
    torch::autograd::backward({output}, {grad_output[0]});
    return {input.grad(), torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

int set_gradient_checkpointing(torch::nn::Module& module, bool enabled) {
  int found = 0;
  for (const auto& m : module.modules()) {
    if (auto* encoder = m->as<BertEncoderImpl>()) {
      encoder->gradient_checkpointing = enabled;
      ++found;
    }
  }
  return found;
}

torch::Tensor BertEncoderImpl::forward(torch::Tensor hidden, const torch::Tensor& mask,
                                       const ForwardOptions& options, BertOutput* out) {
  const bool checkpoint = gradient_checkpointing && is_training() && torch::GradMode::is_enabled() &&
                          !options.output_attentions;
  for (const auto& module : *layer) {
    if (checkpoint) {
      hidden = CheckpointedLayer::apply(hidden, mask.defined() ? mask : torch::empty({0}, hidden.options()),
                                        reinterpret_cast<int64_t>(module->as<BertLayerImpl>()));
      if (options.output_hidden_states) out->hidden_states.push_back(hidden);
      continue;
    }
    auto [next, probs] = module->as<BertLayer>()->forward(hidden, mask, options.output_attentions);
    hidden = next;
    if (options.output_hidden_states) out->hidden_states.push_back(hidden);
    if (options.output_attentions) out->attentions.push_back(probs);
  }
  return hidden;
}

BertPoolerImpl::BertPoolerImpl(const BertConfig& c) {
  dense = register_module("dense", Linear(c.hidden_size, c.hidden_size));
}

torch::Tensor BertPoolerImpl::forward(const torch::Tensor& hidden) {
  return torch::tanh(dense(hidden.select(1, 0)));  // (B, H)
}

BertModelImpl::BertModelImpl(const BertConfig& c, bool add_pooling_layer) : config_(c) {
  c.validate("model config");
  embeddings = register_module("embeddings", BertEmbeddings(c));
  encoder = register_module("encoder", BertEncoder(c));
  if (add_pooling_layer) pooler = register_module("pooler", BertPooler(c));
  init_bert_weights(*this, c);
}

BertOutput BertModelImpl::forward(const torch::Tensor& input_ids, const torch::Tensor& attention_mask,
                                  const torch::Tensor& token_type_ids, const ForwardOptions& options) {
  TORCH_CHECK(input_ids.dim() == 2, "input_ids must be (batch, seq), got ", input_ids.sizes());
  auto types = token_type_ids.defined() ? token_type_ids : torch::zeros_like(input_ids);
  // HF's extended mask: 0 where attended, the dtype's lowest value at padding, (B, 1, 1, S).
  torch::Tensor mask;
  if (attention_mask.defined()) {
    auto keep = attention_mask.to(torch::kBool).unsqueeze(1).unsqueeze(2);
    mask = torch::zeros(keep.sizes(), torch::TensorOptions().dtype(torch::kFloat).device(input_ids.device()))
               .masked_fill_(keep.logical_not(), std::numeric_limits<float>::lowest());
  }
  BertOutput out;
  auto hidden = embeddings(input_ids, types);  // (B, S, H)
  if (options.output_hidden_states) out.hidden_states.push_back(hidden);
  out.last_hidden_state = encoder(hidden, mask, options, &out);
  if (pooler) out.pooler_output = pooler(out.last_hidden_state);
  return out;
}

void init_bert_weights(nn::Module& module, const BertConfig& config) {
  if (SkipWeightInit::active()) return;
  torch::NoGradGuard no_grad;
  const double std = config.initializer_range;
  auto init_one = [std](nn::Module& m) {
    if (auto* linear = m.as<Linear>()) {
      nn::init::normal_(linear->weight, 0.0, std);
      if (linear->bias.defined()) nn::init::zeros_(linear->bias);
    } else if (auto* embedding = m.as<Embedding>()) {
      nn::init::normal_(embedding->weight, 0.0, std);
      if (auto pad = embedding->padding_idx()) embedding->weight[*pad].zero_();
    } else if (auto* norm = m.as<nn::LayerNorm>()) {
      nn::init::ones_(norm->weight);
      nn::init::zeros_(norm->bias);
    }
  };
  // `module` itself may still be under construction (not yet owned by a shared_ptr), so it is
  // visited directly rather than through modules(include_self=true).
  init_one(module);
  for (auto& child : module.modules(/*include_self=*/false)) init_one(*child);
}

}  // namespace bert::model
