// How fast one thread builds pre-training batches (pairing/packing, masking, collation: what the
// background data thread of `bert pretrain` does), by global batch size. In a multi-process run
// every worker builds the whole global batch (workers x --batch-size rows) and trains on its own
// rows, so this is the per-worker data cost of a step at that many workers. Best of --repeat.
//
//   cmake --build build --target pipeline_bench
//   build/pipeline_bench --corpus ../shared/data/corpus/gutenberg --tokenizer DIR [--rows "256 1024 2048"]
#include "bert/data/token_cache.h"
#include "bert/tokenizer/load.h"
#include "bert/train/pretrain.h"
#include "bert/train/pretraining_batches.h"
#include "bert/train/pretraining_eval.h"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <limits>

int main(int argc, char** argv) {
  using namespace bert;
  train::PretrainOptions o;
  std::vector<int64_t> rows = {256, 1024, 2048};
  int repeat = 3;
  std::string cache_dir = (std::filesystem::temp_directory_path() / "bert_pipeline_bench_cache").string();
  CLI::App app("pre-training batches per second on one thread");
  app.add_option("--corpus", o.corpus, "text files or directories")->required();
  app.add_option("--tokenizer", o.tokenizer_dir, "vocab.txt or spm.model directory")->required();
  app.add_option("--seq-len", o.seq_len, "sequence length (default 128)");
  app.add_option("--rows", rows, "global batch sizes to time (default 256 1024 2048)");
  app.add_option("--repeat", repeat, "timed passes per size; the best is shown (default 3)");
  app.add_option("--cache-dir", cache_dir, "token cache (built on the first run)");
  CLI11_PARSE(app, argc, argv);

  auto tokenizer = tokenizer::load_tokenizer(o.tokenizer_dir);
  auto cache = data::TokenCache::open(train::corpus_cache_options(o, o.corpus, cache_dir), tokenizer.get());
  std::printf("| global batch (rows x %ld) | ms per batch | rows/s | workers of 32 rows |\n|---|---|---|---|\n",
              static_cast<long>(o.seq_len));
  for (int64_t batch : rows) {
    auto options = train::pretraining_batch_options(o, *tokenizer);
    options.batch_size = batch;
    options.prefetch = 1;  // build on demand, so next() measures the building
    train::PretrainingBatchSource source(cache.view(), options, data::StreamPosition{}, "");
    source.next();
    const int per_pass = static_cast<int>(std::max<int64_t>(4, 8192 / batch));
    double best = std::numeric_limits<double>::max();
    for (int r = 0; r < repeat; ++r) {
      const auto start = std::chrono::steady_clock::now();
      for (int i = 0; i < per_pass; ++i) source.next();
      best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() / per_pass);
    }
    std::printf("| %ld | %.2f | %.0f | %ld |\n", static_cast<long>(batch), 1000 * best, batch / best,
                static_cast<long>(batch / 32));
  }
}
