// `bert embed`: one vector per input row from any BERT checkpoint (pre-trained, fine-tuned, ours
// or Hugging Face's), pooled from the last layer or --layer N, written as a safetensors file
// with one tensor `embeddings` of shape [rows, hidden].
#pragma once

#include "bert/tasks/task_data.h"

#include <string>

namespace bert::tasks {

struct EmbedOptions {
  std::string model_dir, input, output;
  TaskDataOptions data;         // text columns; labels are not read
  std::string pooling = "mean";  // cls | mean (over real tokens) | pooler
  int64_t layer = -1;           // hidden-state index: 0 = embeddings, L = last; -1 = last
  int64_t batch_size = 64;
  std::string precision = "fp32";
  std::string device = "cpu";
};

// Returns the number of rows embedded.
size_t run_embed(const EmbedOptions& options);

}  // namespace bert::tasks
