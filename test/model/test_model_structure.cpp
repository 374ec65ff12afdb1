// Structure of the module tree: registered names equal HF's state-dict keys, the presets load,
// initialisation follows HF's _init_weights and is reproducible from a seed, dropout is active
// only in training mode.
#include "bert/io/safetensors.h"
#include "bert/model/heads.h"
#include "test/test_helpers.h"

#include <torch/torch.h>

#include <filesystem>
#include <set>

using namespace bert;

TEST_CASE("parameter names are exactly HF's state-dict keys", "[model]") {
  auto config = model::BertConfig::load(test::data_path("hf-tiny/config.json"));
  model::BertForPreTraining m(config);
  std::set<std::string> ours, theirs;
  for (const auto& p : m->named_parameters()) ours.insert(p.key());
  for (const auto& [k, t] : io::read_safetensors(test::data_path("hf-tiny/model.safetensors")).tensors) theirs.insert(k);
  REQUIRE(ours == theirs);
}

TEST_CASE("every preset in configs/ loads and builds", "[model][config]") {
  for (const char* name : {"bert-tiny", "bert-mini", "bert-small", "bert-medium", "bert-base", "bert-large"}) {
    INFO(name);
    auto c = model::BertConfig::load(std::string(BERT_SOURCE_DIR) + "/configs/" + name + ".json");
    REQUIRE(c.hidden_size % c.num_attention_heads == 0);
    REQUIRE(c.intermediate_size == 4 * c.hidden_size);
  }
  auto mini = model::BertConfig::load(std::string(BERT_SOURCE_DIR) + "/configs/bert-mini.json");
  REQUIRE(mini.num_hidden_layers == 4);
  REQUIRE(mini.hidden_size == 256);
  model::BertForPreTraining m(mini);
  int64_t n = 0;
  for (const auto& p : m->parameters()) n += p.numel();
  // bert-mini with the 30522 WordPiece vocabulary: 11.17M parameters (Google's release says 11.3M).
  REQUIRE(n > 11000000);
  REQUIRE(n < 11400000);
}

TEST_CASE("initialisation follows HF and is seeded", "[model][init]") {
  model::BertConfig c;
  c.vocab_size = 2000;
  c.hidden_size = 64;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 4;
  c.intermediate_size = 128;
  c.initializer_range = 0.02;
  torch::manual_seed(3);
  model::BertForPreTraining a(c);
  torch::manual_seed(3);
  model::BertForPreTraining b(c);
  for (const auto& p : a->named_parameters()) REQUIRE(torch::equal(p.value(), b->named_parameters()[p.key()]));

  auto words = a->bert->embeddings->word_embeddings->weight;
  REQUIRE(words[c.pad_token_id].abs().sum().item<double>() == 0.0);
  REQUIRE(words.slice(0, 1).std().item<double>() == Approx(0.02).epsilon(0.05));
  auto q = a->bert->encoder->layer[0]->as<model::BertLayer>()->attention->self_attention->query;
  REQUIRE(q->weight.std().item<double>() == Approx(0.02).epsilon(0.1));
  REQUIRE(q->bias.abs().sum().item<double>() == 0.0);
  REQUIRE(torch::equal(a->bert->embeddings->LayerNorm->weight, torch::ones({64})));
  REQUIRE(a->cls->predictions->bias.abs().sum().item<double>() == 0.0);
}

TEST_CASE("dropout acts in training mode only", "[model]") {
  auto c = test::small_bert_config(1, 2);
  c.hidden_dropout_prob = 0.5;
  model::BertModel m(c);
  auto ids = torch::randint(5, 100, {2, 8});
  m->eval();
  auto e1 = m->forward(ids).last_hidden_state, e2 = m->forward(ids).last_hidden_state;
  REQUIRE(torch::equal(e1, e2));
  m->train();
  auto t1 = m->forward(ids).last_hidden_state, t2 = m->forward(ids).last_hidden_state;
  REQUIRE_FALSE(torch::allclose(t1, t2));
}

TEST_CASE("padding does not change the outputs of real tokens", "[model]") {
  model::BertModel m(test::small_bert_config(2, 4));
  m->eval();
  torch::NoGradGuard no_grad;
  auto ids = torch::randint(5, 100, {1, 6});
  auto padded = torch::cat({ids, torch::zeros({1, 4}, torch::kLong)}, 1);
  auto mask = torch::cat({torch::ones({1, 6}, torch::kLong), torch::zeros({1, 4}, torch::kLong)}, 1);
  auto short_out = m->forward(ids).last_hidden_state;
  auto long_out = m->forward(padded, mask).last_hidden_state.slice(1, 0, 6);
  test::require_close("padded vs unpadded", long_out, short_out, 1e-5, 1e-5);
}
