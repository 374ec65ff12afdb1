// Training checkpoints in a run directory, written so that a crash at any moment (kill -9, full
// disk) leaves the previous checkpoint complete and loadable:
//
//   RUN/checkpoints/step-00001200/   a Hugging Face directory (config.json, model.safetensors,
//                                    tokenizer files) + optimizer.pt + rng.pt +
//                                    trainer_state.json + DONE (written last)
//
// Each checkpoint is assembled in `step-N.tmp/` and renamed into place (rename is atomic); only
// directories holding DONE count as checkpoints. The newest complete one is what --resume
// continues from; older ones beyond --keep-last are deleted after a successful save, except the
// one marked with keep_also() (the best so far).
#pragma once

#include "bert/model/config.h"

#include <nlohmann/json.hpp>
#include <torch/nn/module.h>
#include <torch/optim/optimizer.h>

#include <optional>
#include <string>

namespace bert::train {

struct TrainingState {
  int64_t step = 0;                                  // optimizer updates done
  nlohmann::json data = nlohmann::json::object();    // data position (epoch, next example, ...)
  nlohmann::json extra = nlohmann::json::object();   // anything else: best metric, masking RNG, ...
};

class CheckpointManager {
 public:
  CheckpointManager(std::string run_dir, int keep_last);

  // Saves atomically and prunes old checkpoints; returns the checkpoint directory.
  std::string save(const TrainingState& state, const model::BertConfig& config, torch::nn::Module& model,
                   torch::optim::Optimizer& optimizer, const std::string& tokenizer_dir) const;

  // The newest complete checkpoint, if any (incomplete *.tmp directories are ignored).
  std::optional<std::string> latest() const;

  // Loads weights, optimizer state and LibTorch's CPU RNG from `dir`; returns the state.
  static TrainingState load(const std::string& dir, torch::nn::Module& model, torch::optim::Optimizer& optimizer);
  // Resuming: load() of the newest complete checkpoint, or, when that one is damaged (a file
  // corrupted after it was written), of the newest one before it that loads, with a warning naming
  // what was wrong; throws the newest one's error when none loads.
  TrainingState load_newest(torch::nn::Module& model, torch::optim::Optimizer& optimizer) const;

  // Spares the checkpoint of this step from pruning (replacing any earlier such step).
  void keep_also(int64_t step) { keep_step_ = step; }

  const std::string& run_dir() const { return run_dir_; }
  std::string checkpoints_dir() const;

 private:
  std::string run_dir_;
  int keep_last_;
  std::optional<int64_t> keep_step_;
};

// SIGINT / SIGTERM during training: the loop finishes its step, saves a checkpoint and stops with
// "interrupted", and the same command resumes. The handlers are installed for the guard's lifetime.
class StopOnSignal {
 public:
  StopOnSignal();
  ~StopOnSignal();
  StopOnSignal(const StopOnSignal&) = delete;
  StopOnSignal& operator=(const StopOnSignal&) = delete;
  static bool requested();

 private:
  void (*previous_int_)(int);
  void (*previous_term_)(int);
};

// What --resume MODE means for this run directory: "auto" continues from the newest checkpoint
// when there is one and starts afresh otherwise; "always" requires one; "never" refuses a run
// directory that already holds checkpoints. Returns the checkpoint to continue from, if any.
std::optional<std::string> checkpoint_to_resume(const CheckpointManager& checkpoints, const std::string& mode);

}  // namespace bert::train
