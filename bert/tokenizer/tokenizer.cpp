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

}  // namespace bert::tokenizer
