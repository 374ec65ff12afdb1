// `bert pretrain`: corpus → token cache → NSP/packed examples with dynamic masking → a trained
// BertForPreTraining, checkpointed atomically and resumable. The loop reads in a fixed order:
// learning rate → micro-steps (forward under autocast, backward) → clip → optimizer step →
// log → evaluate → checkpoint.
#pragma once

#include "bert/dist/process_group.h"

#include <cstdint>
#include <string>
#include <vector>

namespace bert::train {

struct PretrainOptions {
  // Data
  std::vector<std::string> corpus;
  std::string layout = "prose";         // prose | google
  size_t paragraphs_per_document = 20;  // prose: a new document every N paragraphs; 0 = one per file
  std::vector<std::string> eval_corpus;  // held-out text; empty → eval_fraction of the documents
  double eval_fraction = 0.01;
  std::string tokenizer_dir;
  std::string cache_dir;  // default RUN/cache
  // Model
  std::string model_config;  // preset config.json (fresh model), or:
  std::string init_dir;      // continue pre-training from a checkpoint (ours or HF's)
  // Run
  std::string out_dir;
  std::string resume = "auto";  // auto (continue when RUN has a checkpoint) | always | never
  int64_t max_steps = 1000;
  int64_t batch_size = 32;
  int64_t seq_len = 128;
  int64_t grad_accum = 1;
  uint64_t seed = 42;
  // Objective
  bool nsp = true;
  double short_seq_prob = 0.1;
  double mlm_prob = 0.15;
  double mask_ratio = 0.8, random_ratio = 0.1;  // of the selected tokens; the rest kept
  int64_t max_predictions = 20;                 // per sequence; 0 = uncapped (HF)
  bool whole_word_mask = false;
  // Optimisation
  double lr = 1e-4;
  double weight_decay = 0.01;
  double adam_eps = 1e-6;
  double beta1 = 0.9, beta2 = 0.999;
  int64_t warmup_steps = 0;
  double warmup_ratio = 0.01;
  std::string schedule = "linear";
  double clip_norm = 1.0;
  std::string precision = "fp32";
  std::string device = "cpu";
  bool gradient_checkpointing = false;  // recompute each layer in backward instead of keeping its activations
  bool cuda_graphs = false;  // capture forward + backward once, replay it (graphed_pretraining_step.h)
  // Cadence
  int64_t log_every = 10;
  int64_t eval_every = 200;
  int64_t eval_batches = 20;
  int64_t save_every = 200;
  int keep_last = 2;       // newest checkpoints kept (the best held-out one is kept as well)
  int max_bad_steps = 5;   // non-finite steps in a row that stop the run
  int threads = 0;
};

// Runs to max_steps (or until SIGINT/SIGTERM, which saves a checkpoint first). Returns the
// final HF directory (RUN/final). With a process group of N workers, options.batch_size is
// each worker's share of a global batch of N x batch_size; only rank 0 writes to the run
// directory (checkpoints, metrics, final/) and evaluates; every rank resumes from its checkpoints.
std::string run_pretraining(const PretrainOptions& options, dist::ProcessGroup& group);
std::string run_pretraining(const PretrainOptions& options);  // one process

}  // namespace bert::train
