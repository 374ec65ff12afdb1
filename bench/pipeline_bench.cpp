// The data cost of a pre-training step per data-parallel worker: how long one thread takes to build
// one worker's batch (pairing/packing, masking, collation: what the background data thread of
// `bert pretrain` does) at several worker counts. Each worker builds only its own --batch-size rows
// (global examples rank, rank + W, ...); the reference column is what building the whole global
// batch (workers x --batch-size rows) costs, which every worker did before it built just its own.
// Best of --repeat passes.
//
//   cmake --build build --target pipeline_bench
//   build/pipeline_bench --corpus ../shared/data/corpus/gutenberg --tokenizer DIR [--workers "1 8 64"]
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

namespace {

// Seconds one thread takes per batch of `rows` rows for worker 0 of `world` (best of `repeat`).
double seconds_per_batch(const bert::data::TokenizedCorpusView& corpus, bert::train::BatchSourceOptions options,
                         int64_t rows, int world, int repeat) {
  options.batch_size = rows;
  options.examples.rank = 0;
  options.examples.world_size = world;
  options.prefetch = 1;  // build on demand, so next() measures the building
  bert::train::PretrainingBatchSource source(corpus, options, bert::data::StreamPosition{});
  source.next();  // the epoch's set-up (with several workers, a counting pass) is not per step
  const int per_pass = static_cast<int>(std::max<int64_t>(4, 8192 / rows));
  double best = std::numeric_limits<double>::max();
  for (int r = 0; r < repeat; ++r) {
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < per_pass; ++i) source.next();
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() / per_pass);
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace bert;
  train::PretrainOptions o;
  o.batch_size = 32;
  std::vector<int> workers = {1, 8, 64};
  int repeat = 3;
  std::string cache_dir = (std::filesystem::temp_directory_path() / "bert_pipeline_bench_cache").string();
  CLI::App app("pre-training batch building per data-parallel worker, one thread");
  app.add_option("--corpus", o.corpus, "text files or directories")->required();
  app.add_option("--tokenizer", o.tokenizer_dir, "vocab.txt or spm.model directory")->required();
  app.add_option("--seq-len", o.seq_len, "sequence length (default 128)");
  app.add_option("--batch-size", o.batch_size, "rows per worker (default 32)");
  app.add_option("--workers", workers, "worker counts to time (default 1 8 64)");
  app.add_option("--repeat", repeat, "timed passes per case; the best is shown (default 3)");
  app.add_option("--cache-dir", cache_dir, "token cache (built on the first run)");
  CLI11_PARSE(app, argc, argv);

  auto tokenizer = tokenizer::load_tokenizer(o.tokenizer_dir);
  auto cache = data::TokenCache::open(train::corpus_cache_options(o, o.corpus, cache_dir), tokenizer.get());
  const auto options = train::pretraining_batch_options(o, *tokenizer);
  std::printf("| workers | own rows (x %ld tokens): ms per batch | whole global batch: ms | ratio |\n"
              "|---|---|---|---|\n",
              static_cast<long>(o.seq_len));
  for (int world : workers) {
    const double own = seconds_per_batch(cache.view(), options, o.batch_size, world, repeat);
    const double whole = seconds_per_batch(cache.view(), options, o.batch_size * world, 1, repeat);
    std::printf("| %d | %.3f | %.3f | %.1fx |\n", world, 1000 * own, 1000 * whole, whole / own);
  }
}
