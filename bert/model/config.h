// BertConfig: the hyper-parameters of a BERT model, read from and written to Hugging Face's
// `config.json` so that a checkpoint directory is loadable by either side. Keys we do not use
// are kept in `extra` and written back unchanged, so a round trip loses nothing.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>

namespace bert::model {

struct BertConfig {
  int64_t vocab_size = 30522;
  int64_t hidden_size = 768;
  int64_t num_hidden_layers = 12;
  int64_t num_attention_heads = 12;
  int64_t intermediate_size = 3072;
  std::string hidden_act = "gelu";
  double hidden_dropout_prob = 0.1;
  double attention_probs_dropout_prob = 0.1;
  int64_t max_position_embeddings = 512;
  int64_t type_vocab_size = 2;
  double initializer_range = 0.02;
  double layer_norm_eps = 1e-12;
  int64_t pad_token_id = 0;
  std::optional<double> classifier_dropout;  // null in HF: falls back to hidden_dropout_prob
  // Fine-tuning heads. num_labels = 1 means regression (as in HF).
  int64_t num_labels = 2;
  std::map<int64_t, std::string> id2label;
  std::optional<std::string> problem_type;  // regression | single_label_classification | multi_label_classification
  std::string architecture = "BertForPreTraining";
  nlohmann::json extra = nlohmann::json::object();

  int64_t head_size() const { return hidden_size / num_attention_heads; }
  double effective_classifier_dropout() const { return classifier_dropout.value_or(hidden_dropout_prob); }
  // BERT's masked-LM decoder is the word embedding matrix unless "tie_word_embeddings" is false.
  bool ties_word_embeddings() const {
    return !(extra.contains("tie_word_embeddings") && extra["tie_word_embeddings"] == false);
  }

  // Throws bert::Error (naming `source`) when a value is out of range or inconsistent.
  void validate(const std::string& source) const;

  static BertConfig from_json(const nlohmann::json& j, const std::string& source);
  nlohmann::json to_json() const;

  // Reads `path` (a config.json); errors name the file and the key.
  static BertConfig load(const std::string& path);
  // Writes atomically (tmp file + rename).
  void save(const std::string& path) const;
};

// The activation functions HF's BERT accepts under `hidden_act`; anything else is an error.
bool is_supported_activation(const std::string& name);

}  // namespace bert::model
