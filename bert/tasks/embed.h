// `bert embed`: one vector per input row from any BERT checkpoint (pre-trained, fine-tuned, ours
// or Hugging Face's), pooled from the last layer or --layer N, written by the output's extension:
// a safetensors file with one tensor `embeddings` of shape [rows, hidden] (the default), NumPy's
// .npy (float32 [rows, hidden]) or JSON lines (.jsonl: the row's text and its "embedding"). A sentence-transformers directory
// (modules.json: Transformer, Pooling, optionally Normalize) gives its own pooling, normalization
// and length by default, so that the vectors equal SentenceTransformer(dir).encode()'s.
#pragma once

#include "bert/tasks/task_data.h"

#include <optional>
#include <string>

namespace bert::tasks {

struct EmbedOptions {
  std::string model_dir, input, output;
  TaskDataOptions data;          // text columns; labels are not read. max_seq_len 0: the model's (see below)
  // auto (the sentence-transformers config, else mean) | cls | mean (over real tokens) | max (over
  // real tokens) | mean_sqrt_len (sum / sqrt(tokens)) | pooler
  std::string pooling = "auto";
  std::optional<bool> normalize;  // L2-normalize each vector; unset: as the sentence-transformers config says, else off
  int64_t layer = -1;            // hidden-state index: 0 = embeddings, L = last; -1 = last
  int64_t batch_size = 64;
  std::string precision = "fp32";
  std::string device = "cpu";
};

// What a sentence-transformers directory says about its embeddings (modules.json,
// 1_Pooling/config.json or the Pooling module's path, sentence_bert_config.json).
struct SentenceEmbeddingConfig {
  std::string pooling;                    // cls | mean | max | mean_sqrt_len
  bool normalize = false;                 // a Normalize module follows the pooling
  std::optional<int64_t> max_seq_length;  // sentence_bert_config.json's
};

// nullopt when `dir` has no modules.json. Throws bert::Error naming the file for what embed cannot
// reproduce: modules other than Transformer/Pooling/Normalize (Dense, ...), several pooling modes
// at once, weighted-mean or last-token pooling, malformed JSON.
std::optional<SentenceEmbeddingConfig> read_sentence_embedding_config(const std::string& dir);

// Returns the number of rows embedded.
size_t run_embed(const EmbedOptions& options);

}  // namespace bert::tasks
