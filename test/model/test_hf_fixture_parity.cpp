// Parity with Hugging Face transformers on the committed tiny-BERT fixture (test/data/hf-tiny,
// made by transformers 4.40.2; see its FIXTURE_README.md): every output tensor of
// expected.safetensors, from both model.safetensors and pytorch_model.bin, within the
// tolerances that README gives. Regenerating it needs ../shared/fixtures (a copy of it).
#include "bert/io/checkpoint.h"
#include "bert/io/safetensors.h"
#include "bert/model/heads.h"
#include "test/test_helpers.h"

#include <torch/torch.h>

using namespace bert;
using bert::test::data_path;
using bert::test::require_close;

namespace {

std::map<std::string, torch::Tensor> read_map(const std::string& path) {
  std::map<std::string, torch::Tensor> m;
  for (auto& [k, v] : io::read_safetensors(path).tensors) m[k] = v;
  return m;
}

model::BertConfig tiny_config() { return model::BertConfig::load(data_path("hf-tiny/config.json")); }

}  // namespace

TEST_CASE("BertForPreTraining matches HF outputs on the fixture", "[model][parity]") {
  torch::manual_seed(0);
  auto weights_file = GENERATE(std::string("model.safetensors"), std::string("pytorch_model.bin"));
  INFO("weights from " << weights_file);
  auto config = tiny_config();
  model::BertForPreTraining model(config);
  auto report = io::load_weights(*model, io::read_weights(data_path("hf-tiny/" + weights_file)), weights_file);
  REQUIRE(report.initialised.empty());
  REQUIRE(report.ignored.empty());
  model->eval();
  torch::NoGradGuard no_grad;

  auto in = read_map(data_path("hf-tiny/inputs.safetensors"));
  auto want = read_map(data_path("hf-tiny/expected.safetensors"));
  model::ForwardOptions opts;
  opts.output_hidden_states = true;
  opts.output_attentions = true;
  auto out = model->forward(in["input_ids"], in["attention_mask"], in["token_type_ids"], opts);

  require_close("last_hidden_state", out.bert.last_hidden_state, want["bert.last_hidden_state"]);
  require_close("pooler_output", out.bert.pooler_output, want["bert.pooler_output"]);
  REQUIRE(out.bert.hidden_states.size() == 3);
  for (size_t i = 0; i < 3; ++i)
    require_close("hidden_states." + std::to_string(i), out.bert.hidden_states[i],
                  want["bert.hidden_states." + std::to_string(i)]);
  REQUIRE(out.bert.attentions.size() == 2);
  for (size_t i = 0; i < 2; ++i)
    require_close("attentions." + std::to_string(i), out.bert.attentions[i], want["bert.attentions." + std::to_string(i)]);
  require_close("seq_relationship_logits", out.seq_relationship_logits, want["pretraining.seq_relationship_logits"]);

  auto logits = out.prediction_logits;  // (B, S, V)
  auto rows = want["pretraining.prediction_logits.row_index"];
  for (int64_t r = 0; r < rows.size(0); ++r)
    require_close("prediction_logits.rows." + std::to_string(r),
                  logits[rows[r][0].item<int64_t>()][rows[r][1].item<int64_t>()],
                  want["pretraining.prediction_logits.rows"][r]);
  require_close("prediction_logits.cols", logits.index_select(2, want["pretraining.prediction_logits.col_ids"]),
                want["pretraining.prediction_logits.cols"]);
  require_close("prediction_logits.logsumexp", logits.logsumexp(-1), want["pretraining.prediction_logits.logsumexp"]);
  // argmax may flip only where the top two logits are within 1e-5.
  auto top2 = std::get<0>(logits.topk(2, -1));
  auto ambiguous = (top2.select(-1, 0) - top2.select(-1, 1)) < 1e-5;
  auto argmax_equal = logits.argmax(-1).eq(want["pretraining.prediction_logits.argmax"]);
  REQUIRE((argmax_equal | ambiguous).all().item<bool>());

  auto mlm = model::masked_lm_loss(logits, in["mlm_labels"]);
  auto nsp = torch::nn::functional::cross_entropy(out.seq_relationship_logits, in["next_sentence_label"]);
  require_close("mlm_loss", mlm, want["pretraining.mlm_loss"]);
  require_close("nsp_loss", nsp, want["pretraining.nsp_loss"]);
  require_close("loss", mlm + nsp, want["pretraining.loss"]);

  // Scoring only the masked positions gives the same logits as the full head at those positions.
  auto masked = in["mlm_labels"].flatten().ne(model::kIgnoreIndex).nonzero().squeeze(1);
  auto sparse = model->forward(in["input_ids"], in["attention_mask"], in["token_type_ids"], {}, masked);
  require_close("masked-only logits", sparse.prediction_logits,
                logits.reshape({-1, logits.size(-1)}).index_select(0, masked));
  // The fused attention path (no probabilities requested) agrees with the explicit one.
  require_close("sdpa last_hidden_state", sparse.bert.last_hidden_state, want["bert.last_hidden_state"]);
}

TEST_CASE("Sequence and token classification heads match HF on the fixture", "[model][parity]") {
  auto config = tiny_config();
  auto in = read_map(data_path("hf-tiny/inputs.safetensors"));
  auto want = read_map(data_path("hf-tiny/expected.safetensors"));
  auto base = io::read_weights(data_path("hf-tiny/model.safetensors"));
  torch::NoGradGuard no_grad;

  SECTION("sequence classification, 3 labels") {
    config.num_labels = 3;
    model::BertForSequenceClassification model(config);
    auto weights = base;
    for (auto& kv : io::read_weights(data_path("hf-tiny/seqcls.safetensors"))) weights.push_back(kv);
    auto report = io::load_weights(*model, weights, "seqcls");
    REQUIRE(report.initialised.empty());
    model->eval();
    auto out = model->forward(in["input_ids"], in["attention_mask"], in["token_type_ids"]);
    require_close("seqcls.logits", out.logits, want["seqcls.logits"]);
    require_close("seqcls.loss", model::sequence_classification_loss(config, out.logits, in["seq_labels"]),
                  want["seqcls.loss"]);
  }
  SECTION("token classification, 5 labels") {
    config.num_labels = 5;
    model::BertForTokenClassification model(config);
    auto weights = base;
    for (auto& kv : io::read_weights(data_path("hf-tiny/tokcls.safetensors"))) weights.push_back(kv);
    auto report = io::load_weights(*model, weights, "tokcls");
    REQUIRE(report.initialised.empty());
    model->eval();
    auto out = model->forward(in["input_ids"], in["attention_mask"], in["token_type_ids"]);
    require_close("tokcls.logits", out.logits, want["tokcls.logits"]);
    require_close("tokcls.loss", model::token_classification_loss(out.logits, in["token_labels"]), want["tokcls.loss"]);
  }
}
