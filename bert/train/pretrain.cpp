#include "bert/train/pretrain.h"

#include "bert/data/token_cache.h"
#include "bert/io/checkpoint.h"
#include "bert/model/heads.h"
#include "bert/tokenizer/load.h"
#include "bert/tokenizer/sentencepiece_tokenizer.h"
#include "bert/train/checkpointing.h"
#include "bert/train/optimizer.h"
#include "bert/train/precision.h"
#include "bert/train/pretraining_batches.h"
#include "bert/train/run_log.h"
#include "bert/train/schedule.h"
#include "bert/util/error.h"
#include "bert/util/log.h"

#include <torch/nn/functional/loss.h>
#include <torch/nn/utils/clip_grad.h>
#include <torch/torch.h>

#include <atomic>
#include <csignal>
#include <filesystem>

namespace bert::train {

namespace fs = std::filesystem;
namespace F = torch::nn::functional;

namespace {

std::atomic<bool> g_stop_requested{false};
extern "C" void request_stop(int) { g_stop_requested = true; }

// The held-out split when no --eval-corpus is given: the last documents of the corpus.
std::pair<data::TokenizedCorpusView, data::TokenizedCorpusView> split_documents(const data::TokenizedCorpusView& all,
                                                                                double fraction) {
  size_t eval_docs = static_cast<size_t>(std::ceil(fraction * static_cast<double>(all.num_documents)));
  if (fraction <= 0) eval_docs = 0;
  if (all.num_documents < 3 && eval_docs > 0)
    throw Error("--eval-fraction needs at least 3 documents in the corpus, found " +
                std::to_string(all.num_documents) +
                " (use --paragraphs-per-document N to cut files into documents, or --eval-corpus)");
  eval_docs = std::min(eval_docs, all.num_documents - 2);
  auto train = all, eval = all;
  train.num_documents = all.num_documents - eval_docs;
  eval.document_starts = all.document_starts + train.num_documents;
  eval.num_documents = eval_docs;
  return {train, eval};
}

struct Tensors {
  torch::Tensor input_ids, token_type_ids, attention_mask, mlm_labels, masked_positions, nsp_labels;
  int64_t real_tokens = 0;
};

torch::Tensor to_tensor(const std::vector<int64_t>& v, std::vector<int64_t> shape, const torch::Device& device) {
  return torch::from_blob(const_cast<int64_t*>(v.data()), shape, torch::kLong).to(device, /*non_blocking=*/false, /*copy=*/true);
}

Tensors to_tensors(const data::PretrainingBatch& b, const torch::Device& device) {
  Tensors t;
  std::vector<int64_t> shape = {b.batch_size, b.seq_len};
  t.input_ids = to_tensor(b.input_ids, shape, device);
  t.token_type_ids = to_tensor(b.token_type_ids, shape, device);
  t.attention_mask = to_tensor(b.attention_mask, shape, device);
  t.mlm_labels = to_tensor(b.mlm_labels, {b.batch_size * b.seq_len}, device);
  t.masked_positions = to_tensor(b.masked_positions, {static_cast<int64_t>(b.masked_positions.size())}, device);
  t.nsp_labels = to_tensor(b.next_sentence_label, {b.batch_size}, device);
  for (auto m : b.attention_mask) t.real_tokens += m;
  return t;
}

struct StepLosses {
  torch::Tensor total, mlm, nsp;  // nsp undefined without NSP
  torch::Tensor mlm_correct;      // number of masked positions predicted right
  int64_t mlm_count = 0;
  torch::Tensor nsp_correct;
};

// Forward pass + losses. The MLM head runs on the masked positions only.
StepLosses forward_losses(model::BertForPreTraining& model, const Tensors& t, bool nsp, Precision precision,
                          const torch::Device& device) {
  StepLosses l;
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

nlohmann::json evaluate(model::BertForPreTraining& model, const std::vector<data::PretrainingBatch>& batches, bool nsp,
                        Precision precision, const torch::Device& device) {
  torch::NoGradGuard no_grad;
  model->eval();
  double mlm_sum = 0, nsp_sum = 0;
  int64_t mlm_n = 0, mlm_correct = 0, nsp_n = 0, nsp_correct = 0;
  for (const auto& b : batches) {
    auto t = to_tensors(b, device);
    auto l = forward_losses(model, t, nsp, precision, device);
    mlm_sum += l.mlm.item<double>() * static_cast<double>(l.mlm_count);
    mlm_n += l.mlm_count;
    mlm_correct += l.mlm_correct.item<int64_t>();
    if (nsp) {
      nsp_sum += l.nsp.item<double>() * static_cast<double>(b.batch_size);
      nsp_n += b.batch_size;
      nsp_correct += l.nsp_correct.item<int64_t>();
    }
  }
  model->train();
  nlohmann::json r;
  const double mlm_loss = mlm_n ? mlm_sum / static_cast<double>(mlm_n) : 0.0;
  r["eval_mlm_loss"] = mlm_loss;
  r["eval_mlm_accuracy"] = mlm_n ? static_cast<double>(mlm_correct) / static_cast<double>(mlm_n) : 0.0;
  r["eval_perplexity"] = std::exp(mlm_loss);
  r["eval_masked_tokens"] = mlm_n;
  if (nsp) {
    r["eval_nsp_loss"] = nsp_n ? nsp_sum / static_cast<double>(nsp_n) : 0.0;
    r["eval_nsp_accuracy"] = nsp_n ? static_cast<double>(nsp_correct) / static_cast<double>(nsp_n) : 0.0;
  }
  return r;
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

void validate(const PretrainOptions& o) {
  if (o.corpus.empty()) throw Error("--corpus: at least one file, directory or glob is required");
  if (o.tokenizer_dir.empty()) throw Error("--tokenizer: a tokenizer directory is required");
  if (o.out_dir.empty()) throw Error("--out: a run directory is required");
  if (o.model_config.empty() == o.init_dir.empty())
    throw Error("exactly one of --model-config (a fresh model) and --init (continue from a checkpoint) is required");
  auto positive = [](const char* flag, int64_t v) {
    if (v <= 0) throw Error(std::string(flag) + ": must be > 0, found " + std::to_string(v));
  };
  positive("--max-steps", o.max_steps);
  positive("--batch-size", o.batch_size);
  positive("--grad-accum", o.grad_accum);
  positive("--log-every", o.log_every);
  positive("--eval-every", o.eval_every);
  positive("--save-every", o.save_every);
  if (o.seq_len < 8) throw Error("--seq-len: must be at least 8, found " + std::to_string(o.seq_len));
  if (o.mlm_prob <= 0 || o.mlm_prob >= 1) throw Error("--mlm-prob: must be in (0, 1), found " + std::to_string(o.mlm_prob));
  if (o.mask_ratio < 0 || o.random_ratio < 0 || o.mask_ratio + o.random_ratio > 1)
    throw Error("--mask-ratios: the [MASK] and random shares must be >= 0 and sum to at most 1");
}

}  // namespace

std::string run_pretraining(const PretrainOptions& o) {
  validate(o);
  const torch::Device device(o.device);
  const Precision precision = parse_precision(o.precision);
  check_precision_supported(precision, device);
  const auto schedule_kind = parse_schedule(o.schedule);

  CheckpointManager checkpoints(o.out_dir, o.keep_checkpoints);
  auto latest = checkpoints.latest();
  if (latest && !o.resume)
    throw Error(o.out_dir + " already holds checkpoints (newest: " + *latest +
                "); pass --resume to continue that run, or choose another --out");

  // Tokenizer and model.
  auto tokenizer = tokenizer::load_tokenizer(o.tokenizer_dir);
  model::BertConfig config;
  if (!o.init_dir.empty()) {
    config = model::BertConfig::load((fs::path(o.init_dir) / "config.json").string());
    if (config.vocab_size != tokenizer->vocab_size())
      throw Error("--init " + o.init_dir + " has vocab_size " + std::to_string(config.vocab_size) + " but --tokenizer " +
                  o.tokenizer_dir + " has " + std::to_string(tokenizer->vocab_size()) + " tokens");
  } else {
    config = model::BertConfig::load(o.model_config);
    config.vocab_size = tokenizer->vocab_size();
    config.pad_token_id = tokenizer->pad_id();
  }
  if (o.seq_len > config.max_position_embeddings)
    throw Error("--seq-len " + std::to_string(o.seq_len) + " exceeds the model's max_position_embeddings " +
                std::to_string(config.max_position_embeddings));
  config.architecture = "BertForPreTraining";
  torch::manual_seed(o.seed);
  model::BertForPreTraining model(config);
  if (!o.init_dir.empty()) {
    auto report = io::load_weights(*model, io::read_weights(o.init_dir), o.init_dir);
    io::log_load_report(report, o.init_dir);
  }
  model->to(device);
  model->train();

  AdamWSettings adam;
  adam.lr = o.lr;
  adam.weight_decay = o.weight_decay;
  adam.eps = o.adam_eps;
  adam.beta1 = o.beta1;
  adam.beta2 = o.beta2;
  auto optimizer = make_adamw(*model, adam);
  Schedule schedule{schedule_kind, o.lr, resolve_warmup_steps(o.warmup_steps, o.warmup_ratio, o.max_steps), o.max_steps};

  TrainingState state;
  if (latest) state = CheckpointManager::load(*latest, *model, *optimizer);

  // Data: the token cache (built once, memory-mapped) and the held-out split.
  data::TokenCacheOptions cache_options;
  cache_options.inputs = o.corpus;
  cache_options.reader.layout = data::parse_corpus_layout(o.layout);
  cache_options.reader.paragraphs_per_document = o.paragraphs_per_document;
  cache_options.tokenizer_dir = o.tokenizer_dir;
  cache_options.cache_dir = o.cache_dir.empty() ? (fs::path(o.out_dir) / "cache").string() : o.cache_dir;
  cache_options.threads = o.threads;
  auto cache = data::TokenCache::open(cache_options, tokenizer.get());  // logs its own summary
  std::optional<data::TokenCache> eval_cache;
  data::TokenizedCorpusView train_view, eval_view;
  if (!o.eval_corpus.empty()) {
    auto eval_options = cache_options;
    eval_options.inputs = o.eval_corpus;
    eval_options.cache_dir = cache_options.cache_dir + "-eval";
    eval_cache = data::TokenCache::open(eval_options, tokenizer.get());
    train_view = cache.view();
    eval_view = eval_cache->view();
  } else {
    std::tie(train_view, eval_view) = split_documents(cache.view(), o.eval_fraction);
  }
  log::info("[data] {} training documents, {} held-out documents", train_view.num_documents, eval_view.num_documents);

  BatchSourceOptions source;
  source.examples.max_seq_len = o.seq_len;
  source.examples.short_seq_prob = o.short_seq_prob;
  source.examples.next_sentence_prediction = o.nsp;
  source.examples.cls_id = static_cast<uint32_t>(tokenizer->cls_id());
  source.examples.sep_id = static_cast<uint32_t>(tokenizer->sep_id());
  source.collate.pad_id = tokenizer->pad_id();
  source.collate.max_length = o.seq_len;
  source.masking = data::make_masking_options(tokenizer->vocab_size(), tokenizer->cls_id(), tokenizer->sep_id(),
                                              tokenizer->pad_id(), tokenizer->mask_id());
  source.masking.mlm_probability = o.mlm_prob;
  source.masking.mask_token_ratio = o.mask_ratio;
  source.masking.random_token_ratio = o.random_ratio;
  source.masking.max_predictions = o.max_predictions;
  if (o.whole_word_mask) source.masking.is_continuation = continuation_table(*tokenizer);
  source.batch_size = o.batch_size;
  source.seed = o.seed;

  std::vector<data::PretrainingBatch> eval_batches;
  if (eval_view.num_documents > 0) {
    auto eval_source = source;
    eval_source.seed = o.seed + 1;
    eval_batches = PretrainingBatchSource::fixed_batches(eval_view, eval_source, static_cast<size_t>(o.eval_batches));
  }

  data::StreamPosition position;
  if (state.data.contains("epoch")) position = {state.data["epoch"].get<uint64_t>(), state.data["index"].get<uint64_t>()};
  const std::string mask_rng = state.extra.value("mask_rng", std::string());
  PretrainingBatchSource batches(train_view, source, position, mask_rng);

  MetricsLog metrics(o.out_dir);
  g_stop_requested = false;
  auto previous_int = std::signal(SIGINT, request_stop);
  auto previous_term = std::signal(SIGTERM, request_stop);

  auto save = [&](const BatchWithState& last) {
    state.data = {{"epoch", last.position_after.epoch}, {"index", last.position_after.index}};
    state.extra["mask_rng"] = last.mask_rng_after;
    auto dir = checkpoints.save(state, config, *model, *optimizer, o.tokenizer_dir);
    log::info("[checkpoint] saved {}", dir);
  };

  log::info("[pretrain] {} parameters, {} layers x {}, batch {} x {} (accum {}), {} steps, {} on {}",
            [&] { int64_t n = 0; for (auto& p : model->parameters()) n += p.numel(); return n; }(),
            config.num_hidden_layers, config.hidden_size, o.batch_size, o.seq_len, o.grad_accum, o.max_steps,
            precision_name(precision), device.str());
  Throughput throughput;
  throughput.start(state.step);
  int64_t tokens_since_log = 0;
  BatchWithState last_batch;
  bool have_batch = false;
  while (state.step < o.max_steps && !g_stop_requested) {
    const double lr = schedule.lr_at(state.step);
    set_learning_rate(*optimizer, lr);
    optimizer->zero_grad();
    double loss_sum = 0, mlm_sum = 0, nsp_sum = 0;
    for (int64_t micro = 0; micro < o.grad_accum; ++micro) {
      last_batch = batches.next();
      have_batch = true;
      auto t = to_tensors(last_batch.batch, device);
      tokens_since_log += t.real_tokens;
      auto l = forward_losses(model, t, o.nsp, precision, device);
      (l.total / static_cast<double>(o.grad_accum)).backward();
      loss_sum += l.total.item<double>();
      mlm_sum += l.mlm.item<double>();
      if (o.nsp) nsp_sum += l.nsp.item<double>();
    }
    const double grad_norm = torch::nn::utils::clip_grad_norm_(model->parameters(), o.clip_norm);
    optimizer->step();
    ++state.step;

    const double loss = loss_sum / o.grad_accum, mlm = mlm_sum / o.grad_accum, nsp = nsp_sum / o.grad_accum;
    if (!std::isfinite(loss))
      throw Error("[pretrain] loss became " + std::to_string(loss) + " at step " + std::to_string(state.step) +
                  " (try a lower --lr, or --precision fp32); the last checkpoint is intact");
    if (state.step % o.log_every == 0 || state.step == o.max_steps) {
      auto [tok_per_s, eta] = throughput.report(state.step, tokens_since_log, o.max_steps);
      tokens_since_log = 0;
      log::info("[pretrain] step {}/{} loss {:.4f} mlm {:.4f}{} lr {:.3e} grad {:.3f} {} tok/s eta {}", state.step,
                o.max_steps, loss, mlm, o.nsp ? fmt::format(" nsp {:.4f}", nsp) : "", lr, grad_norm,
                format_rate(tok_per_s), format_duration(eta));
      nlohmann::json rec = {{"step", state.step}, {"loss", loss}, {"mlm_loss", mlm}, {"lr", lr},
                            {"grad_norm", grad_norm}, {"tokens_per_second", tok_per_s}};
      if (o.nsp) rec["nsp_loss"] = nsp;
      metrics.write(rec);
    }
    if (!eval_batches.empty() && (state.step % o.eval_every == 0 || state.step == o.max_steps)) {
      auto r = evaluate(model, eval_batches, o.nsp, precision, device);
      log::info("[eval] step {} mlm loss {:.4f} accuracy {:.4f} perplexity {:.2f}{}", state.step,
                r["eval_mlm_loss"].get<double>(), r["eval_mlm_accuracy"].get<double>(),
                r["eval_perplexity"].get<double>(),
                o.nsp ? fmt::format(" nsp accuracy {:.4f}", r["eval_nsp_accuracy"].get<double>()) : "");
      r["step"] = state.step;
      metrics.write(r);
      throughput.start(state.step);  // evaluation time is not training throughput
    }
    if (state.step % o.save_every == 0 || state.step == o.max_steps) save(last_batch);
  }
  if (g_stop_requested && have_batch) {
    log::info("[pretrain] stop requested: saving a checkpoint at step {}", state.step);
    save(last_batch);
  }
  std::signal(SIGINT, previous_int);
  std::signal(SIGTERM, previous_term);
  if (g_stop_requested) throw Error("interrupted at step " + std::to_string(state.step) + "; continue with --resume");

  const std::string final_dir = (fs::path(o.out_dir) / "final").string();
  io::save_model(final_dir, config, *model);
  io::copy_tokenizer_files(o.tokenizer_dir, final_dir);
  log::info("[pretrain] done: {} (a Hugging Face BertForPreTraining directory)", final_dir);
  return final_dir;
}

}  // namespace bert::train
