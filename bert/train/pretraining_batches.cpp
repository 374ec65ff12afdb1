#include "bert/train/pretraining_batches.h"

#include "bert/util/error.h"

namespace bert::train {

namespace {

// Mixed into the run's seed so that masking draws apart from the example stream's own draws.
constexpr uint64_t kMaskSalt = 0x6d61736bULL;  // "mask"
constexpr uint64_t kEvalSalt = 0x6576616cULL;  // "eval"

// Takes up to batch_size examples, moving on to the next epoch when one ends. `seeds` gets each
// example's masking seed: a function of `mask_seed`, the epoch and the example's index in the epoch
// (the same whichever worker takes it, and wherever the run was resumed).
std::vector<data::PretrainingExample> take_examples(data::PretrainingExampleStream& stream, int64_t batch_size,
                                                    bool allow_next_epoch, uint64_t mask_seed,
                                                    std::vector<uint64_t>& seeds) {
  std::vector<data::PretrainingExample> examples;
  examples.reserve(static_cast<size_t>(batch_size));
  seeds.clear();
  const auto world = static_cast<uint64_t>(stream.options().world_size);
  const auto rank = static_cast<uint64_t>(stream.options().rank);
  data::PretrainingExample example;
  int empty_epochs = 0;
  while (static_cast<int64_t>(examples.size()) < batch_size) {
    const auto at = stream.position();  // this worker's examples so far; it takes global index rank + W x that
    if (stream.next(example)) {
      examples.push_back(std::move(example));
      seeds.push_back(data::detail::mix_seed(mask_seed, at.epoch, at.index * world + rank));
      empty_epochs = 0;
      continue;
    }
    if (!allow_next_epoch) break;
    if (++empty_epochs > 1) throw Error("the corpus yields no pre-training examples (too little text?)");
    auto pos = stream.position();
    stream.seek({pos.epoch + 1, 0});
  }
  return examples;
}

}  // namespace

PretrainingBatchSource::PretrainingBatchSource(const data::TokenizedCorpusView& corpus, BatchSourceOptions options,
                                               data::StreamPosition position)
    : options_(std::move(options)), stream_(corpus, options_.examples, options_.seed) {
  stream_.seek(position);
  worker_ = std::thread([this] { produce(); });
}

PretrainingBatchSource::~PretrainingBatchSource() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  cv_.notify_all();
  if (worker_.joinable()) worker_.join();
}

BatchWithState PretrainingBatchSource::build_one() {
  BatchWithState out;
  std::vector<uint64_t> seeds;
  auto examples =
      take_examples(stream_, options_.batch_size, /*allow_next_epoch=*/true, options_.seed ^ kMaskSalt, seeds);
  out.batch = data::collate_and_mask(examples, options_.collate, options_.masking, seeds);
  out.position_after = stream_.position();
  return out;
}

void PretrainingBatchSource::produce() {
  try {
    while (true) {
      {
        std::unique_lock<std::mutex> lock(mutex_);
        cv_.wait(lock, [this] { return stop_ || queue_.size() < options_.prefetch; });
        if (stop_) return;
      }
      auto batch = build_one();
      {
        std::lock_guard<std::mutex> lock(mutex_);
        queue_.push_back(std::move(batch));
      }
      cv_.notify_all();
    }
  } catch (...) {
    std::lock_guard<std::mutex> lock(mutex_);
    error_ = std::current_exception();
    cv_.notify_all();
  }
}

BatchWithState PretrainingBatchSource::next() {
  std::unique_lock<std::mutex> lock(mutex_);
  cv_.wait(lock, [this] { return !queue_.empty() || error_; });
  if (queue_.empty() && error_) std::rethrow_exception(error_);
  auto batch = std::move(queue_.front());
  queue_.pop_front();
  lock.unlock();
  cv_.notify_all();
  return batch;
}

void PretrainingBatchSource::for_each_fixed_batch(const data::TokenizedCorpusView& corpus,
                                                  const BatchSourceOptions& options, size_t max_batches,
                                                  const std::function<void(const data::PretrainingBatch&)>& visit) {
  data::PretrainingExampleStream stream(corpus, options.examples, options.seed);
  std::vector<uint64_t> seeds;
  for (size_t n = 0; n < max_batches; ++n) {
    auto examples =
        take_examples(stream, options.batch_size, /*allow_next_epoch=*/false, options.seed ^ kEvalSalt, seeds);
    if (examples.empty()) break;
    visit(data::collate_and_mask(examples, options.collate, options.masking, seeds));
  }
}

std::vector<data::PretrainingBatch> PretrainingBatchSource::fixed_batches(const data::TokenizedCorpusView& corpus,
                                                                          const BatchSourceOptions& options,
                                                                          size_t max_batches) {
  std::vector<data::PretrainingBatch> batches;
  for_each_fixed_batch(corpus, options, max_batches, [&](const data::PretrainingBatch& b) { batches.push_back(b); });
  return batches;
}

}  // namespace bert::train
