// `bert convert` and `bert info`: moving checkpoints between Hugging Face's layouts and ours,
// and describing what a checkpoint directory holds. Kept apart from the training code: format
// conversion lives here and nowhere else.
#pragma once

#include <torch/types.h>

#include <string>

namespace bert::io {

struct ConvertOptions {
  std::string input;        // HF directory, or a lone .bin / .safetensors file
  std::string config_path;  // config.json to use when `input` is a lone file (default: beside it)
  std::string out_dir;
  torch::Dtype dtype = torch::kFloat;
};

// Loads `input` into the module tree its config names (validating every key and shape), then
// writes `out_dir` as a Hugging Face directory: config.json, model.safetensors in `dtype`, and
// the tokenizer files found beside the input. Returns a one-line summary.
std::string convert_checkpoint(const ConvertOptions& options);

// A human-readable description: config, parameters by module, dtypes, heads, tokenizer,
// training state if any.
std::string describe_checkpoint(const std::string& dir);

// "float32" | "bfloat16" | "float16" (also fp32/bf16/fp16) → dtype; anything else is an error.
torch::Dtype parse_dtype(const std::string& name);

}  // namespace bert::io
