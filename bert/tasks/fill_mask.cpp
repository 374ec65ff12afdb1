#include "bert/tasks/fill_mask.h"

#include "bert/io/checkpoint.h"
#include "bert/model/layers.h"
#include "bert/util/error.h"
#include "bert/util/log.h"

#include <torch/torch.h>

#include <algorithm>

namespace bert::tasks {

namespace {

bool has_prefix(const std::vector<std::string>& names, const std::string& prefix) {
  return std::any_of(names.begin(), names.end(), [&](const std::string& n) { return n.rfind(prefix, 0) == 0; });
}

}  // namespace

model::BertForPreTraining load_masked_lm(const std::string& dir, const model::BertConfig& config, bool* has_nsp_head) {
  std::optional<model::BertForPreTraining> model;
  {
    model::SkipWeightInit skip;  // every weight used comes from the file; a missing MLM head is an error below
    model.emplace(config);
  }
  auto report = io::load_weights(**model, io::read_weights(dir), dir);
  if (has_prefix(report.initialised, "cls.predictions."))
    throw Error(dir + " has no masked-LM head (cls.predictions.*): a fine-tuned model or a bare encoder has none to "
                      "predict [MASK] with (bert embed gives a bare encoder's vectors)");
  if (has_nsp_head) *has_nsp_head = !has_prefix(report.initialised, "cls.seq_relationship.");
  return *model;
}

std::vector<std::vector<std::vector<MaskCandidate>>> fill_masks(model::BertForPreTraining& model,
                                                                 const tokenizer::Tokenizer& tokenizer,
                                                                 const std::vector<TaskExample>& examples,
                                                                 const FillMaskOptions& o, const torch::Device& device) {
  torch::NoGradGuard no_grad;
  model->eval();
  const int64_t mask_id = tokenizer.mask_id(), pad_id = tokenizer.pad_id();
  const int64_t vocab = model->bert->embeddings->word_embeddings->weight.size(0);
  const int64_t k = std::min<int64_t>(o.top_k, o.targets.empty() ? vocab : static_cast<int64_t>(o.targets.size()));
  torch::Tensor targets;
  if (!o.targets.empty()) targets = torch::tensor(o.targets, torch::kLong).to(device);
  std::vector<std::vector<std::vector<MaskCandidate>>> out(examples.size());
  for (const auto& indices : length_grouped_batches(examples, o.batch_size, nullptr)) {
    auto batch = collate_task_batch(examples, indices, Task::classify, pad_id, device, /*num_labels=*/1);
    // The masks' flat positions in (B * S), row by row, left to right: the MLM head runs on those only.
    const int64_t width = batch.input_ids.size(1);
    std::vector<int64_t> positions;
    std::vector<std::pair<size_t, int64_t>> owner;  // (example, position in it) per mask
    for (size_t r = 0; r < indices.size(); ++r) {
      const auto& ids = examples[indices[r]].ids;
      for (size_t t = 0; t < ids.size(); ++t)
        if (ids[t] == mask_id) {
          positions.push_back(static_cast<int64_t>(r) * width + static_cast<int64_t>(t));
          owner.emplace_back(indices[r], static_cast<int64_t>(t));
        }
    }
    if (positions.empty()) continue;
    torch::Tensor logits;
    {
      train::AutocastGuard autocast(o.precision, device);
      auto hidden = model->bert(batch.input_ids, batch.attention_mask, batch.token_type_ids).last_hidden_state;
      hidden = hidden.reshape({-1, hidden.size(-1)}).index_select(0, torch::tensor(positions, torch::kLong).to(device));
      logits = model->cls->predictions(hidden, model->bert->embeddings->word_embeddings->weight);
    }
    auto probs = torch::softmax(logits.to(torch::kFloat), -1);
    if (targets.defined()) probs = probs.index_select(1, targets);
    auto [values, picks] = probs.topk(k, -1);
    values = values.to(torch::kCPU).contiguous();
    picks = picks.to(torch::kCPU).contiguous();
    if (targets.defined()) picks = torch::tensor(o.targets, torch::kLong).index_select(0, picks.flatten()).view_as(picks);
    for (size_t m = 0; m < owner.size(); ++m) {
      const auto [example, position] = owner[m];
      const auto& ids = examples[example].ids;
      const bool single_mask = std::count(ids.begin(), ids.end(), mask_id) == 1;
      std::vector<MaskCandidate> candidates;
      for (int64_t j = 0; j < k; ++j) {
        MaskCandidate c;
        c.token = picks[static_cast<int64_t>(m)][j].item<int64_t>();
        c.score = values[static_cast<int64_t>(m)][j].item<double>();
        c.token_str = tokenizer.decode({c.token}, /*skip_special_tokens=*/false);
        std::vector<int64_t> filled;
        for (size_t t = 0; t < ids.size(); ++t) {
          const int64_t id = static_cast<int64_t>(t) == position ? c.token : ids[t];
          if (id != pad_id) filled.push_back(id);
        }
        c.sequence = tokenizer.decode(filled, /*skip_special_tokens=*/single_mask);
        candidates.push_back(std::move(c));
      }
      out[example].push_back(std::move(candidates));
    }
  }
  return out;
}

std::vector<int64_t> target_ids(const std::vector<std::string>& targets, const tokenizer::Tokenizer& tokenizer) {
  std::vector<int64_t> ids;
  for (const auto& word : targets) {
    int64_t id = tokenizer.token_to_id(word);
    if (id < 0) {
      auto pieces = tokenizer.encode(word).ids;  // [CLS] pieces... [SEP]
      if (pieces.size() <= 2) throw Error("--target \"" + word + "\": no token of the vocabulary (it tokenizes to nothing)");
      id = pieces[1];
      log::warn("[predict] --target \"{}\" is not a token of the vocabulary: its first piece \"{}\" stands for it", word,
                tokenizer.id_to_token(id));
    }
    if (std::find(ids.begin(), ids.end(), id) == ids.end()) ids.push_back(id);
  }
  return ids;
}

}  // namespace bert::tasks
