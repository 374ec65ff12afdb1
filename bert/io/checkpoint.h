// Checkpoint directories: what Hugging Face writes and reads (`config.json`, tokenizer files,
// `model.safetensors`), loaded into and saved from our module trees.
//
// Loading is tolerant of the key variants found in the wild and strict about everything else:
// keys with or without the `bert.` prefix, legacy `LayerNorm.gamma/beta`, the `position_ids`
// buffer, the tied decoder keys that `.bin` files repeat; head weights the file lacks are left
// at their fresh initialisation and reported; any shape mismatch or missing encoder weight is an
// error naming the key, the expected and the found shape. This file is the one renaming table.
#pragma once

#include "bert/model/config.h"

#include <torch/nn/module.h>
#include <torch/types.h>

#include <string>
#include <utility>
#include <vector>

namespace bert::io {

using NamedTensors = std::vector<std::pair<std::string, torch::Tensor>>;

// Reads raw weights from a checkpoint directory (model.safetensors, else pytorch_model.bin)
// or from a single `.safetensors` / `.bin` file.
NamedTensors read_weights(const std::string& path);

// The weight file `read_weights` would read for `path`.
std::string find_weights_file(const std::string& path);

struct LoadReport {
  std::vector<std::string> initialised;  // model parameters absent from the file (fresh init kept)
  std::vector<std::string> ignored;      // file keys the model has no use for
};

// Copies `weights` into `model`'s parameters (converting dtype), applying the key variants
// above. `source` names the file in error messages.
LoadReport load_weights(torch::nn::Module& model, const NamedTensors& weights, const std::string& source);

// The same for weights nobody else holds (`load_weights(m, read_weights(dir), dir)`): a parameter
// of the same dtype, device and layout takes over the file tensor's memory instead of copying it,
// which spares a second pass over every weight (tens of ms of `bert predict`'s start-up).
LoadReport load_weights(torch::nn::Module& model, NamedTensors&& weights, const std::string& source);

// Logs a LoadReport as warnings (missing heads) and info lines (ignored keys).
void log_load_report(const LoadReport& report, const std::string& source);

// The model's parameters under their Hugging Face names, optionally cast (e.g. to bf16 for export).
NamedTensors model_weights(torch::nn::Module& model, torch::Dtype dtype = torch::kFloat);

// Writes `dir/config.json` and `dir/model.safetensors` (atomically; creates dir). `leave_out`:
// parameters not written (convert leaves out those the source file lacked, rather than invent them).
void save_model(const std::string& dir, const model::BertConfig& config, torch::nn::Module& model,
                torch::Dtype dtype = torch::kFloat, const std::vector<std::string>& leave_out = {});

// Copies the tokenizer files found in `from_dir` (vocab.txt, spm.model, tokenizer_config.json,
// ...) into `to_dir`; returns how many were copied.
// The files of checkpoint directory `dir` that loading it reads (config, weights, tokenizer,
// sentence-transformers settings), those that exist.
std::vector<std::string> checkpoint_files(const std::string& dir);
// Throws "DIR: missing config.json" unless checkpoint directory `dir` has one; a run directory
// (checkpoints/, best/, final/ inside) gets told which of those to give instead.
void require_config_json(const std::string& dir);

// refuse_output_over_input for a command that reads checkpoint `model_dir` and `data_file`.
void refuse_output_over_model_or_data(const std::string& flag, const std::string& output, const std::string& model_dir,
                                      const std::string& data_file);
int copy_tokenizer_files(const std::string& from_dir, const std::string& to_dir);

}  // namespace bert::io
