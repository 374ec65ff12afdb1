// The fixture's 3-step AdamW trace (test/data/hf-tiny/train_step.safetensors, made by HF
// transformers + torch.optim.AdamW): loss, MLM and NSP loss and gradient norm at each step and
// every parameter after step 3, with two parameter groups and global-norm clipping at 1.0, through
// the training loop's own clip_gradient_norm and fused adamw_step.
#include "bert/io/checkpoint.h"
#include "bert/io/safetensors.h"
#include "bert/model/heads.h"
#include "bert/train/optimizer.h"
#include "test/test_helpers.h"

#include <torch/torch.h>

using namespace bert;
using bert::test::data_path;
using bert::test::require_close;

TEST_CASE("three AdamW steps reproduce HF's trace", "[train][parity]") {
  auto config = model::BertConfig::load(data_path("hf-tiny/config.json"));
  config.hidden_dropout_prob = 0.0;
  config.attention_probs_dropout_prob = 0.0;
  model::BertForPreTraining model(config);
  io::load_weights(*model, io::read_weights(data_path("hf-tiny/model.safetensors")), "model.safetensors");
  model->train();

  std::map<std::string, torch::Tensor> in, want;
  for (auto& [k, v] : io::read_safetensors(data_path("hf-tiny/inputs.safetensors")).tensors) in[k] = v;
  for (auto& [k, v] : io::read_safetensors(data_path("hf-tiny/train_step.safetensors")).tensors) want[k] = v;

  train::AdamWSettings settings;
  settings.lr = 1e-3;
  settings.eps = 1e-6;
  settings.weight_decay = 0.01;
  auto optimizer = train::make_adamw(*model, settings);
  REQUIRE(optimizer->param_groups()[0].params().size() == 18);
  REQUIRE(optimizer->param_groups()[1].params().size() == 28);

  for (int step = 0; step < 3; ++step) {
    INFO("step " << step);
    optimizer->zero_grad();
    auto out = model->forward(in["input_ids"], in["attention_mask"], in["token_type_ids"]);
    auto mlm = model::masked_lm_loss(out.prediction_logits, in["mlm_labels"]);
    auto nsp = torch::nn::functional::cross_entropy(out.seq_relationship_logits, in["next_sentence_label"]);
    auto loss = mlm + nsp;
    loss.backward();
    const double norm = train::clip_gradient_norm(model->parameters(), 1.0);
    train::adamw_step(*optimizer);
    require_close("train.loss", loss, want["train.loss"][step]);
    require_close("train.mlm_loss", mlm, want["train.mlm_loss"][step]);
    require_close("train.nsp_loss", nsp, want["train.nsp_loss"][step]);
    require_close("train.grad_norm", torch::tensor(norm, torch::kDouble), want["train.grad_norm"][step]);
  }
  for (const auto& p : model->named_parameters()) {
    const bool key_bias = p.key().find("attention.self.key.bias") != std::string::npos;
    // key.bias has a true gradient of zero; its stored values are rounding noise (README).
    require_close("params." + p.key(), p.value(), want["params." + p.key()], 1e-5, key_bias ? 0.0 : 1e-4);
  }
}
