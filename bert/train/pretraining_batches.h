// The pre-training input pipeline: examples (NSP pairs or packed sentences) → masked, padded
// batches, built on a background thread so that tokenizing, pairing, masking and collation
// overlap the model's forward/backward. Each example is masked with a seed of its own (the run's
// seed, the epoch, its index in the epoch), so its masks do not depend on the batch it lands in:
// a data-parallel worker builds just its own examples (ExampleOptions::rank/world_size) and N
// workers see the rows and masks of one process with the whole batch. Each batch carries the
// stream position *after* it, so a checkpoint taken after consuming batch k resumes exactly at
// batch k+1.
#pragma once

#include "bert/data/collate.h"
#include "bert/data/pretraining_examples.h"

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

namespace bert::train {

struct BatchWithState {
  data::PretrainingBatch batch;
  data::StreamPosition position_after;  // where the stream stands once this batch is consumed
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
  // Starts at `position`. The corpus view must outlive the source.
  PretrainingBatchSource(const data::TokenizedCorpusView& corpus, BatchSourceOptions options,
                         data::StreamPosition position);
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
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<BatchWithState> queue_;
  std::exception_ptr error_;
  bool stop_ = false;
  std::thread worker_;
};

}  // namespace bert::train
