// The pre-training batch source as data-parallel workers use it: each worker builds only its own
// examples (global examples rank, rank + W, ... of the epoch), and together the workers' batches
// hold exactly the rows of one source with the whole batch, masks included.
#include "bert/train/pretraining_batches.h"

#include "bert/data/tokenized_corpus.h"

#include <catch2/catch.hpp>

#include <random>

using namespace bert;

namespace {

constexpr int64_t kPad = 0, kCls = 1, kSep = 2, kMask = 3, kVocab = 1000;

// 40 documents of 3-8 sentences of 5-30 tokens, ids in [10, 1000).
data::InMemoryCorpus synthetic_corpus() {
  std::mt19937_64 g(3);
  std::vector<std::vector<std::vector<uint32_t>>> docs(40);
  for (auto& doc : docs) {
    doc.resize(3 + g() % 6);
    for (auto& sentence : doc) {
      sentence.resize(5 + g() % 26);
      for (auto& t : sentence) t = static_cast<uint32_t>(10 + g() % 990);
    }
  }
  return data::InMemoryCorpus(docs);
}

train::BatchSourceOptions options(int64_t batch_size, int rank, int world, bool nsp) {
  train::BatchSourceOptions o;
  o.examples.max_seq_len = 64;
  o.examples.cls_id = kCls;
  o.examples.sep_id = kSep;
  o.examples.next_sentence_prediction = nsp;
  o.examples.rank = rank;
  o.examples.world_size = world;
  o.collate.pad_id = kPad;
  o.collate.max_length = 64;
  o.masking = data::make_masking_options(kVocab, kCls, kSep, kPad, kMask);
  o.batch_size = batch_size;
  o.seed = 17;
  return o;
}

// Row i of a batch up to its padding: ids (masked), labels, segments, NSP label.
struct Row {
  std::vector<int64_t> ids, labels, segments;
  int64_t nsp = 0;
  bool operator==(const Row& o) const {
    return ids == o.ids && labels == o.labels && segments == o.segments && nsp == o.nsp;
  }
};

Row row(const data::PretrainingBatch& b, int64_t i) {
  Row r;
  for (int64_t c = 0; c < b.seq_len; ++c) {
    const auto k = static_cast<size_t>(i * b.seq_len + c);
    if (b.attention_mask[k] == 0) break;
    r.ids.push_back(b.input_ids[k]);
    r.labels.push_back(b.mlm_labels[k]);
    r.segments.push_back(b.token_type_ids[k]);
  }
  r.nsp = b.next_sentence_label[static_cast<size_t>(i)];
  return r;
}

}  // namespace

TEST_CASE("two workers' batch sources give one source's rows and masks, each building only its own", "[data][dist]") {
  const auto corpus = synthetic_corpus();
  for (bool nsp : {true, false}) {
    INFO((nsp ? "NSP pairs" : "packed sequences"));
    train::PretrainingBatchSource one(corpus.view(), options(8, 0, 1, nsp), {});
    train::PretrainingBatchSource first(corpus.view(), options(4, 0, 2, nsp), {});
    train::PretrainingBatchSource second(corpus.view(), options(4, 1, 2, nsp), {});
    size_t predicted = 0;
    for (int step = 0; step < 6; ++step) {
      INFO("step " << step);
      const auto whole = one.next(), a = first.next(), b = second.next();
      REQUIRE(a.batch.batch_size == 4);
      REQUIRE(b.batch.batch_size == 4);
      // Worker r's row j is the whole batch's row r + 2j.
      for (int64_t j = 0; j < 4; ++j) {
        CHECK(row(a.batch, j) == row(whole.batch, 2 * j));
        CHECK(row(b.batch, j) == row(whole.batch, 2 * j + 1));
      }
      CHECK(a.batch.masked_positions.size() + b.batch.masked_positions.size() == whole.batch.masked_positions.size());
      predicted += whole.batch.masked_positions.size();
      // The workers stand at the same place of their streams: rank 0's checkpoint resumes both.
      CHECK(a.position_after == b.position_after);
      CHECK(whole.position_after.index == 2 * a.position_after.index);
    }
    REQUIRE(predicted > 6 * 8);
  }
}

TEST_CASE("a batch source started at a saved position continues with the same batches", "[data]") {
  const auto corpus = synthetic_corpus();
  train::PretrainingBatchSource straight(corpus.view(), options(4, 1, 2, true), {});
  data::StreamPosition saved;
  for (int step = 0; step < 3; ++step) saved = straight.next().position_after;
  train::PretrainingBatchSource resumed(corpus.view(), options(4, 1, 2, true), saved);
  for (int step = 0; step < 3; ++step) {
    const auto x = straight.next(), y = resumed.next();
    for (int64_t j = 0; j < 4; ++j) CHECK(row(x.batch, j) == row(y.batch, j));
  }
}
