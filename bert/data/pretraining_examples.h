// Pre-training examples drawn from a tokenized corpus, afresh every epoch. With next-sentence
// prediction the construction follows Google's create_pretraining_data.py step by step (target
// length drawn once per document with a 10 % chance of a short one, sentences accumulated into a
// chunk, A = a random prefix of the chunk, B = its rest or, half of the time, text from a random
// other document with the unused sentences put back, then truncation from random ends of the longer
// side); without it (RoBERTa's FULL-SENTENCES) whole sentences are packed across documents. Google
// writes a fixed number of copies to disk; here an example is a pure function of (seed, epoch,
// document), so every epoch sees new pairs and nothing is stored. For corpora that do not fit
// anywhere twice, examples are kept as token *ranges* into the corpus (a few integers each) and
// produced shard by shard: the documents of an epoch are put in a seeded random order, cut into
// shards of about `shard_tokens` tokens, and the examples of one shard are generated and shuffled
// together, so memory is one shard's ranges plus one index per document, whatever the corpus size.
// The shuffle is therefore global over documents but local (within a shard) over examples. A
// position (epoch, index) is enough to resume exactly, and data-parallel ranks take interleaved,
// disjoint slices of the same global order.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <utility>
#include <vector>

#include "bert/data/tokenized_corpus.h"

namespace bert::data {

struct PretrainingExample {
  std::vector<uint32_t> tokens;  // NSP: [CLS] A [SEP] B [SEP]; packed: [CLS] text [SEP]
  std::vector<uint8_t> segment_ids;  // 0 for [CLS] A [SEP], 1 for B [SEP]; all 0 when packed
  // 0 = B is the actual continuation (IsNext), 1 = B is random (Hugging Face's convention),
  // -1 = no NSP target (packed mode).
  int64_t next_sentence_label = -1;

  bool operator==(const PretrainingExample& o) const {
    return tokens == o.tokens && segment_ids == o.segment_ids && next_sentence_label == o.next_sentence_label;
  }
  bool operator!=(const PretrainingExample& o) const { return !(*this == o); }
};

struct ExampleOptions {
  int64_t max_seq_len = 128;  // special tokens included
  double short_seq_prob = 0.1;  // per document (as Google): target length uniform in [2, max]
  double random_next_prob = 0.5;  // chance that B is taken from another document
  // false: RoBERTa-style packing of full sentences, no B, no NSP label. Consecutive documents in
  // one sequence are separated by [SEP] (as RoBERTa does), so the model can see the boundary.
  bool next_sentence_prediction = true;
  uint32_t cls_id = 0, sep_id = 0;  // from the tokenizer
  // Memory bound: documents are grouped into shards of at least this many tokens (one document
  // at least), whose examples are shuffled together. Larger = better mixing, more memory
  // (about 40 bytes per example of the shard). A resume position is only valid with the same value.
  uint64_t shard_tokens = uint64_t{1} << 25;
  // Data parallelism: rank r of world_size gets global examples r, r + W, r + 2W, ... and every
  // rank gets exactly floor(N / W) of the epoch's N examples (the last N mod W are dropped), so all
  // ranks run the same number of steps. world_size > 1 costs one extra counting pass per epoch.
  int64_t rank = 0, world_size = 1;
};

// Where a stream is: `index` examples of `epoch` have been handed out (to this rank). Plain
// numbers so the caller can put them in a checkpoint's JSON.
struct StreamPosition {
  uint64_t epoch = 0;
  uint64_t index = 0;
  bool operator==(const StreamPosition& o) const { return epoch == o.epoch && index == o.index; }
};

// Implementation pieces with an exact contract, exposed for the tests.
namespace detail {

uint64_t splitmix64(uint64_t& state);
// A well-mixed seed from several numbers (order matters): seeds the per-document generators.
uint64_t mix_seed(uint64_t a, uint64_t b, uint64_t c, uint64_t d = 0);

// xoshiro256**: fast to seed (one per document and epoch) and fully specified, so the examples
// are the same with any compiler and standard library (std::uniform_int_distribution and
// std::shuffle are not portable).
class Rng {
 public:
  using result_type = uint64_t;
  explicit Rng(uint64_t seed);
  uint64_t operator()();
  static constexpr uint64_t min() { return 0; }
  static constexpr uint64_t max() { return std::numeric_limits<uint64_t>::max(); }

 private:
  uint64_t s_[4];
};

// Uniform in [0, n) without modulo bias (n > 0).
uint64_t uniform_below(Rng& rng, uint64_t n);
// Uniform in [lo, hi], both included (Python's random.randint).
int64_t uniform_int(Rng& rng, int64_t lo, int64_t hi);
// Uniform in [0, 1) with 53 bits (Python's random.random).
double uniform01(Rng& rng);
// Fisher-Yates with uniform_below.
template <class T>
void shuffle(std::vector<T>& v, Rng& rng) {
  for (size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[uniform_below(rng, i)]);
}

// Google: max_num_tokens, or with probability short_seq_prob a length uniform in [2, max].
int64_t draw_target_length(Rng& rng, int64_t max_num_tokens, double short_seq_prob);

// Google's truncate_seq_pair on token ranges: while the pair is too long, drop one token from the
// front or the back (50/50) of the longer side (B when equal).
void truncate_pair(uint64_t& a_begin, uint64_t& a_end, uint64_t& b_begin, uint64_t& b_end,
                   uint64_t max_num_tokens, Rng& rng);

// One NSP example as ranges [begin, end) into TokenizedCorpusView::tokens.
struct NspSpan {
  uint64_t a_begin, a_end, b_begin, b_end;
  bool random_next;
};

// Google's create_instances_from_document for document `doc` (rng drawn from in Google's order);
// appends to `out` and returns the target length it drew. A pair with an empty side (possible only
// with empty sentences or documents, which Google's input never has) is dropped.
int64_t nsp_document_spans(const TokenizedCorpusView& corpus, size_t doc, const ExampleOptions& options,
                           Rng& rng, std::vector<NspSpan>& out);

// One packed sequence: `length` content tokens (inner [SEP]s included) starting at token
// `token_begin` of document order[order_pos], continuing into the next non-empty documents.
struct PackedSpan {
  uint64_t order_pos;
  uint64_t token_begin;
  uint64_t length;
};

// Packs the documents order[first, last) greedily: a sentence that does not fit closes the
// sequence; one longer than a whole sequence is cut into full-length pieces. Nothing is lost.
void pack_documents(const TokenizedCorpusView& corpus, const std::vector<uint32_t>& order, size_t first,
                    size_t last, const ExampleOptions& options, std::vector<PackedSpan>& out);

}  // namespace detail

// The examples of the epochs of one corpus, one at a time. Not thread-safe; one per rank.
class PretrainingExampleStream {
 public:
  // The corpus memory must outlive the stream. Throws bert::Error on invalid options.
  PretrainingExampleStream(const TokenizedCorpusView& corpus, const ExampleOptions& options, uint64_t seed);

  // Continue from `position` (a fresh epoch: {epoch, 0}). Costs a pass over the epoch's
  // documents up to there without copying tokens.
  void seek(const StreamPosition& position);
  StreamPosition position() const { return {epoch_, index_}; }

  // The next example of the current epoch (this rank's share); false at the end of the epoch
  // (the position stays; seek({epoch + 1, 0}) to go on).
  bool next(PretrainingExample& out);

  // Examples this rank gets in the current epoch / in the whole epoch (all ranks, before the
  // remainder is dropped). The first call of an epoch runs a counting pass. Epochs differ slightly.
  uint64_t num_examples();
  uint64_t global_num_examples();

  const ExampleOptions& options() const { return options_; }

 private:
  void begin_epoch(uint64_t epoch);
  bool locate(uint64_t global_index, size_t& shard);  // false: past the epoch's end
  void load_shard(size_t shard);
  void materialize(size_t local_index, PretrainingExample& out) const;

  TokenizedCorpusView corpus_;
  ExampleOptions options_;
  uint64_t seed_;

  uint64_t epoch_ = 0, index_ = 0;
  bool epoch_ready_ = false;
  std::vector<uint32_t> order_;          // the epoch's documents in random order
  std::vector<size_t> shard_bounds_;     // shard s = order_[shard_bounds_[s], shard_bounds_[s + 1])
  std::vector<uint64_t> shard_offsets_;  // global index of each shard's first example, known so far
  size_t loaded_shard_ = std::numeric_limits<size_t>::max();
  std::vector<detail::NspSpan> nsp_;     // the loaded shard's examples, shuffled (one of the two)
  std::vector<detail::PackedSpan> packed_;
};

// This rank's examples of one epoch in order (small corpora, tests): what a fresh stream yields.
std::vector<PretrainingExample> build_epoch(const TokenizedCorpusView& corpus, const ExampleOptions& options,
                                            uint64_t seed, uint64_t epoch);

}  // namespace bert::data
