#include "bert/train/pretraining_eval.h"

#include "bert/io/checkpoint.h"
#include "bert/tasks/fill_mask.h"
#include "bert/tokenizer/load.h"
#include "bert/tokenizer/sentencepiece_tokenizer.h"
#include "bert/util/error.h"
#include "bert/util/log.h"

#include <torch/nn/functional/loss.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <limits>

namespace bert::train {

namespace fs = std::filesystem;
namespace F = torch::nn::functional;

namespace {

torch::Tensor to_tensor(const std::vector<int64_t>& v, std::vector<int64_t> shape, const torch::Device& device) {
  return torch::from_blob(const_cast<int64_t*>(v.data()), shape, torch::kLong).to(device, /*non_blocking=*/false, /*copy=*/true);
}

// Which vocabulary pieces continue the previous piece's word, for whole-word masking: WordPiece
// marks continuations with "##"; sentencepiece marks word *starts* with U+2581.
std::vector<bool> continuation_table(const tokenizer::Tokenizer& tok) {
  const bool sentencepiece = dynamic_cast<const tokenizer::SentencePieceTokenizer*>(&tok) != nullptr;
  const std::string word_start = "\xe2\x96\x81";  // U+2581
  std::vector<bool> table(static_cast<size_t>(tok.vocab_size()));
  for (int64_t id = 0; id < tok.vocab_size(); ++id) {
    const std::string piece = tok.id_to_token(id);
    const bool special = id == tok.cls_id() || id == tok.sep_id() || id == tok.pad_id() || id == tok.mask_id() ||
                         id == tok.unk_id();
    table[static_cast<size_t>(id)] =
        !special && (sentencepiece ? piece.rfind(word_start, 0) != 0 : piece.rfind("##", 0) == 0);
  }
  return table;
}

}  // namespace

PretrainingTensors to_tensors(const data::PretrainingBatch& b, const torch::Device& device) {
  PretrainingTensors t;
  std::vector<int64_t> shape = {b.batch_size, b.seq_len};
  t.input_ids = to_tensor(b.input_ids, shape, device);
  t.token_type_ids = to_tensor(b.token_type_ids, shape, device);
  t.real_tokens = real_tokens(b);
  // A batch without padding needs no mask, and attention without one can take the fastest
  // scaled_dot_product_attention kernels (flash attention on a GPU).
  if (t.real_tokens < b.batch_size * b.seq_len) t.attention_mask = to_tensor(b.attention_mask, shape, device);
  t.mlm_labels = to_tensor(b.mlm_labels, {b.batch_size * b.seq_len}, device);
  t.masked_positions = to_tensor(b.masked_positions, {static_cast<int64_t>(b.masked_positions.size())}, device);
  t.nsp_labels = to_tensor(b.next_sentence_label, {b.batch_size}, device);
  return t;
}

int64_t real_tokens(const data::PretrainingBatch& b) {
  int64_t n = 0;
  for (auto m : b.attention_mask) n += m;
  return n;
}

PretrainingLosses pretraining_losses(model::BertForPreTraining& model, const PretrainingTensors& t, bool nsp,
                                     Precision precision, const torch::Device& device) {
  PretrainingLosses l;
  AutocastGuard autocast(precision, device);
  auto out = model->forward(t.input_ids, t.attention_mask, t.token_type_ids, {}, t.masked_positions);
  auto labels = t.mlm_labels.index_select(0, t.masked_positions);  // (N)
  l.mlm_count = labels.size(0);
  auto logits = out.prediction_logits.to(torch::kFloat);           // (N, V)
  l.mlm = l.mlm_count > 0 ? F::cross_entropy(logits, labels) : logits.sum() * 0.0;
  l.mlm_correct = logits.argmax(-1).eq(labels).sum();
  l.total = l.mlm;
  if (nsp) {
    auto nsp_logits = out.seq_relationship_logits.to(torch::kFloat);  // (B, 2)
    l.nsp = F::cross_entropy(nsp_logits, t.nsp_labels);
    l.nsp_correct = nsp_logits.argmax(-1).eq(t.nsp_labels).sum();
    l.total = l.total + l.nsp;
  }
  return l;
}

void PretrainingEvalTotals::add(model::BertForPreTraining& model, const data::PretrainingBatch& batch, bool nsp,
                                Precision precision, const torch::Device& device) {
  torch::NoGradGuard no_grad;
  auto l = pretraining_losses(model, to_tensors(batch, device), nsp, precision, device);
  mlm_loss_sum += l.mlm.item<double>() * static_cast<double>(l.mlm_count);
  masked += l.mlm_count;
  mlm_correct += l.mlm_correct.item<int64_t>();
  sequences += batch.batch_size;
  if (nsp) {
    nsp_loss_sum += l.nsp.item<double>() * static_cast<double>(batch.batch_size);
    nsp_correct += l.nsp_correct.item<int64_t>();
  }
}

nlohmann::json PretrainingEvalTotals::to_json(const std::string& prefix, bool nsp) const {
  auto ratio = [](double a, int64_t b) { return b ? a / static_cast<double>(b) : 0.0; };
  const double mlm_loss = ratio(mlm_loss_sum, masked);
  nlohmann::json r;
  r[prefix + "mlm_loss"] = mlm_loss;
  r[prefix + "mlm_accuracy"] = ratio(static_cast<double>(mlm_correct), masked);
  r[prefix + "perplexity"] = std::exp(mlm_loss);
  r[prefix + "masked_tokens"] = masked;
  r[prefix + "sequences"] = sequences;
  if (nsp) {
    r[prefix + "nsp_loss"] = ratio(nsp_loss_sum, sequences);
    r[prefix + "nsp_accuracy"] = ratio(static_cast<double>(nsp_correct), sequences);
  }
  return r;
}

BatchSourceOptions pretraining_batch_options(const PretrainOptions& o, const tokenizer::Tokenizer& tokenizer) {
  BatchSourceOptions source;
  source.examples.max_seq_len = o.seq_len;
  source.examples.short_seq_prob = o.short_seq_prob;
  source.examples.next_sentence_prediction = o.nsp;
  source.examples.cls_id = static_cast<uint32_t>(tokenizer.cls_id());
  source.examples.sep_id = static_cast<uint32_t>(tokenizer.sep_id());
  source.collate.pad_id = tokenizer.pad_id();
  source.collate.max_length = o.seq_len;
  source.masking = data::make_masking_options(tokenizer.vocab_size(), tokenizer.cls_id(), tokenizer.sep_id(),
                                              tokenizer.pad_id(), tokenizer.mask_id());
  source.masking.mlm_probability = o.mlm_prob;
  source.masking.mask_token_ratio = o.mask_ratio;
  source.masking.random_token_ratio = o.random_ratio;
  source.masking.max_predictions = o.max_predictions;
  if (o.whole_word_mask) source.masking.is_continuation = continuation_table(tokenizer);
  source.batch_size = o.batch_size;
  source.seed = o.seed;
  return source;
}

data::TokenCacheOptions corpus_cache_options(const PretrainOptions& o, const std::vector<std::string>& inputs,
                                             const std::string& cache_dir) {
  data::TokenCacheOptions cache;
  cache.inputs = inputs;
  cache.reader.layout = data::parse_corpus_layout(o.layout);
  cache.reader.paragraphs_per_document = o.paragraphs_per_document;
  cache.tokenizer_dir = o.tokenizer_dir;
  cache.cache_dir = cache_dir;
  cache.threads = o.threads;
  return cache;
}

nlohmann::json run_corpus_evaluation(const CorpusEvalOptions& options) {
  auto o = options.objective;
  if (options.model_dir.empty()) throw Error("--model: a checkpoint directory is required");
  if (o.corpus.empty()) throw Error("--corpus: at least one file, directory or glob is required");
  if (o.batch_size <= 0) throw Error("--batch-size: must be > 0, found " + std::to_string(o.batch_size));
  if (o.seq_len != 0 && o.seq_len < 8) throw Error("--seq-len: must be at least 8, found " + std::to_string(o.seq_len));
  if (o.mlm_prob <= 0 || o.mlm_prob >= 1) throw Error("--mlm-prob: must be in (0, 1), found " + std::to_string(o.mlm_prob));
  const torch::Device device(options.device);
  const Precision precision = parse_precision(options.precision);
  check_precision_supported(precision, device);

  o.tokenizer_dir = options.model_dir;
  io::require_config_json(options.model_dir);  // a run directory is named as such
  auto config = model::BertConfig::load((fs::path(options.model_dir) / "config.json").string());
  auto tokenizer = tokenizer::load_tokenizer(options.model_dir, config.vocab_size);
  if (o.seq_len == 0) o.seq_len = std::min<int64_t>(128, config.max_position_embeddings);  // not given
  if (o.seq_len > config.max_position_embeddings)
    throw Error("--seq-len " + std::to_string(o.seq_len) + " exceeds the model's max_position_embeddings " +
                std::to_string(config.max_position_embeddings));
  bool has_nsp_head = false;
  auto model = tasks::load_masked_lm(options.model_dir, config, &has_nsp_head);
  if (o.nsp && !has_nsp_head) {
    log::info("[evaluate] {} has no next-sentence head: reporting masked-LM metrics only", options.model_dir);
    o.nsp = false;
  }
  model->to(device);
  model->eval();

  // The token cache: in --cache-dir, kept for the next checkpoint evaluated on the same corpus;
  // else in a directory of its own under the system's temporary directory, removed on the way
  // out (declared before the cache, so removed after it is closed).
  struct RemovedOnExit {
    std::string dir;
    ~RemovedOnExit() {
      std::error_code ec;
      if (!dir.empty()) fs::remove_all(dir, ec);
    }
  } temporary_cache;
  std::string cache_dir = o.cache_dir;
  if (cache_dir.empty()) {
    std::string name = (fs::temp_directory_path() / "bert-eval-cache-XXXXXX").string();
    if (!::mkdtemp(name.data())) throw Error(name + ": cannot create a temporary directory");
    cache_dir = temporary_cache.dir = name;
  }
  auto cache = data::TokenCache::open(corpus_cache_options(o, o.corpus, cache_dir), tokenizer.get());
  auto source = pretraining_batch_options(o, *tokenizer);
  const size_t max_batches = options.max_batches > 0 ? static_cast<size_t>(options.max_batches)
                                                     : std::numeric_limits<size_t>::max();
  PretrainingEvalTotals totals;
  PretrainingBatchSource::for_each_fixed_batch(cache.view(), source, max_batches, [&](const data::PretrainingBatch& b) {
    totals.add(model, b, o.nsp, precision, device);
  });
  if (totals.sequences == 0) throw Error("--corpus: the text yields no pre-training examples (too little text?)");
  auto result = totals.to_json("", o.nsp);
  result["seq_len"] = o.seq_len;
  result["seed"] = o.seed;
  return result;
}

}  // namespace bert::train
