// `bert finetune`: a new task head on a pre-trained encoder (ours or Hugging Face's), trained on
// a labelled CSV/TSV or CoNLL file with AdamW (HF Trainer's defaults), dynamic padding and
// length-grouped batches, evaluated on the dev file every epoch (or --eval-every steps); the
// best model by --metric is kept in RUN/best as a Hugging Face directory. Checkpoints and resume
// work as in pre-training (train/checkpointing.h).
#pragma once

#include "bert/dist/process_group.h"

#include "bert/tasks/task_data.h"

#include <string>

namespace bert::train {

struct FinetuneOptions {
  std::string init_dir, train_file, dev_file, out_dir;
  std::string task = "auto";  // classify | multilabel | regress | tag | auto
  tasks::TaskDataOptions data;
  std::string resume = "auto";  // auto | always | never, as in pre-training
  int64_t epochs = 3;
  int64_t max_steps = 0;  // > 0: stop after this many optimizer steps (overrides epochs, as the Trainer's)
  int64_t batch_size = 32;
  int64_t grad_accum = 1;
  double lr = 2e-5, weight_decay = 0.01, adam_eps = 1e-8, adam_beta2 = 0.999, warmup_ratio = 0.1;
  int64_t warmup_steps = 0;
  std::string schedule = "linear";
  double clip_norm = 1.0;
  std::optional<double> dropout, classifier_dropout;
  std::string precision = "fp32";
  bool gradient_checkpointing = false;  // recompute each layer in backward instead of keeping its activations
  bool group_by_length = false;         // batches of similar length (faster, but see the README); false: uniformly shuffled
  bool in_order = false;                // batches in the training file's order each epoch (overrides group_by_length)
  bool split_by_length = true;          // run a mixed-length batch as passes of similar length (same gradient)
  std::string device = "cpu";
  uint64_t seed = 42;
  std::string class_weights = "none";  // auto | none
  std::string metric;                  // default: accuracy / micro_f1 / pearson / entity_f1 by task
  double threshold = 0.5;              // multilabel: probability from which a label is predicted (dev evaluation)
  int64_t eval_every = 0;              // 0 = once per epoch
  int64_t early_stopping = 0;          // evaluations without improvement before stopping; 0 = off
  int64_t log_every = 20;
  int64_t save_every = 0;              // steps between checkpoints besides each evaluation's; 0 = only those
  int keep_last = 1;                   // newest checkpoints kept in RUN/checkpoints
  int max_bad_steps = 5;               // non-finite steps in a row that stop the run
  std::string scheme = "bio";          // tagging entity scheme: bio | iob1
};

// Returns the best model's directory (RUN/best).
// With a process group of N workers, options.batch_size is each worker's share of a global
// batch of N x batch_size (the same batches as one process with the global batch); only rank 0
// evaluates and writes to the run directory.
std::string run_finetuning(const FinetuneOptions& options, dist::ProcessGroup& group);
std::string run_finetuning(const FinetuneOptions& options);  // one process

}  // namespace bert::train
