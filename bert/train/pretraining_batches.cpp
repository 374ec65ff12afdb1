#include "bert/train/pretraining_batches.h"

#include "bert/util/error.h"

#include <sstream>

namespace bert::train {

namespace {

std::string rng_to_string(const std::mt19937_64& rng) {
  std::ostringstream out;
  out << rng;
  return out.str();
}

// Takes up to batch_size examples, moving on to the next epoch when one ends.
std::vector<data::PretrainingExample> take_examples(data::PretrainingExampleStream& stream, int64_t batch_size,
                                                    bool allow_next_epoch) {
  std::vector<data::PretrainingExample> examples;
  examples.reserve(static_cast<size_t>(batch_size));
  data::PretrainingExample example;
  int empty_epochs = 0;
  while (static_cast<int64_t>(examples.size()) < batch_size) {
    if (stream.next(example)) {
      examples.push_back(std::move(example));
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
                                               data::StreamPosition position, const std::string& mask_rng_state)
    : options_(std::move(options)), stream_(corpus, options_.examples, options_.seed), mask_rng_(options_.seed ^ 0x6d61736bULL) {
  stream_.seek(position);
  if (!mask_rng_state.empty()) {
    std::istringstream in(mask_rng_state);
    in >> mask_rng_;
    if (!in) throw Error("checkpoint: the saved masking generator state is unreadable");
  }
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
  auto examples = take_examples(stream_, options_.batch_size, /*allow_next_epoch=*/true);
  out.batch = data::collate_and_mask(examples, options_.collate, options_.masking, mask_rng_);
  out.position_after = stream_.position();
  out.mask_rng_after = rng_to_string(mask_rng_);
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
  std::mt19937_64 rng(options.seed ^ 0x6576616cULL);
  for (size_t n = 0; n < max_batches; ++n) {
    auto examples = take_examples(stream, options.batch_size, /*allow_next_epoch=*/false);
    if (examples.empty()) break;
    visit(data::collate_and_mask(examples, options.collate, options.masking, rng));
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
