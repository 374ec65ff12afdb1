// Fuzz target: the config.json reader (bert/model/config.h). The input is written to a scratch
// file and read with BertConfig::load, as every checkpoint directory's config.json is read. A
// config that loads must pass validate() (load promises it) and survive save() + load(): every
// field, the labels (ids below num_labels; to_json names the missing ones LABEL_i) and the
// unknown keys kept in `extra`.
#include <string>

#include "bert/model/config.h"
#include "bert/util/error.h"
#include "fuzz/fuzz_common.h"

namespace {

// to_json writes one id2label entry per label: keep the round trip cheap.
constexpr int64_t kMaxRoundTripLabels = 4096;

std::string label_name(const bert::model::BertConfig& c, int64_t id) {
  const auto it = c.id2label.find(id);
  return it != c.id2label.end() ? it->second : "LABEL_" + std::to_string(id);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bert::fuzz::ScratchFile input("config.json"), output("config-saved.json");
  input.write(std::string_view(reinterpret_cast<const char*>(data), size));

  bert::model::BertConfig c;
  try {
    c = bert::model::BertConfig::load(input.path());
  } catch (const bert::Error&) {
    return 0;
  }
  c.validate(input.path());
  FUZZ_CHECK(c.head_size() > 0 && c.head_size() * c.num_attention_heads == c.hidden_size, "head size");
  if (c.num_labels > kMaxRoundTripLabels) return 0;

  c.save(output.path());
  const auto b = bert::model::BertConfig::load(output.path());
  FUZZ_CHECK(b.vocab_size == c.vocab_size && b.hidden_size == c.hidden_size &&
                 b.num_hidden_layers == c.num_hidden_layers && b.num_attention_heads == c.num_attention_heads &&
                 b.intermediate_size == c.intermediate_size && b.hidden_act == c.hidden_act &&
                 b.hidden_dropout_prob == c.hidden_dropout_prob &&
                 b.attention_probs_dropout_prob == c.attention_probs_dropout_prob &&
                 b.max_position_embeddings == c.max_position_embeddings && b.type_vocab_size == c.type_vocab_size &&
                 b.initializer_range == c.initializer_range && b.layer_norm_eps == c.layer_norm_eps &&
                 b.pad_token_id == c.pad_token_id && b.classifier_dropout == c.classifier_dropout &&
                 b.num_labels == c.num_labels && b.problem_type == c.problem_type &&
                 b.architecture == c.architecture && b.extra == c.extra,
             "save + load changed a field");
  for (int64_t id = 0; id < c.num_labels; ++id)
    FUZZ_CHECK(label_name(b, id) == label_name(c, id), "save + load changed a label name");
  return 0;
}
