#include "bert/tasks/embed.h"

#include "bert/io/checkpoint.h"
#include "bert/io/safetensors.h"
#include "bert/model/bert_model.h"
#include "bert/tokenizer/load.h"
#include "bert/train/precision.h"
#include "bert/util/device.h"
#include "bert/util/error.h"
#include "bert/util/log.h"

#include <torch/torch.h>

#include <filesystem>

namespace bert::tasks {

size_t run_embed(const EmbedOptions& o) {
  if (o.pooling != "cls" && o.pooling != "mean" && o.pooling != "pooler")
    throw Error("--pooling: expected cls, mean or pooler, found \"" + o.pooling + "\"");
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
  if (o.pooling == "pooler" && std::find(report.initialised.begin(), report.initialised.end(), "pooler.dense.weight") !=
                                   report.initialised.end())
    throw Error(o.model_dir + ": has no pooler weights; use --pooling cls or mean");
  bert->to(device);
  bert->eval();
  auto tokenizer = tokenizer::load_tokenizer(o.model_dir);
  auto options = o.data;
  options.task = Task::classify;
  options.has_labels = false;
  options.max_seq_len = fit_max_seq_len(options.max_seq_len, config.max_position_embeddings);
  data::LabelMap none;
  auto dataset = load_task_data(o.input, options, *tokenizer, none, false);

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
    torch::Tensor pooled;
    if (o.pooling == "cls") {
      pooled = hidden.select(1, 0);
    } else if (o.pooling == "pooler") {
      pooled = bert->pooler(hidden).to(torch::kFloat);
    } else {
      auto mask = batch.attention_mask.unsqueeze(-1).to(torch::kFloat);  // (B, S, 1)
      pooled = (hidden * mask).sum(1) / mask.sum(1).clamp_min(1.0);
    }
    auto index = torch::tensor(std::vector<int64_t>(indices.begin(), indices.end()), torch::kLong);
    embeddings.index_copy_(0, index, pooled.to(torch::kCPU));
  }
  io::write_safetensors(o.output, {{"embeddings", embeddings}},
                        {{"pooling", o.pooling}, {"layer", std::to_string(o.layer)}, {"model", o.model_dir}});
  log::info("[embed] {} rows x {} → {}", n, config.hidden_size, o.output);
  return static_cast<size_t>(n);
}

}  // namespace bert::tasks
