// Checkpoint directories: save → load round trips bit-exactly (float32 and bf16), key variants
// load, missing heads are reported, and every mismatch is an error naming key and shapes.
#include "bert/io/checkpoint.h"
#include "bert/io/convert.h"
#include "bert/io/safetensors.h"
#include "bert/model/factory.h"
#include "bert/util/error.h"
#include "bert/util/files.h"
#include "test/test_helpers.h"

#include <torch/torch.h>

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

using namespace bert;
using bert::test::data_path;
namespace fs = std::filesystem;

namespace {

fs::path temp_dir(const std::string& name) {
  auto dir = fs::temp_directory_path() / ("bert_test_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

model::BertConfig small_config() {
  model::BertConfig c;
  c.vocab_size = 100;
  c.hidden_size = 16;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 2;
  c.intermediate_size = 32;
  c.max_position_embeddings = 24;
  return c;
}

}  // namespace

TEST_CASE("save then load gives bit-identical tensors", "[io][checkpoint]") {
  auto dir = temp_dir("roundtrip");
  torch::manual_seed(7);
  auto config = small_config();
  model::BertForPreTraining a(config);
  io::save_model(dir.string(), config, *a);
  auto config2 = model::BertConfig::load((dir / "config.json").string());
  auto expected_json = config.to_json();
  expected_json["torch_dtype"] = "float32";
  REQUIRE(config2.to_json() == expected_json);
  torch::manual_seed(8);  // a different init, overwritten by the load
  model::BertForPreTraining b(config2);
  auto report = io::load_weights(*b, io::read_weights(dir.string()), "roundtrip");
  REQUIRE(report.initialised.empty());
  REQUIRE(report.ignored.empty());
  auto pa = a->named_parameters(), pb = b->named_parameters();
  REQUIRE(pa.size() == pb.size());
  for (const auto& p : pa) {
    INFO(p.key());
    REQUIRE(torch::equal(p.value(), pb[p.key()]));
  }
  fs::remove_all(dir);
}

TEST_CASE("weights nobody else holds are taken over, shared or converted ones copied", "[io][checkpoint]") {
  auto config = small_config();
  torch::manual_seed(3);
  model::BertModel source(config);
  const auto expected = io::model_weights(*source);

  // Own copies of the file's tensors: moved in, each parameter should end up on that very memory.
  io::NamedTensors owned;
  std::map<std::string, const void*> owned_memory;
  for (const auto& [name, t] : expected) {
    owned.emplace_back(name, t.clone());
    owned_memory[name] = owned.back().second.data_ptr();
  }
  // The same values as views into one shared buffer (as torch.save writes tied weights), and in bf16.
  io::NamedTensors shared, converted;
  std::vector<torch::Tensor> flat_parts;
  for (const auto& [name, t] : expected) flat_parts.push_back(t.flatten());
  const auto flat = torch::cat(flat_parts);
  int64_t offset = 0;
  for (const auto& [name, t] : expected) {
    shared.emplace_back(name, flat.narrow(0, offset, t.numel()).view(t.sizes()));
    converted.emplace_back(name, t.to(torch::kDouble));
    offset += t.numel();
  }

  model::BertModel a(config), b(config), c(config);
  io::load_weights(*a, std::move(owned), "owned");
  io::load_weights(*b, std::move(shared), "shared");
  io::load_weights(*c, std::move(converted), "converted");
  const auto pa = a->named_parameters(), pb = b->named_parameters(), pc = c->named_parameters();
  for (const auto& [name, t] : expected) {
    INFO(name);
    REQUIRE(torch::equal(pa[name], t));
    REQUIRE(torch::equal(pb[name], t));
    REQUIRE(torch::equal(pc[name], t));
    REQUIRE(pa[name].data_ptr() == owned_memory.at(name));  // taken over, not copied
    REQUIRE(pa[name].requires_grad());                      // still a trainable parameter
  }
  // The views were copied: training `b` must not write into the caller's buffer (or into `a`).
  const auto flat_before = flat.clone();
  {
    torch::NoGradGuard no_grad;
    for (auto& p : b->parameters()) p.add_(1.0);
  }
  REQUIRE(torch::equal(flat, flat_before));
  for (const auto& [name, t] : expected) REQUIRE(torch::equal(pa[name], t));
}

TEST_CASE("export in bf16 and read back", "[io][checkpoint]") {
  auto dir = temp_dir("bf16");
  auto config = small_config();
  model::BertModel m(config);
  io::save_model(dir.string(), config, *m, torch::kBFloat16);
  auto file = io::read_safetensors((dir / "model.safetensors").string());
  for (const auto& [k, t] : file.tensors) REQUIRE(t.scalar_type() == torch::kBFloat16);
  model::BertModel back(config);
  io::load_weights(*back, file.tensors, "bf16");
  for (const auto& p : m->named_parameters())
    REQUIRE(torch::equal(back->named_parameters()[p.key()], p.value().to(torch::kBFloat16).to(torch::kFloat)));
  fs::remove_all(dir);
}

TEST_CASE("a file written by convert follows the safetensors rules", "[io][checkpoint][convert]") {
  auto dir = temp_dir("convert");
  io::ConvertOptions o;
  o.input = data_path("hf-tiny");
  o.out_dir = dir.string();
  io::convert_checkpoint(o);
  REQUIRE(fs::exists(dir / "vocab.txt"));
  REQUIRE(fs::exists(dir / "config.json"));
  // Parse the header by hand: length multiple of 8, keys sorted, offsets contiguous from 0.
  std::ifstream in(dir / "model.safetensors", std::ios::binary);
  uint64_t n = 0;
  in.read(reinterpret_cast<char*>(&n), 8);
  REQUIRE(n % 8 == 0);
  std::string header(n, '\0');
  in.read(header.data(), static_cast<std::streamsize>(n));
  auto j = nlohmann::json::parse(header);
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  std::string previous;
  for (auto& [key, value] : j.items()) {
    if (key == "__metadata__") continue;
    REQUIRE(key > previous);
    previous = key;
    ranges.emplace_back(value["data_offsets"][0].get<uint64_t>(), value["data_offsets"][1].get<uint64_t>());
  }
  std::sort(ranges.begin(), ranges.end());
  uint64_t expect = 0;
  for (auto [b, e] : ranges) {
    REQUIRE(b == expect);
    expect = e;
  }
  REQUIRE(fs::file_size(dir / "model.safetensors") == 8 + n + expect);
  // And it loads back equal to the source.
  auto src = io::read_safetensors(data_path("hf-tiny/model.safetensors")).tensors;
  auto dst = io::read_safetensors((dir / "model.safetensors").string()).tensors;
  std::map<std::string, torch::Tensor> dst_map(dst.begin(), dst.end());
  for (const auto& [k, t] : src) REQUIRE(torch::equal(t, dst_map.at(k)));
  fs::remove_all(dir);
}

TEST_CASE("key variants and missing heads", "[io][checkpoint]") {
  auto config = small_config();
  model::BertModel bare(config);
  // A bare encoder file (no "bert." prefix) loads into a classifier: the head is reported new.
  auto weights = io::model_weights(*bare);
  config.num_labels = 3;
  model::BertForSequenceClassification cls(config);
  auto report = io::load_weights(*cls, weights, "bare");
  REQUIRE(report.initialised == std::vector<std::string>{"classifier.bias", "classifier.weight"});
  REQUIRE(torch::equal(cls->bert->embeddings->word_embeddings->weight, bare->embeddings->word_embeddings->weight));
  // Legacy gamma/beta names and a position_ids buffer.
  io::NamedTensors legacy;
  for (auto [k, t] : weights) {
    auto pos = k.find("LayerNorm.weight");
    if (pos != std::string::npos) k = k.substr(0, pos) + "LayerNorm.gamma";
    legacy.emplace_back("bert." + k, t);
  }
  legacy.emplace_back("bert.embeddings.position_ids", torch::arange(24).unsqueeze(0));
  model::BertModel again(small_config());
  auto r2 = io::load_weights(*again, legacy, "legacy");
  REQUIRE(r2.initialised.empty());
  REQUIRE(torch::equal(again->embeddings->LayerNorm->weight, bare->embeddings->LayerNorm->weight));
}

TEST_CASE("mismatches are errors naming the key and both shapes", "[io][checkpoint][errors]") {
  auto config = small_config();
  model::BertModel m(config);
  auto weights = io::model_weights(*m);
  SECTION("wrong shape") {
    for (auto& [k, t] : weights)
      if (k == "encoder.layer.1.intermediate.dense.weight") t = torch::zeros({31, 16});
    REQUIRE_THROWS_WITH(io::load_weights(*m, weights, "x.safetensors"),
                        Catch::Contains("x.safetensors") && Catch::Contains("encoder.layer.1.intermediate.dense.weight") &&
                            Catch::Contains("[31, 16]") && Catch::Contains("[32, 16]"));
  }
  SECTION("missing encoder weight") {
    weights.erase(std::remove_if(weights.begin(), weights.end(),
                                 [](auto& kv) { return kv.first == "encoder.layer.0.output.dense.bias"; }),
                  weights.end());
    REQUIRE_THROWS_WITH(io::load_weights(*m, weights, "y.bin"),
                        Catch::Contains("y.bin") && Catch::Contains("missing tensor 'encoder.layer.0.output.dense.bias'"));
  }
}

TEST_CASE("config.json errors name the file and the key", "[io][config][errors]") {
  auto dir = temp_dir("config");
  auto write = [&](const std::string& text) {
    std::ofstream(dir / "config.json") << text;
    return (dir / "config.json").string();
  };
  REQUIRE_THROWS_WITH(model::BertConfig::load((dir / "absent.json").string()), Catch::Contains("absent.json"));
  REQUIRE_THROWS_WITH(model::BertConfig::load(write("{\"hidden_act\": \"gelu_magic\"}")),
                      Catch::Contains("config.json") && Catch::Contains("unknown 'hidden_act' \"gelu_magic\""));
  REQUIRE_THROWS_WITH(model::BertConfig::load(write("{\"hidden_size\": 30, \"num_attention_heads\": 4}")),
                      Catch::Contains("multiple of 'num_attention_heads'"));
  REQUIRE_THROWS_WITH(model::BertConfig::load(write("{\"hidden_size\": \"big\"}")),
                      Catch::Contains("'hidden_size' has the wrong type"));
  REQUIRE_THROWS_WITH(model::BertConfig::load(write("{not json")), Catch::Contains("not valid JSON"));
  REQUIRE_THROWS_WITH(model::BertConfig::load(write("{\"model_type\": \"roberta\"}")), Catch::Contains("model_type"));
  fs::remove_all(dir);
}

TEST_CASE("config.json numbers out of range or of the wrong kind are bert::Errors (found by fuzz_config)",
          "[io][config][errors]") {
  auto dir = temp_dir("config_numbers");
  auto write = [&](const std::string& text) {
    std::ofstream(dir / "config.json") << text;
    return (dir / "config.json").string();
  };
  // A number beyond double's range made nlohmann throw its own out_of_range, not a bert::Error.
  REQUIRE_THROWS_AS(model::BertConfig::load(write("{\"vocab_size\": 1e400}")), Error);
  REQUIRE_THROWS_WITH(model::BertConfig::load(write("{\"vocab_size\": 1e400}")),
                      Catch::Contains("config.json: not valid JSON") && Catch::Contains("1e400"));
  // A float beyond int64 was converted with undefined behaviour; 3.5 became 3 and 2^63 became
  // negative (the messages then blamed the wrong value).
  REQUIRE_THROWS_WITH(model::BertConfig::load(write("{\"max_position_embeddings\": 1e30}")),
                      Catch::Contains("'max_position_embeddings' has the wrong type (expected an integer") &&
                          Catch::Contains("found 1e+30"));
  REQUIRE_THROWS_WITH(model::BertConfig::load(write("{\"hidden_size\": 3.5}")),
                      Catch::Contains("'hidden_size' has the wrong type") && Catch::Contains("found 3.5"));
  REQUIRE_THROWS_WITH(model::BertConfig::load(write("{\"num_labels\": true}")),
                      Catch::Contains("'num_labels' has the wrong type") && Catch::Contains("found true"));
  REQUIRE_THROWS_WITH(model::BertConfig::load(write("{\"vocab_size\": 9223372036854775808}")),
                      Catch::Contains("'vocab_size' has the wrong type"));
  REQUIRE_THROWS_WITH(model::BertConfig::load(write("{\"hidden_dropout_prob\": \"0.1\"}")),
                      Catch::Contains("'hidden_dropout_prob' has the wrong type (expected a number"));
  REQUIRE_THROWS_WITH(model::BertConfig::load(write("{\"hidden_act\": 5}")),
                      Catch::Contains("'hidden_act' has the wrong type (expected a string, found 5)"));
  // A label count no classifier has (found by fuzzing: saving it would take forever).
  REQUIRE_THROWS_WITH(model::BertConfig::load(write("{\"num_labels\": 1000000000}")),
                      Catch::Contains("'num_labels' must be at most 1048576, found 1000000000"));
  // Integers written as floats with an integral value still load.
  REQUIRE(model::BertConfig::load(write("{\"hidden_size\": 768.0, \"num_labels\": 3}")).hidden_size == 768);
  fs::remove_all(dir);
}

// transformers' save_pretrained(max_shard_size=...) layout: model.safetensors.index.json naming
// each tensor's shard. Read as one set of weights; every command that loads a directory uses it.
TEST_CASE("sharded checkpoints load as one", "[io][checkpoint]") {
  const auto dir = temp_dir("sharded");
  for (const char* f : {"config.json", "vocab.txt"}) fs::copy_file(data_path(std::string("hf-tiny/") + f), dir / f);
  const auto whole = io::read_safetensors(data_path("hf-tiny/model.safetensors")).tensors;
  const size_t half = whole.size() / 2;
  io::NamedTensors first(whole.begin(), whole.begin() + static_cast<std::ptrdiff_t>(half)),
      second(whole.begin() + static_cast<std::ptrdiff_t>(half), whole.end());
  io::write_safetensors((dir / "model-00001-of-00002.safetensors").string(), first);
  io::write_safetensors((dir / "model-00002-of-00002.safetensors").string(), second);
  nlohmann::json index = {{"metadata", {{"total_size", 0}}}, {"weight_map", nlohmann::json::object()}};
  for (size_t i = 0; i < whole.size(); ++i)
    index["weight_map"][whole[i].first] = i < half ? "model-00001-of-00002.safetensors" : "model-00002-of-00002.safetensors";
  std::ofstream(dir / "model.safetensors.index.json") << index.dump();

  const auto loaded = io::read_weights(dir.string());
  REQUIRE(loaded.size() == whole.size());
  for (size_t i = 0; i < whole.size(); ++i) {
    INFO(whole[i].first);
    REQUIRE(loaded[i].first == whole[i].first);
    REQUIRE(torch::equal(loaded[i].second, whole[i].second));
  }
  auto model = model::make_model(model::Architecture::PreTraining, model::BertConfig::load((dir / "config.json").string()));
  REQUIRE(io::load_weights(*model, loaded, dir.string()).initialised.empty());

  // A tensor the index lists but its shard lacks is an error naming both.
  index["weight_map"]["bert.extra.weight"] = "model-00001-of-00002.safetensors";
  std::ofstream(dir / "model.safetensors.index.json") << index.dump();
  REQUIRE_THROWS_WITH(io::read_weights(dir.string()),
                      Catch::Contains("tensor 'bert.extra.weight' is not in its shard model-00001-of-00002.safetensors"));
  fs::remove_all(dir);
}

// convert copies what the file has: a BertForMaskedLM stays one, and the pooler and next-sentence
// head it lacks are not written (drawn at random, transformers would load them as trained).
TEST_CASE("convert writes only the tensors the source has, under its architecture", "[io][checkpoint][convert]") {
  const auto dir = temp_dir("convert_mlm");
  auto config = nlohmann::json::parse(read_text_file(data_path("hf-tiny/config.json")));
  config["architectures"] = {"BertForMaskedLM"};
  std::ofstream(dir / "config.json") << config.dump();
  auto weights = io::read_safetensors(data_path("hf-tiny/model.safetensors")).tensors;
  weights.erase(std::remove_if(weights.begin(), weights.end(),
                               [](const auto& w) {
                                 return w.first.rfind("bert.pooler.", 0) == 0 || w.first.rfind("cls.seq_relationship.", 0) == 0;
                               }),
                weights.end());
  io::write_safetensors((dir / "model.safetensors").string(), weights);
  io::ConvertOptions o;
  o.input = dir.string();
  o.out_dir = (dir / "out").string();
  io::convert_checkpoint(o);
  const auto out = io::read_safetensors((dir / "out" / "model.safetensors").string()).tensors;
  REQUIRE(out.size() == weights.size());
  for (const auto& [name, tensor] : out) {
    INFO(name);
    CHECK(name.rfind("bert.pooler.", 0) != 0);
    CHECK(name.rfind("cls.seq_relationship.", 0) != 0);
  }
  CHECK(model::BertConfig::load((dir / "out" / "config.json").string()).architecture == "BertForMaskedLM");
  fs::remove_all(dir);
}
