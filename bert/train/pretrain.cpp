#include "bert/train/pretrain.h"

#include "bert/data/token_cache.h"
#include "bert/dist/process_group.h"
#include "bert/io/checkpoint.h"
#include "bert/model/heads.h"
#include "bert/tokenizer/load.h"
#include "bert/train/checkpointing.h"
#include "bert/train/graphed_pretraining_step.h"
#include "bert/train/loss_scaler.h"
#include "bert/train/optimizer.h"
#include "bert/train/precision.h"
#include "bert/train/pretraining_batches.h"
#include "bert/train/pretraining_eval.h"
#include "bert/train/run_log.h"
#include "bert/train/schedule.h"
#include "bert/train/step_timing.h"
#include "bert/util/checks.h"
#include "bert/util/device.h"
#include "bert/util/error.h"
#include "bert/util/files.h"
#include "bert/util/log.h"
#include "bert/util/text.h"

#include <torch/torch.h>

#include <filesystem>

namespace bert::train {

namespace fs = std::filesystem;

namespace {

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

AdamWSettings adamw_settings(const PretrainOptions& o) {
  AdamWSettings adam;
  adam.lr = o.lr;
  adam.weight_decay = o.weight_decay;
  adam.eps = o.adam_eps;
  adam.beta1 = o.beta1;
  adam.beta2 = o.beta2;
  return adam;
}

void validate(const PretrainOptions& o) {
  if (o.corpus.empty()) throw Error("--corpus: at least one file, directory or glob is required");
  if (o.out_dir.empty()) throw Error("--out: a run directory is required");
  if (o.model_config.empty() == o.init_dir.empty())
    throw Error("exactly one of --model-config (a fresh model) and --init (continue from a checkpoint) is required");
  if (o.tokenizer_dir.empty())
    throw Error("--tokenizer: a tokenizer directory is required with --model-config (--init's is its own)");
  if (!o.init_dir.empty()) require_directory("--init", o.init_dir);
  require_directory("--tokenizer", o.tokenizer_dir);
  require_directory_if_present("--out", o.out_dir);
  require_positive("--max-steps", o.max_steps);
  require_positive("--batch-size", o.batch_size);
  require_positive("--grad-accum", o.grad_accum);
  require_positive("--log-every", o.log_every);
  require_positive("--eval-every", o.eval_every);
  require_positive("--eval-batches", o.eval_batches);
  require_positive("--save-every", o.save_every);
  require_non_negative("--keep-last", o.keep_last);  // 0 keeps one, as before this check
  require_positive("--max-bad-steps", o.max_bad_steps);
  require_non_negative("--max-predictions", o.max_predictions);
  require_non_negative("--warmup-steps", o.warmup_steps);
  require_in_range("--warmup-ratio", o.warmup_ratio, 0, 1);
  require_in_range("--eval-fraction", o.eval_fraction, 0, 1, /*below_hi=*/true);
  require_in_range("--short-seq-prob", o.short_seq_prob, 0, 1);
  check_optimizer_flags(adamw_settings(o), o.clip_norm);
  if (o.seq_len < 8) throw Error("--seq-len: must be at least 8, found " + std::to_string(o.seq_len));
  if (o.mlm_prob <= 0 || o.mlm_prob >= 1) throw Error("--mlm-prob: must be in (0, 1), found " + std::to_string(o.mlm_prob));
  if (o.mask_ratio < 0 || o.random_ratio < 0 || o.mask_ratio + o.random_ratio > 1)
    throw Error("--mask-ratios: the [MASK] and random shares must be >= 0 and sum to at most 1");
}

// Everything a run was started with, as run.json records it.
nlohmann::json options_json(const PretrainOptions& o) {
  return {{"command", "pretrain"},
          {"corpus", o.corpus},
          {"layout", o.layout},
          {"paragraphs_per_document", o.paragraphs_per_document},
          {"eval_corpus", o.eval_corpus},
          {"eval_fraction", o.eval_fraction},
          {"tokenizer", o.tokenizer_dir},
          {"cache_dir", o.cache_dir},
          {"model_config", o.model_config},
          {"init", o.init_dir},
          {"max_steps", o.max_steps},
          {"batch_size", o.batch_size},
          {"seq_len", o.seq_len},
          {"grad_accum", o.grad_accum},
          {"seed", o.seed},
          {"nsp", o.nsp},
          {"short_seq_prob", o.short_seq_prob},
          {"mlm_prob", o.mlm_prob},
          {"mask_ratios", {o.mask_ratio, o.random_ratio, 1.0 - o.mask_ratio - o.random_ratio}},
          {"max_predictions", o.max_predictions},
          {"whole_word_mask", o.whole_word_mask},
          {"lr", o.lr},
          {"weight_decay", o.weight_decay},
          {"adam_eps", o.adam_eps},
          {"adam_betas", {o.beta1, o.beta2}},
          {"warmup_steps", resolve_warmup_steps(o.warmup_steps, o.warmup_ratio, o.max_steps)},
          {"schedule", o.schedule},
          {"clip_norm", o.clip_norm},
          {"precision", o.precision},
          {"device", o.device},
          {"cuda_graphs", o.cuda_graphs},
          {"gradient_checkpointing", o.gradient_checkpointing},
          {"log_every", o.log_every},
          {"eval_every", o.eval_every},
          {"eval_batches", o.eval_batches},
          {"save_every", o.save_every},
          {"keep_last", o.keep_last},
          {"max_bad_steps", o.max_bad_steps},
          {"threads", o.threads}};
}

// The options that define what a run trains; resuming with others would silently mix two runs.
// (Cadence, --max-steps, precision and device may change between sessions.)
nlohmann::json identity_of(const nlohmann::json& options) {
  nlohmann::json id;
  for (const char* key : {"corpus", "layout", "paragraphs_per_document", "eval_corpus", "eval_fraction", "tokenizer",
                          "model_config", "init", "batch_size", "seq_len", "grad_accum", "seed", "nsp",
                          "short_seq_prob", "mlm_prob", "mask_ratios", "max_predictions", "whole_word_mask", "workers"})
    id[key] = options[key];
  id["command"] = options["command"];
  return id;
}

// How much one worker's mean losses count: its share of all workers' predictions times the number
// of workers, so that the mean over workers of (weight x local mean) is the whole batch's mean,
// exactly what one process training on all the rows computes. The counts come from one small
// all-reduce (every worker calls this at the same point of each micro-step).
struct ShareWeights {
  double mlm = 1, nsp = 1;
};
ShareWeights share_weights(dist::ProcessGroup& group, const data::PretrainingBatch& mine) {
  const auto masked = static_cast<double>(mine.masked_positions.size());
  const auto nsp_labelled = static_cast<double>(std::count_if(
      mine.next_sentence_label.begin(), mine.next_sentence_label.end(), [](int64_t l) { return l >= 0; }));
  const auto all = group.sum({masked, nsp_labelled});
  const double world = group.world_size();
  auto share = [world](double part, double whole) { return whole > 0 ? world * part / whole : 0.0; };
  return {share(masked, all[0]), share(nsp_labelled, all[1])};
}

}  // namespace

std::string run_pretraining(const PretrainOptions& o) {
  dist::ProcessGroup single(dist::WorkerEnvironment{}, std::chrono::milliseconds(0));
  return run_pretraining(o, single);
}

std::string run_pretraining(const PretrainOptions& o, dist::ProcessGroup& group) {
  validate(o);
  const bool main_rank = group.is_main();
  const int world = group.world_size();
  const torch::Device device = parse_device(o.device, group.local_rank());
  const Precision precision = parse_precision(o.precision);
  check_precision_supported(precision, device);
  const auto schedule_kind = parse_schedule(o.schedule);
  if (o.cuda_graphs) check_cuda_graphs_usable(device);
  if (o.cuda_graphs && group.active())
    throw Error("--cuda-graphs runs in one process only (the gradient all-reduce is not captured); drop --nproc "
                "or --cuda-graphs");
  if (o.cuda_graphs && o.gradient_checkpointing)
    throw Error("--cuda-graphs with --gradient-checkpointing: a captured step cannot run the nested backward of a "
                "recomputed layer; choose one");
  if (o.cuda_graphs && precision == Precision::fp16)
    throw Error("--cuda-graphs with --precision fp16: the loss scale changes between steps and a graph cannot follow "
                "it; use --precision bf16");

  CheckpointManager checkpoints(o.out_dir, o.keep_last);
  auto run_options = options_json(o);
  run_options["workers"] = world;  // the global batch is workers x batch_size
  auto latest = checkpoint_to_resume(checkpoints, o.resume);
  if (latest) check_resume_compatible(o.out_dir, identity_of(run_options));

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
    if (config.vocab_size != static_cast<int64_t>(tokenizer->vocab_size()))
      log::info("[pretrain] vocab_size {} of {} replaced by the tokenizer's {} tokens", config.vocab_size,
                o.model_config, tokenizer->vocab_size());
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
  model::set_gradient_checkpointing(*model, o.gradient_checkpointing);

  auto optimizer = make_adamw(*model, adamw_settings(o));
  Schedule schedule{schedule_kind, o.lr, resolve_warmup_steps(o.warmup_steps, o.warmup_ratio, o.max_steps), o.max_steps};

  TrainingState state;
  if (latest) state = checkpoints.load_newest(*model, *optimizer);
  // Every worker starts from rank 0's weights; dropout draws differ between workers.
  group.broadcast_from_main(model->parameters());
  if (group.rank() > 0) torch::manual_seed(o.seed + 1000003ULL * group.rank() + 7919ULL * state.step);

  // Data: the token cache (built once, memory-mapped) and the held-out split. Rank 0 builds the
  // cache; the other workers open it once it is complete.
  if (!main_rank) group.barrier("waiting for rank 0 to build the token cache");
  const std::string cache_dir = o.cache_dir.empty() ? (fs::path(o.out_dir) / "cache").string() : o.cache_dir;
  auto cache = data::TokenCache::open(corpus_cache_options(o, o.corpus, cache_dir), tokenizer.get());  // logs a summary
  std::optional<data::TokenCache> eval_cache;
  data::TokenizedCorpusView train_view, eval_view;
  if (!o.eval_corpus.empty()) {
    eval_cache = data::TokenCache::open(corpus_cache_options(o, o.eval_corpus, cache_dir + "-eval"), tokenizer.get());
    train_view = cache.view();
    eval_view = eval_cache->view();
  } else {
    std::tie(train_view, eval_view) = split_documents(cache.view(), o.eval_fraction);
  }
  if (main_rank) group.barrier("waiting for the other workers to start");
  log::info("[data] {} training documents, {} held-out documents", train_view.num_documents, eval_view.num_documents);
  if (main_rank) write_run_json(o.out_dir, run_options);  // once the data is there: a run that cannot start leaves none

  auto source = pretraining_batch_options(o, *tokenizer);
  // Each worker builds only its own examples: global examples rank, rank + W, ... of each epoch.
  source.examples.rank = group.rank();
  source.examples.world_size = world;
  std::vector<data::PretrainingBatch> eval_batches;
  if (main_rank && eval_view.num_documents > 0) {
    auto eval_source = source;
    eval_source.seed = o.seed + 1;  // fixed masks: every evaluation of the run sees the same batches
    eval_source.examples.rank = 0, eval_source.examples.world_size = 1;  // rank 0 evaluates them all
    eval_batches = PretrainingBatchSource::fixed_batches(eval_view, eval_source, static_cast<size_t>(o.eval_batches));
  }

  data::StreamPosition position;
  if (state.data.contains("epoch")) position = {state.data["epoch"].get<uint64_t>(), state.data["index"].get<uint64_t>()};
  if (state.extra.contains("mask_rng")) {
    // Written by a build whose workers all built the global batch from one stream and masked it with
    // one generator (its state was kept here): the position counted every worker's examples.
    position.index /= static_cast<uint64_t>(world);
    state.extra.erase("mask_rng");
    if (main_rank)
      log::warn("[checkpoint] written by an earlier bert that masked from one generator: continuing at the same "
                "data position, with masks drawn per example from here on");
  }
  PretrainingBatchSource batches(train_view, source, position);

  std::optional<MetricsLog> metrics;  // rank 0 writes the run directory
  if (main_rank) metrics.emplace(o.out_dir);
  std::optional<StopOnSignal> stop_on_signal(std::in_place);

  // The best held-out checkpoint is kept besides the last --keep-last ones.
  double best_eval_loss = state.extra.value("best_eval_mlm_loss", std::numeric_limits<double>::infinity());
  if (state.extra.contains("best_step")) checkpoints.keep_also(state.extra["best_step"].get<int64_t>());
  NonFiniteSteps non_finite(o.max_bad_steps, "try a lower --lr, more --warmup-steps, or --precision fp32",
                            state.extra.value("skipped_steps", int64_t{0}));
  LossScaler scaler(precision == Precision::fp16);
  scaler.restore(state.extra);

  auto save = [&](const BatchWithState& last) {
    state.data = {{"epoch", last.position_after.epoch}, {"index", last.position_after.index}};
    state.extra["skipped_steps"] = non_finite.skipped_total();
    state.extra.update(scaler.state());
    auto dir = checkpoints.save(state, config, *model, *optimizer, o.tokenizer_dir);
    log::info("[checkpoint] saved {}", dir);
  };

  suggest_bf16_where_native(precision, device);  // once the run is set up: after every usage error
  log::info("[pretrain] {} parameters, {} layers x {}, batch {} x {} (accum {}{}), {}, {} on {}",
            [&] { int64_t n = 0; for (auto& p : model->parameters()) n += p.numel(); return n; }(),
            config.num_hidden_layers, config.hidden_size, o.batch_size * world, o.seq_len, o.grad_accum,
            group.active() ? fmt::format(", {} workers x {}", world, o.batch_size) : "", counted(o.max_steps, "step"),
            precision_name(precision), device.str());
  ProgressReporter progress("[pretrain]", o.max_steps, o.log_every, state.step);
  BatchWithState last_batch;
  bool have_batch = false;
  bool stop = false;  // a stop request seen by any worker stops them all after the same step
  StepTiming timing(device);
  dist::GradientAverager averager(group, model->parameters());
  std::optional<GraphedPretrainingStep> graphed;
  std::optional<SideStream> side_stream;  // the whole loop on one non-default stream, as capture needs
  if (o.cuda_graphs) {
    const int64_t slots = prediction_slots(o.batch_size, o.seq_len, o.mlm_prob, o.max_predictions);
    graphed.emplace(model, o.batch_size, o.seq_len, slots, tokenizer->pad_id(), o.nsp, precision, device,
                    /*capture=*/true, static_cast<double>(o.grad_accum));
    side_stream.emplace(device);
    log::info("[pretrain] CUDA graphs: batches padded to {} x {}, {} prediction slots; captured after {} eager steps",
              o.batch_size, o.seq_len, slots, GraphedPretrainingStep::kWarmupSteps);
  }
  int64_t eager_fallbacks = 0;  // batches with more predictions than slots
  while (state.step < o.max_steps && !stop) {
    timing.start();
    const double lr = schedule.lr_at(state.step);
    set_learning_rate(*optimizer, lr);
    if (graphed) {
      zero_gradients(model->parameters());  // a captured graph writes into these very tensors
    } else {
      optimizer->zero_grad();
    }
    double loss_sum = 0, mlm_sum = 0, nsp_sum = 0;
    int64_t tokens = 0;
    for (int64_t micro = 0; micro < o.grad_accum; ++micro) {
      last_batch = batches.next();
      have_batch = true;
      timing.mark("data wait");
      const data::PretrainingBatch& batch = last_batch.batch;  // this worker's rows
      tokens += real_tokens(batch);
      PretrainingLosses l;
      if (graphed && graphed->fits(batch)) {
        const bool was_captured = graphed->captured();
        l = graphed->forward_backward(batch);
        if (!was_captured && graphed->captured())
          log::info("[pretrain] CUDA graph captured at step {}; later steps replay it", state.step + 1);
        timing.mark(graphed->captured() ? "forward + backward: graph replay" : "forward + backward: before capture",
                    true);
      } else {
        if (graphed) ++eager_fallbacks;
        // Before the forward pass, so that a GPU need not finish it before the counts are in.
        const ShareWeights w = group.active() ? share_weights(group, batch) : ShareWeights{};
        auto t = to_tensors(batch, device);
        timing.mark("copy to device", true);
        l = pretraining_losses(model, t, o.nsp, precision, device);
        timing.mark("forward + loss: host");
        timing.mark("forward + loss: device", true);
        if (group.active()) {
          l.mlm = l.mlm * w.mlm;
          if (o.nsp) l.nsp = l.nsp * w.nsp;
          l.total = o.nsp ? l.mlm + l.nsp : l.mlm;
        }
        if (micro + 1 == o.grad_accum) averager.final_backward_next();
        (scaler.scale_loss(l.total) / static_cast<double>(o.grad_accum)).backward();
        timing.mark("backward: host");
        timing.mark("backward: device", true);
      }
      loss_sum += l.total.item<double>();
      mlm_sum += l.mlm.item<double>();
      if (o.nsp) nsp_sum += l.nsp.item<double>();
    }
    averager.finish();
    const auto sums =
        group.sum({loss_sum, mlm_sum, nsp_sum, StopOnSignal::requested() ? 1.0 : 0.0, static_cast<double>(tokens)});
    stop = sums[3] > 0;
    tokens = static_cast<int64_t>(sums[4]);  // all workers' tokens, for the throughput
    const double per_step = static_cast<double>(o.grad_accum) * world;
    const double loss = sums[0] / per_step, mlm = sums[1] / per_step, nsp = sums[2] / per_step;
    const bool finite = scaler.unscale(model->parameters());
    const double grad_norm = clip_gradient_norm(model->parameters(), o.clip_norm);
    if (apply_step(finite, scaler, non_finite, state.step + 1, loss, grad_norm)) adamw_step(*optimizer);
    scaler.update(finite);
    ++state.step;
    timing.mark("all-reduce, clip, optimizer", true);

    const std::string numbers = fmt::format("loss {:.4f} mlm {:.4f}{} lr {:.3e} grad {:.3f}", loss, mlm,
                                            o.nsp ? fmt::format(" nsp {:.4f}", nsp) : "", lr, grad_norm);
    if (auto rate = progress.step(state.step, tokens, numbers)) {
      nlohmann::json rec = {{"step", state.step}, {"loss", loss}, {"mlm_loss", mlm}, {"lr", lr},
                            {"grad_norm", grad_norm}, {"tokens_per_s", rate->tokens_per_s},
                            {"skipped_steps", non_finite.skipped_total()}};
      if (o.nsp) rec["nsp_loss"] = nsp;
      if (scaler.enabled()) rec["loss_scale"] = scaler.scale();
      if (metrics) metrics->write(rec);
    }
    bool new_best = false;
    const bool evaluated = main_rank && !eval_batches.empty() && (state.step % o.eval_every == 0 || state.step == o.max_steps);
    if (evaluated) {
      PretrainingEvalTotals totals;
      model->eval();
      for (const auto& b : eval_batches) totals.add(model, b, o.nsp, precision, device);
      model->train();
      auto r = totals.to_json("eval_", o.nsp);
      const double eval_loss = r["eval_mlm_loss"].get<double>();
      new_best = eval_loss < best_eval_loss;
      log::info("[eval] step {} mlm loss {:.4f} accuracy {:.4f} perplexity {:.2f}{}{}", state.step, eval_loss,
                r["eval_mlm_accuracy"].get<double>(), r["eval_perplexity"].get<double>(),
                o.nsp ? fmt::format(" nsp accuracy {:.4f}", r["eval_nsp_accuracy"].get<double>()) : "",
                new_best ? " (best)" : "");
      r["step"] = state.step;
      metrics->write(r);
      if (new_best) {
        best_eval_loss = eval_loss;
        state.extra["best_eval_mlm_loss"] = eval_loss;
        state.extra["best_step"] = state.step;
        checkpoints.keep_also(state.step);
      }
    }
    // A new best is saved at once (and kept), whatever --save-every says.
    const bool save_now = new_best || state.step % o.save_every == 0 || state.step == o.max_steps;
    if (save_now && main_rank) save(last_batch);
    if (evaluated || save_now) progress.restart_clock(state.step);  // tokens/s counts training time only
    timing.mark("logging, evaluation, saving");
  }
  side_stream.reset();
  progress.finish();
  timing.report();
  if (eager_fallbacks > 0)
    log::info("[pretrain] CUDA graphs: {} batches had more predictions than slots and ran without the graph",
              eager_fallbacks);
  if (stop && have_batch && main_rank) {
    log::info("[pretrain] stop requested: saving a checkpoint at step {}", state.step);
    save(last_batch);
  }
  stop_on_signal.reset();
  if (stop) throw Error("interrupted at step " + std::to_string(state.step) + "; run the same command again to continue");

  const std::string final_dir = (fs::path(o.out_dir) / "final").string();
  if (!main_rank) return final_dir;
  io::save_model(final_dir, config, *model);
  io::copy_tokenizer_files(o.tokenizer_dir, final_dir);
  if (non_finite.skipped_total() > 0)
    log::warn("[pretrain] {} skipped for a non-finite loss or gradient", counted(non_finite.skipped_total(), "step"));
  if (state.extra.contains("best_step"))
    log::info("[pretrain] best held-out masked-LM loss {:.4f} at step {} ({}/step-{:08d})", best_eval_loss,
              state.extra["best_step"].get<int64_t>(), checkpoints.checkpoints_dir(),
              state.extra["best_step"].get<int64_t>());
  log::info("[pretrain] done: {} (a Hugging Face BertForPreTraining directory)", final_dir);
  return final_dir;
}

}  // namespace bert::train
