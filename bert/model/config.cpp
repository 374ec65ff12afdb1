#include "bert/model/config.h"

#include "bert/util/error.h"
#include "bert/util/files.h"
#include "bert/util/log.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <set>
#include <type_traits>

namespace bert::model {

namespace {

const std::set<std::string>& supported_activations() {
  static const std::set<std::string> names = {"gelu", "gelu_new", "gelu_pytorch_tanh", "gelu_fast",
                                              "relu", "silu", "swish", "tanh"};
  return names;
}

[[noreturn]] void wrong_type(const std::string& source, const char* key, const char* expected,
                             const nlohmann::json& found) {
  throw Error(source + ": key '" + key + "' has the wrong type (expected " + expected + ", found " + found.dump() +
              ")");
}

// Reads `key` from `j` into `out` when present; a present value of the wrong JSON type is an
// error naming the key, the expected type and what was found.
template <typename T>
void read_key(const nlohmann::json& j, const char* key, T& out, const std::string& source) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return;
  try {
    out = it->get<T>();
  } catch (const nlohmann::json::exception&) {
    wrong_type(source, key, std::is_same_v<T, std::string> ? "a string" : "an object of strings", *it);
  }
}

// Numbers are checked by hand: nlohmann's get<int64_t>() would turn 3.5 into 3, 2^63 into a
// negative number, and a float beyond int64 (1e30) into undefined behaviour. An integer written
// as a float with an integral value (768.0) is accepted, as before.
void read_key(const nlohmann::json& j, const char* key, int64_t& out, const std::string& source) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return;
  const nlohmann::json& v = *it;
  if (v.is_number_unsigned()) {
    if (v.get<uint64_t>() <= static_cast<uint64_t>(INT64_MAX)) {
      out = static_cast<int64_t>(v.get<uint64_t>());
      return;
    }
  } else if (v.is_number_integer()) {
    out = v.get<int64_t>();
    return;
  } else if (v.is_number_float()) {
    const double d = v.get<double>();
    // [-2^63, 2^63): the doubles that convert to int64 exactly.
    if (d == std::floor(d) && d >= -9223372036854775808.0 && d < 9223372036854775808.0) {
      out = static_cast<int64_t>(d);
      return;
    }
  }
  wrong_type(source, key, "an integer in the 64-bit range", v);
}

void read_key(const nlohmann::json& j, const char* key, double& out, const std::string& source) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return;
  if (!it->is_number()) wrong_type(source, key, "a number", *it);
  out = it->get<double>();
}

const std::set<std::string>& known_keys() {
  static const std::set<std::string> keys = {
      "vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size",
      "hidden_act", "hidden_dropout_prob", "attention_probs_dropout_prob",
      "max_position_embeddings", "type_vocab_size", "initializer_range", "layer_norm_eps",
      "pad_token_id", "classifier_dropout", "num_labels", "id2label", "label2id", "problem_type",
      "architectures", "model_type"};
  return keys;
}

}  // namespace

bool is_supported_activation(const std::string& name) { return supported_activations().count(name) > 0; }

void BertConfig::validate(const std::string& source) const {
  auto positive = [&](const char* key, int64_t v) {
    if (v <= 0) throw Error(source + ": '" + key + "' must be > 0, found " + std::to_string(v));
  };
  positive("vocab_size", vocab_size);
  positive("hidden_size", hidden_size);
  positive("num_hidden_layers", num_hidden_layers);
  positive("num_attention_heads", num_attention_heads);
  positive("intermediate_size", intermediate_size);
  positive("max_position_embeddings", max_position_embeddings);
  positive("type_vocab_size", type_vocab_size);
  positive("num_labels", num_labels);
  // Each label gets an id2label entry and a row of the classifier: a bound keeps a typo (or a
  // damaged file) from hanging the save.
  constexpr int64_t kMaxLabels = 1 << 20;
  if (num_labels > kMaxLabels)
    throw Error(source + ": 'num_labels' must be at most " + std::to_string(kMaxLabels) + ", found " +
                std::to_string(num_labels));
  // What these sizes describe, counted before anything is allocated: a wrong digit in a size
  // should be this one error, not an allocation failure (or the host's memory filling up).
  const double embedding_rows = static_cast<double>(vocab_size) + static_cast<double>(max_position_embeddings) +
                                static_cast<double>(type_vocab_size);
  const double h = static_cast<double>(hidden_size), inner = static_cast<double>(intermediate_size);
  const double parameters = embedding_rows * h + static_cast<double>(num_hidden_layers) * (4 * h * h + 2 * h * inner);
  constexpr double kMaxParameters = 68.7e9;  // 2^36, ~200x BERT-large
  if (parameters > kMaxParameters)
    throw Error(source + ": these sizes make a model of " + std::to_string(static_cast<long long>(parameters / 1e9)) +
                " billion parameters, more than the 68.7 billion this tool builds (vocab_size " +
                std::to_string(vocab_size) + ", hidden_size " + std::to_string(hidden_size) + ", num_hidden_layers " +
                std::to_string(num_hidden_layers) + ", intermediate_size " + std::to_string(intermediate_size) +
                ", max_position_embeddings " + std::to_string(max_position_embeddings) + ", type_vocab_size " +
                std::to_string(type_vocab_size) + ")");
  if (!(std::isfinite(layer_norm_eps) && layer_norm_eps > 0))
    throw Error(source + ": 'layer_norm_eps' must be > 0, found " + std::to_string(layer_norm_eps));
  if (!(std::isfinite(initializer_range) && initializer_range >= 0))
    throw Error(source + ": 'initializer_range' must be >= 0, found " + std::to_string(initializer_range));
  if (hidden_size % num_attention_heads != 0)
    throw Error(source + ": 'hidden_size' (" + std::to_string(hidden_size) +
                ") must be a multiple of 'num_attention_heads' (" + std::to_string(num_attention_heads) + ")");
  if (!is_supported_activation(hidden_act)) {
    std::string list;
    for (const auto& n : supported_activations()) list += (list.empty() ? "" : ", ") + n;
    throw Error(source + ": unknown 'hidden_act' \"" + hidden_act + "\" (expected one of: " + list + ")");
  }
  auto probability = [&](const char* key, double v) {
    if (v < 0.0 || v >= 1.0) throw Error(source + ": '" + key + "' must be in [0, 1), found " + std::to_string(v));
  };
  probability("hidden_dropout_prob", hidden_dropout_prob);
  probability("attention_probs_dropout_prob", attention_probs_dropout_prob);
  if (classifier_dropout) probability("classifier_dropout", *classifier_dropout);
  if (pad_token_id < 0 || pad_token_id >= vocab_size)
    throw Error(source + ": 'pad_token_id' " + std::to_string(pad_token_id) + " is outside the vocabulary [0, " +
                std::to_string(vocab_size) + ")");
  if (problem_type && *problem_type != "regression" && *problem_type != "single_label_classification" &&
      *problem_type != "multi_label_classification")
    throw Error(source + ": unknown 'problem_type' \"" + *problem_type +
                "\" (expected regression, single_label_classification or multi_label_classification)");
}

BertConfig BertConfig::from_json(const nlohmann::json& j, const std::string& source) {
  if (!j.is_object()) throw Error(source + ": expected a JSON object, found " + std::string(j.type_name()));
  if (j.contains("model_type") && j["model_type"] != "bert")
    throw Error(source + ": 'model_type' is " + j["model_type"].dump() + ", expected \"bert\"");
  BertConfig c;
  read_key(j, "vocab_size", c.vocab_size, source);
  read_key(j, "hidden_size", c.hidden_size, source);
  read_key(j, "num_hidden_layers", c.num_hidden_layers, source);
  read_key(j, "num_attention_heads", c.num_attention_heads, source);
  read_key(j, "intermediate_size", c.intermediate_size, source);
  read_key(j, "hidden_act", c.hidden_act, source);
  read_key(j, "hidden_dropout_prob", c.hidden_dropout_prob, source);
  read_key(j, "attention_probs_dropout_prob", c.attention_probs_dropout_prob, source);
  read_key(j, "max_position_embeddings", c.max_position_embeddings, source);
  read_key(j, "type_vocab_size", c.type_vocab_size, source);
  read_key(j, "initializer_range", c.initializer_range, source);
  read_key(j, "layer_norm_eps", c.layer_norm_eps, source);
  read_key(j, "pad_token_id", c.pad_token_id, source);
  if (j.contains("classifier_dropout") && !j["classifier_dropout"].is_null()) {
    double d = 0;
    read_key(j, "classifier_dropout", d, source);
    c.classifier_dropout = d;
  }
  if (j.contains("problem_type") && !j["problem_type"].is_null()) {
    std::string p;
    read_key(j, "problem_type", p, source);
    c.problem_type = p;
  }
  if (j.contains("id2label")) {
    std::map<std::string, std::string> raw;
    read_key(j, "id2label", raw, source);
    for (const auto& [k, v] : raw) {
      try {
        size_t used = 0;
        int64_t id = std::stoll(k, &used);
        if (used != k.size()) throw std::invalid_argument(k);
        c.id2label[id] = v;
      } catch (const std::exception&) {
        throw Error(source + ": 'id2label' key \"" + k + "\" is not an integer");
      }
    }
    // HF derives num_labels from id2label when it is not given explicitly.
    if (!j.contains("num_labels")) c.num_labels = static_cast<int64_t>(c.id2label.size());
    // transformers reads labels from id2label (as we do); a label2id that disagrees is a sign of a
    // hand-edited file, worth a warning rather than refusing a model that transformers loads.
    if (j.contains("label2id") && j["label2id"].is_object())
      for (const auto& [name, id] : j["label2id"].items()) {
        auto it = std::find_if(c.id2label.begin(), c.id2label.end(), [&](const auto& e) { return e.second == name; });
        if (!id.is_number_integer() || it == c.id2label.end() || it->first != id.get<int64_t>()) {
          log::warn("{}: 'label2id' gives \"{}\" the id {}, which 'id2label' does not; id2label is used", source, name,
                    id.dump());
          break;
        }
      }
  }
  read_key(j, "num_labels", c.num_labels, source);
  // transformers loads such files (and an encoder's labels matter to no one), so a warning here; a
  // classifier loaded for its labels is checked where its label list is built (TaskModel::load).
  for (const auto& [id, name] : c.id2label)
    if (id < 0 || id >= c.num_labels) {
      log::warn("{}: 'id2label' has id {}, outside [0, num_labels {}): ignored", source, id, c.num_labels);
      break;
    }
  if (j.contains("architectures") && j["architectures"].is_array() && !j["architectures"].empty() &&
      j["architectures"][0].is_string())
    c.architecture = j["architectures"][0].get<std::string>();
  if (j.contains("position_embedding_type") && j["position_embedding_type"] != "absolute")
    throw Error(source + ": 'position_embedding_type' " + j["position_embedding_type"].dump() +
                " is not supported (expected \"absolute\")");
  for (const auto& [k, v] : j.items())
    if (!known_keys().count(k)) c.extra[k] = v;
  c.validate(source);
  return c;
}

nlohmann::json BertConfig::to_json() const {
  nlohmann::json j = extra;
  j["architectures"] = {architecture};
  j["model_type"] = "bert";
  j["vocab_size"] = vocab_size;
  j["hidden_size"] = hidden_size;
  j["num_hidden_layers"] = num_hidden_layers;
  j["num_attention_heads"] = num_attention_heads;
  j["intermediate_size"] = intermediate_size;
  j["hidden_act"] = hidden_act;
  j["hidden_dropout_prob"] = hidden_dropout_prob;
  j["attention_probs_dropout_prob"] = attention_probs_dropout_prob;
  j["max_position_embeddings"] = max_position_embeddings;
  j["type_vocab_size"] = type_vocab_size;
  j["initializer_range"] = initializer_range;
  j["layer_norm_eps"] = layer_norm_eps;
  j["pad_token_id"] = pad_token_id;
  j["classifier_dropout"] = classifier_dropout ? nlohmann::json(*classifier_dropout) : nlohmann::json(nullptr);
  if (problem_type) j["problem_type"] = *problem_type;
  // HF writes id2label/label2id always; num_labels is implied by them.
  nlohmann::json id2label_json = nlohmann::json::object(), label2id_json = nlohmann::json::object();
  for (int64_t i = 0; i < num_labels; ++i) {
    auto it = id2label.find(i);
    std::string name = it != id2label.end() ? it->second : "LABEL_" + std::to_string(i);
    id2label_json[std::to_string(i)] = name;
    label2id_json[name] = i;
  }
  j["id2label"] = id2label_json;
  j["label2id"] = label2id_json;
  return j;
}

BertConfig BertConfig::load(const std::string& path) {
  const std::string text = read_text_file(path);
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {  // parse_error, or out_of_range for 1e400
    throw Error(path + ": not valid JSON (" + e.what() + ")");
  }
  return from_json(j, path);
}

void BertConfig::save(const std::string& path) const { write_file_atomic(path, to_json().dump(2) + "\n"); }

}  // namespace bert::model
