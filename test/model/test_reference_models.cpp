// Parity with Hugging Face transformers on reference directories made by
// scripts/make_reference.py: every head, several activations, legacy key names, weights from
// both model.safetensors and pytorch_model.bin. The committed set lives in test/data/reference;
// BERT_LIVE_REFERENCE_DIRS (colon-separated) adds directories generated live by the installed
// transformers (CTest's live_hf_reference), e.g. all-MiniLM-L6-v2 on SST-2 sentences.
// A directory's expected.metadata may set "atol"/"rtol" (defaults 1e-5).
#include "bert/io/checkpoint.h"
#include "bert/io/safetensors.h"
#include "bert/model/factory.h"
#include "test/test_helpers.h"

#include <torch/torch.h>

#include <cstdlib>
#include <filesystem>

using namespace bert;
using bert::test::require_close;
namespace fs = std::filesystem;

namespace {

std::vector<std::string> reference_dirs() {
  std::vector<std::string> dirs;
  for (const auto& entry : fs::directory_iterator(bert::test::data_path("reference")))
    if (entry.is_directory()) dirs.push_back(entry.path().string());
  if (const char* live = std::getenv("BERT_LIVE_REFERENCE_DIRS")) {
    std::string list = live;
    size_t start = 0;
    while (start <= list.size()) {
      size_t end = list.find(':', start);
      if (end == std::string::npos) end = list.size();
      if (end > start) dirs.push_back(list.substr(start, end - start));
      start = end + 1;
    }
  }
  std::sort(dirs.begin(), dirs.end());
  return dirs;
}

void check_directory(const std::string& dir, const std::string& weights_file) {
  auto config = model::BertConfig::load(dir + "/config.json");
  auto arch = model::architecture_from_name(config.architecture, dir);
  auto module = model::make_model(arch, config);
  auto report = io::load_weights(*module, io::read_weights(dir + "/" + weights_file), weights_file);
  REQUIRE(report.initialised.empty());
  module->eval();
  torch::NoGradGuard no_grad;

  std::map<std::string, torch::Tensor> in, want;
  for (auto& [k, v] : io::read_safetensors(dir + "/inputs.safetensors").tensors) in[k] = v;
  auto expected_file = io::read_safetensors(dir + "/expected.safetensors");
  for (auto& [k, v] : expected_file.tensors) want[k] = v;
  const double atol = expected_file.metadata.count("atol") ? std::stod(expected_file.metadata["atol"]) : 1e-5;
  const double rtol = expected_file.metadata.count("rtol") ? std::stod(expected_file.metadata["rtol"]) : 1e-5;

  model::ForwardOptions opts;
  opts.output_hidden_states = want.count("hidden_states.0") > 0;
  opts.output_attentions = want.count("attentions.0") > 0;
  model::BertOutput bert_out;
  std::map<std::string, torch::Tensor> got;
  auto ids = in["input_ids"], mask = in["attention_mask"], types = in["token_type_ids"];
  if (auto m = std::dynamic_pointer_cast<model::BertModelImpl>(module)) {
    bert_out = m->forward(ids, mask, types, opts);
  } else if (auto m = std::dynamic_pointer_cast<model::BertForPreTrainingImpl>(module)) {
    auto out = m->forward(ids, mask, types, opts);
    bert_out = out.bert;
    got["prediction_logits"] = out.prediction_logits;
    got["seq_relationship_logits"] = out.seq_relationship_logits;
    got["loss"] = model::masked_lm_loss(out.prediction_logits, in["labels"]) +
                  torch::nn::functional::cross_entropy(out.seq_relationship_logits, in["next_sentence_label"]);
  } else if (auto m = std::dynamic_pointer_cast<model::BertForSequenceClassificationImpl>(module)) {
    auto out = m->forward(ids, mask, types, opts);
    bert_out = out.bert;
    got["logits"] = out.logits;
    got["loss"] = model::sequence_classification_loss(config, out.logits, in["labels"]);
  } else if (auto m = std::dynamic_pointer_cast<model::BertForTokenClassificationImpl>(module)) {
    auto out = m->forward(ids, mask, types, opts);
    bert_out = out.bert;
    got["logits"] = out.logits;
    got["loss"] = model::token_classification_loss(out.logits, in["labels"]);
  } else if (auto m = std::dynamic_pointer_cast<model::BertForQuestionAnsweringImpl>(module)) {
    auto out = m->forward(ids, mask, types, opts);
    bert_out = out.bert;
    got["start_logits"] = out.logits.select(-1, 0);
    got["end_logits"] = out.logits.select(-1, 1);
    got["loss"] = model::question_answering_loss(out.logits, torch::stack({in["start_positions"], in["end_positions"]}, 1));
  } else if (auto m = std::dynamic_pointer_cast<model::BertForMultipleChoiceImpl>(module)) {
    auto out = m->forward(ids, mask, types, opts);  // (B, K, S) in, the encoder's outputs per candidate
    bert_out = out.bert;
    got["logits"] = out.logits;
    got["loss"] = torch::nn::functional::cross_entropy(out.logits, in["labels"]);
  }
  got["last_hidden_state"] = bert_out.last_hidden_state;
  if (bert_out.pooler_output.defined()) got["pooler_output"] = bert_out.pooler_output;
  for (size_t i = 0; i < bert_out.hidden_states.size(); ++i) got["hidden_states." + std::to_string(i)] = bert_out.hidden_states[i];
  for (size_t i = 0; i < bert_out.attentions.size(); ++i) got["attentions." + std::to_string(i)] = bert_out.attentions[i];

  for (const auto& [key, expected] : want) {
    INFO("expected tensor " << key << " has no counterpart");
    REQUIRE(got.count(key));
    require_close(key, got[key], expected, atol, rtol);
  }
}

}  // namespace

TEST_CASE("outputs equal Hugging Face's on every reference directory", "[model][parity][reference]") {
  for (const auto& dir : reference_dirs()) {
    for (const char* weights : {"model.safetensors", "pytorch_model.bin"}) {
      if (!fs::exists(dir + "/" + weights)) continue;
      DYNAMIC_SECTION(fs::path(dir).filename().string() << " / " << weights) { check_directory(dir, weights); }
    }
  }
}
