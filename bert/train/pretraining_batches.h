// The pre-training input pipeline: examples (NSP pairs or packed sentences) → masked, padded
// batches, built on a background thread so that tokenizing, pairing, masking and collation
// overlap the model's forward/backward. Each batch carries the stream position and masking RNG
// state *after* it, so a checkpoint taken after consuming batch k resumes exactly at batch k+1.
#pragma once

#include "bert/data/collate.h"
#include "bert/data/pretraining_examples.h"

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>

namespace bert::train {

struct BatchWithState {
  data::PretrainingBatch batch;
  data::StreamPosition position_after;  // where the stream stands once this batch is consumed
  std::string mask_rng_after;           // masking generator state (std::mt19937_64 text form)
};

struct BatchSourceOptions {
  data::ExampleOptions examples;
  data::CollateOptions collate;
  data::MaskingOptions masking;
  int64_t batch_size = 32;
  uint64_t seed = 0;
  size_t prefetch = 4;  // batches built ahead of the trainer
};

class PretrainingBatchSource {
 public:
  // Starts at `position` with the masking generator in `mask_rng_state` (empty: seeded from
  // options.seed). The corpus view must outlive the source.
  PretrainingBatchSource(const data::TokenizedCorpusView& corpus, BatchSourceOptions options,
                         data::StreamPosition position, const std::string& mask_rng_state);
  ~PretrainingBatchSource();
  PretrainingBatchSource(const PretrainingBatchSource&) = delete;
  PretrainingBatchSource& operator=(const PretrainingBatchSource&) = delete;

  // Blocks until the next batch is ready; rethrows an error of the producer thread.
  BatchWithState next();

  // Builds the batches of one pass synchronously, the same for the same options (evaluation: a
  // fixed set, no thread), up to max_batches.
  static std::vector<data::PretrainingBatch> fixed_batches(const data::TokenizedCorpusView& corpus,
                                                           const BatchSourceOptions& options, size_t max_batches);
  // The same batches one at a time, for passes too large to hold in memory.
  static void for_each_fixed_batch(const data::TokenizedCorpusView& corpus, const BatchSourceOptions& options,
                                   size_t max_batches, const std::function<void(const data::PretrainingBatch&)>& visit);

 private:
  void produce();
  BatchWithState build_one();

  BatchSourceOptions options_;
  data::PretrainingExampleStream stream_;
  std::mt19937_64 mask_rng_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<BatchWithState> queue_;
  std::exception_ptr error_;
  bool stop_ = false;
  std::thread worker_;
};

}  // namespace bert::train
