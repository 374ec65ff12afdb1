#include "bert/tasks/embed.h"

#include "bert/io/checkpoint.h"
#include "bert/io/safetensors.h"
#include "bert/model/bert_model.h"
#include "bert/tokenizer/load.h"
#include "bert/train/precision.h"
#include "bert/util/checks.h"
#include "bert/util/device.h"
#include "bert/util/error.h"
#include "bert/util/files.h"
#include "bert/util/log.h"
#include "bert/util/text.h"

#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include <cmath>
#include <filesystem>

namespace bert::tasks {

namespace fs = std::filesystem;

namespace {

nlohmann::json read_json_file(const fs::path& path) {
  try {
    return nlohmann::json::parse(read_text_file(path.string()));
  } catch (const nlohmann::json::exception& e) {
    throw Error(path.string() + ": invalid JSON (" + e.what() + ")");
  }
}

// Pools (B, S, H) hidden states over the real tokens of `mask` (B, S).
torch::Tensor pool(const torch::Tensor& hidden, const torch::Tensor& attention_mask, const std::string& pooling) {
  if (pooling == "cls") return hidden.select(1, 0);
  auto mask = attention_mask.unsqueeze(-1).to(torch::kFloat);  // (B, S, 1)
  if (pooling == "max") return hidden.masked_fill(mask == 0, -1e9).amax(1);  // padding never wins
  auto sum = (hidden * mask).sum(1);
  auto tokens = mask.sum(1).clamp_min(1.0);
  return pooling == "mean_sqrt_len" ? sum / tokens.sqrt() : sum / tokens;
}

// NumPy's .npy format 1.0 for a float32 matrix (numpy.load reads it): magic, version, a header
// dict padded with spaces to a multiple of 64 bytes, then the little-endian C-order data.
std::string npy_bytes(const torch::Tensor& matrix) {
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + std::to_string(matrix.size(0)) + ", " +
                       std::to_string(matrix.size(1)) + "), }";
  header.append((64 - (10 + header.size() + 1) % 64) % 64, ' ');
  header += '\n';
  std::string out("\x93NUMPY\x01\x00", 8);
  out += static_cast<char>(header.size() & 0xff);
  out += static_cast<char>(header.size() >> 8);
  out += header;
  const auto data = matrix.contiguous();
  out.append(reinterpret_cast<const char*>(data.data_ptr<float>()), static_cast<size_t>(data.numel()) * sizeof(float));
  return out;
}

// One JSON object per row: the row's text (and text_pair) and its vector, floats in their
// shortest exact form.
std::string jsonl_text(const torch::Tensor& matrix, const TaskDataset& dataset) {
  const auto data = matrix.contiguous();
  const float* v = data.data_ptr<float>();
  const int64_t cols = data.size(1);
  std::string out;
  for (int64_t r = 0; r < data.size(0); ++r) {
    const auto& row = dataset.rows[static_cast<size_t>(r)];
    nlohmann::json text = {{"text", row.text}};
    if (row.text_pair) text["text_pair"] = *row.text_pair;
    std::string line = text.dump();
    line.pop_back();  // reopen the object for the vector
    line += ",\"embedding\":[";
    for (int64_t c = 0; c < cols; ++c) line += (c ? "," : "") + fmt::format("{}", v[r * cols + c]);
    out += line + "]}\n";
  }
  return out;
}

}  // namespace

std::optional<SentenceEmbeddingConfig> read_sentence_embedding_config(const std::string& dir) {
  const fs::path modules_path = fs::path(dir) / "modules.json";
  if (!fs::exists(modules_path)) return std::nullopt;
  const auto modules = read_json_file(modules_path);
  if (!modules.is_array()) throw Error(modules_path.string() + ": expected a list of modules");
  SentenceEmbeddingConfig c;
  for (const auto& m : modules) {
    const std::string type = m.value("type", "");
    const std::string name = type.substr(type.rfind('.') == std::string::npos ? 0 : type.rfind('.') + 1);
    if (name == "Transformer") continue;
    if (name == "Normalize") {
      c.normalize = true;
      continue;
    }
    if (name != "Pooling")
      throw Error(modules_path.string() + ": module " + type + " is not supported (embed reproduces Transformer, "
                  "Pooling and Normalize); give --pooling to embed without it");
    const fs::path pooling_path = fs::path(dir) / m.value("path", "1_Pooling") / "config.json";
    const auto p = read_json_file(pooling_path);
    std::vector<std::string> modes;
    for (const auto& [key, mode] : {std::pair<const char*, const char*>{"pooling_mode_cls_token", "cls"},
                                    {"pooling_mode_mean_tokens", "mean"},
                                    {"pooling_mode_max_tokens", "max"},
                                    {"pooling_mode_mean_sqrt_len_tokens", "mean_sqrt_len"},
                                    {"pooling_mode_weightedmean_tokens", "weightedmean"},
                                    {"pooling_mode_lasttoken", "lasttoken"}})
      if (p.value(key, false)) modes.push_back(mode);
    if (modes.size() != 1 || modes[0] == "weightedmean" || modes[0] == "lasttoken") {
      std::string found;
      for (const auto& mode : modes) found += (found.empty() ? "" : ", ") + mode;
      throw Error(pooling_path.string() + ": pooling " + (found.empty() ? "none" : found) +
                  " is not supported (expected exactly one of cls, mean, max, mean_sqrt_len)");
    }
    c.pooling = modes[0];
  }
  if (c.pooling.empty()) throw Error(modules_path.string() + ": no Pooling module");
  const fs::path bert_config = fs::path(dir) / "sentence_bert_config.json";
  if (fs::exists(bert_config)) {
    const auto j = read_json_file(bert_config);
    if (j.contains("max_seq_length") && j["max_seq_length"].is_number_integer())
      c.max_seq_length = j["max_seq_length"].get<int64_t>();
  }
  return c;
}

size_t run_embed(const EmbedOptions& o) {
  if (o.pooling != "auto" && o.pooling != "cls" && o.pooling != "mean" && o.pooling != "max" &&
      o.pooling != "mean_sqrt_len" && o.pooling != "pooler")
    throw Error("--pooling: expected auto, cls, mean, max, mean_sqrt_len or pooler, found \"" + o.pooling + "\"");
  if (!ends_with(o.output, ".safetensors") && !ends_with(o.output, ".npy") && !ends_with(o.output, ".jsonl"))
    throw Error("--output " + o.output + ": expected a .safetensors, .npy or .jsonl file name (the format follows it)");
  require_positive("--batch-size", o.batch_size);
  require_directory("--model", o.model_dir);
  io::require_config_json(o.model_dir);
  io::refuse_output_over_model_or_data("--output", o.output, o.model_dir, o.input);
  // Defaults from a sentence-transformers directory, where the flags leave them open.
  const auto sentence = o.pooling == "auto" || !o.normalize || o.data.max_seq_len == 0
                            ? read_sentence_embedding_config(o.model_dir)
                            : std::nullopt;
  const std::string pooling = o.pooling != "auto" ? o.pooling : sentence ? sentence->pooling : "mean";
  const bool normalize = o.normalize.value_or(sentence && sentence->normalize);
  int64_t max_seq_len = o.data.max_seq_len;
  if (max_seq_len == 0) max_seq_len = sentence && sentence->max_seq_length ? *sentence->max_seq_length : 128;
  if (sentence)
    log::info("[embed] sentence-transformers model: {} pooling{}, {} tokens", pooling,
              normalize ? ", L2-normalized" : "", max_seq_len);
  const torch::Device device = parse_device(o.device);
  const auto precision = train::parse_precision(o.precision);
  train::check_precision_supported(precision, device);
  auto config = model::BertConfig::load((std::filesystem::path(o.model_dir) / "config.json").string());
  if (o.layer < -1 || o.layer > config.num_hidden_layers)
    throw Error("--layer: expected 0.." + std::to_string(config.num_hidden_layers) + " or -1 (last), found " +
                std::to_string(o.layer));
  model::BertModel bert = [&] {
    model::SkipWeightInit skip;  // every weight used comes from the file (a missing pooler is an error below)
    return model::BertModel(config);
  }();
  auto report = io::load_weights(*bert, io::read_weights(o.model_dir), o.model_dir);
  if (pooling == "pooler" && std::find(report.initialised.begin(), report.initialised.end(), "pooler.dense.weight") !=
                                   report.initialised.end())
    throw Error(o.model_dir + ": has no pooler weights; use --pooling cls or mean");
  bert->to(device);
  bert->eval();
  auto tokenizer = tokenizer::load_tokenizer(o.model_dir, config.vocab_size);
  auto options = o.data;
  options.task = Task::classify;
  options.model_vocab_size = config.vocab_size;
  options.has_labels = false;
  options.max_seq_len = fit_max_seq_len(max_seq_len, config.max_position_embeddings);
  data::LabelMap none;
  auto dataset = load_task_data(o.input, options, *tokenizer, none, false);
  log::info("[data] {}", dataset.read_summary);

  torch::NoGradGuard no_grad;
  const int64_t n = static_cast<int64_t>(dataset.examples.size());
  auto embeddings = torch::empty({n, config.hidden_size}, torch::kFloat);  // (rows, H)
  model::ForwardOptions forward;
  forward.output_hidden_states = o.layer >= 0;
  for (const auto& indices : length_grouped_batches(dataset.examples, o.batch_size, nullptr)) {
    auto batch = collate_task_batch(dataset.examples, indices, Task::classify, tokenizer->pad_id(), device);
    model::BertOutput out;
    {
      train::AutocastGuard autocast(precision, device);
      out = bert->forward(batch.input_ids, batch.attention_mask, batch.token_type_ids, forward);
    }
    auto hidden = (o.layer >= 0 ? out.hidden_states[static_cast<size_t>(o.layer)] : out.last_hidden_state)
                      .to(torch::kFloat);  // (B, S, H)
    auto pooled = pooling == "pooler" ? bert->pooler(hidden).to(torch::kFloat) : pool(hidden, batch.attention_mask, pooling);
    if (normalize) pooled = pooled / pooled.norm(2, 1, true).clamp_min(1e-12);  // as torch's F.normalize
    auto index = torch::tensor(std::vector<int64_t>(indices.begin(), indices.end()), torch::kLong);
    embeddings.index_copy_(0, index, pooled.to(torch::kCPU));
  }
  if (!torch::isfinite(embeddings).all().item<bool>())
    throw Error(o.model_dir + ": some embeddings are NaN or infinite (damaged weights or config.json" +
                (o.precision == "fp16" ? ", or an fp16 overflow: try --precision bf16 or fp32" : "") +
                "); nothing was written");
  if (ends_with(o.output, ".npy")) {
    write_file_atomic(o.output, npy_bytes(embeddings));
  } else if (ends_with(o.output, ".jsonl")) {
    write_file_atomic(o.output, jsonl_text(embeddings, dataset));
  } else {  // .safetensors
    io::write_safetensors(o.output, {{"embeddings", embeddings}},
                          {{"pooling", pooling},
                           {"normalized", normalize ? "true" : "false"},
                           {"max_seq_len", std::to_string(options.max_seq_len)},
                           {"layer", std::to_string(o.layer)},
                           {"model", o.model_dir}});
  }
  log::info("[embed] {} rows x {} → {}", n, config.hidden_size, o.output);
  return static_cast<size_t>(n);
}

}  // namespace bert::tasks
