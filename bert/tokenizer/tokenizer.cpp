// Batch encoding shared by every Tokenizer: texts are handed out to worker threads in small
// chunks through an atomic counter (sentence lengths vary a lot, so static slicing would leave
// threads idle), and each result is written to its own slot so the output keeps input order.
#include "bert/tokenizer/tokenizer.h"

#include <algorithm>
#include <atomic>
#include <exception>
#include <mutex>
#include <thread>

#include "bert/util/error.h"

namespace bert::tokenizer {

std::vector<Encoding> Tokenizer::encode_batch(const std::vector<std::string>& texts,
                                              const std::vector<std::string>* pairs,
                                              size_t max_length, int threads) const {
  if (pairs && pairs->size() != texts.size()) {
    throw Error("encode_batch: expected as many pairs as texts, found " +
                std::to_string(pairs->size()) + " pairs for " + std::to_string(texts.size()) +
                " texts");
  }
  std::vector<Encoding> out(texts.size());
  auto encode_one = [&](size_t i) {
    out[i] = pairs ? encode(texts[i], std::string_view((*pairs)[i]), max_length)
                   : encode(texts[i], std::nullopt, max_length);
  };

  size_t n_threads = threads > 0 ? static_cast<size_t>(threads)
                                 : std::max(1u, std::thread::hardware_concurrency());
  constexpr size_t kChunk = 64;
  n_threads = std::min(n_threads, (texts.size() + kChunk - 1) / kChunk);
  if (n_threads <= 1) {
    for (size_t i = 0; i < texts.size(); ++i) encode_one(i);
    return out;
  }

  std::atomic<size_t> next{0};
  std::exception_ptr error;
  std::mutex error_mutex;
  auto worker = [&] {
    try {
      for (;;) {
        const size_t begin = next.fetch_add(kChunk);
        if (begin >= texts.size()) return;
        const size_t end = std::min(texts.size(), begin + kChunk);
        for (size_t i = begin; i < end; ++i) encode_one(i);
      }
    } catch (...) {
      std::lock_guard<std::mutex> lock(error_mutex);
      if (!error) error = std::current_exception();
      next.store(texts.size());  // stop the other workers early
    }
  };
  std::vector<std::thread> pool;
  pool.reserve(n_threads - 1);
  for (size_t t = 1; t < n_threads; ++t) pool.emplace_back(worker);
  worker();
  for (auto& th : pool) th.join();
  if (error) std::rethrow_exception(error);
  return out;
}

std::pair<size_t, size_t> longest_first_lengths(size_t la, size_t lb, bool has_pair, size_t max_length) {
  const size_t specials = has_pair ? 3 : 2;
  if (max_length == 0 || la + lb + specials <= max_length) return {la, lb};
  if (max_length < specials) {
    throw Error("encode: max_length " + std::to_string(max_length) + " is below the " +
                std::to_string(specials) + " special tokens a " +
                (has_pair ? "pair" : "single text") + " needs");
  }
  const size_t budget = max_length - specials;
  if (!has_pair) return {std::min(la, budget), 0};
  // As the tokenizers library (transformers' tokenizers) cuts a pair: only the longer text when the
  // shorter one fits in half of the budget, else each gets half, the longer text (the pair, when
  // equal) the odd token. (transformers' old Python tokenizers gave the odd token to the first text.)
  const size_t shorter = std::min(la, lb), longer = std::max(la, lb);
  size_t keep_short = shorter, keep_long = shorter > budget ? shorter : std::max(shorter, budget - shorter);
  if (keep_short + keep_long > budget) {
    keep_short = budget / 2;
    keep_long = keep_short + budget % 2;
  }
  keep_short = std::min(keep_short, shorter);
  keep_long = std::min(keep_long, longer);
  return la > lb ? std::pair{keep_long, keep_short} : std::pair{keep_short, keep_long};
}


}  // namespace bert::tokenizer
