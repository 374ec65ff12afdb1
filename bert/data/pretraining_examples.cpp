// Example construction (see the header). Examples are ranges into the corpus until the moment
// they are handed out, so generating a shard, counting an epoch or seeking costs random draws and
// integer arithmetic only; tokens are copied for one example at a time.
#include "bert/data/pretraining_examples.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>

#include "bert/util/error.h"

namespace bert::data {

namespace detail {

uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

uint64_t mix_seed(uint64_t a, uint64_t b, uint64_t c, uint64_t d) {
  // Chain the inputs through splitmix64 so that nearby tuples (doc 7 vs doc 8) give unrelated seeds.
  uint64_t state = a;
  uint64_t h = splitmix64(state);
  for (uint64_t v : {b, c, d}) {
    state = h ^ v;
    h = splitmix64(state);
  }
  return h;
}

namespace {
inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
}  // namespace

Rng::Rng(uint64_t seed) {
  // splitmix64 expansion never yields the all-zero state xoshiro must avoid (in practice).
  for (uint64_t& s : s_) s = splitmix64(seed);
}

uint64_t Rng::operator()() {
  const uint64_t result = rotl(s_[1] * 5, 7) * 9;
  const uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = rotl(s_[3], 45);
  return result;
}

uint64_t uniform_below(Rng& rng, uint64_t n) {
  // Reject the lowest (2^64 mod n) values so that every residue is equally likely.
  const uint64_t threshold = (0 - n) % n;
  for (;;) {
    const uint64_t x = rng();
    if (x >= threshold) return x % n;
  }
}

int64_t uniform_int(Rng& rng, int64_t lo, int64_t hi) {
  return lo + static_cast<int64_t>(uniform_below(rng, static_cast<uint64_t>(hi - lo) + 1));
}

double uniform01(Rng& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }

int64_t draw_target_length(Rng& rng, int64_t max_num_tokens, double short_seq_prob) {
  if (uniform01(rng) < short_seq_prob) return uniform_int(rng, 2, max_num_tokens);
  return max_num_tokens;
}

void truncate_pair(uint64_t& a_begin, uint64_t& a_end, uint64_t& b_begin, uint64_t& b_end,
                   uint64_t max_num_tokens, Rng& rng) {
  // One token at a time, as Google does: which end is cut is drawn per token, so a long side loses
  // a binomially split amount at both ends rather than all at one.
  for (;;) {
    const uint64_t la = a_end - a_begin, lb = b_end - b_begin;
    if (la + lb <= max_num_tokens) return;
    const bool cut_a = la > lb;
    const bool front = uniform01(rng) < 0.5;
    if (cut_a) {
      front ? ++a_begin : --a_end;
    } else {
      front ? ++b_begin : --b_end;
    }
  }
}

int64_t nsp_document_spans(const TokenizedCorpusView& corpus, size_t doc, const ExampleOptions& options,
                           Rng& rng, std::vector<NspSpan>& out) {
  const int64_t max_num_tokens = options.max_seq_len - 3;  // [CLS] A [SEP] B [SEP]
  const int64_t target = draw_target_length(rng, max_num_tokens, options.short_seq_prob);
  const size_t first = corpus.document_first_sentence(doc);
  const size_t n = corpus.document_num_sentences(doc);
  const uint64_t* starts = corpus.sentence_starts;

  // The chunk is always the contiguous sentence range [chunk_begin, i] of this document.
  size_t chunk_begin = 0;
  int64_t chunk_len = 0;
  for (size_t i = 0; i < n; ++i) {
    chunk_len += static_cast<int64_t>(corpus.sentence_length(first + i));
    if (i != n - 1 && chunk_len < target) continue;

    const size_t chunk_size = i - chunk_begin + 1;
    size_t a_end = 1;  // sentences of the chunk that go into A
    if (chunk_size >= 2) a_end = static_cast<size_t>(uniform_int(rng, 1, static_cast<int64_t>(chunk_size) - 1));
    NspSpan span{};
    span.a_begin = starts[first + chunk_begin];
    span.a_end = starts[first + chunk_begin + a_end];

    // Short-circuit as in Google: a one-sentence chunk takes a random B without a draw.
    if (chunk_size == 1 || uniform01(rng) < options.random_next_prob) {
      span.random_next = true;
      const int64_t target_b = target - static_cast<int64_t>(span.a_end - span.a_begin);
      // Up to 10 tries for another document (Google); empty documents count as misses here.
      size_t other = doc;
      for (int attempt = 0; attempt < 10; ++attempt) {
        other = static_cast<size_t>(uniform_below(rng, corpus.num_documents));
        if (other != doc && corpus.document_num_sentences(other) > 0) break;
      }
      const size_t other_n = corpus.document_num_sentences(other);
      span.b_begin = span.b_end = 0;
      if (other_n > 0) {
        const size_t other_first = corpus.document_first_sentence(other);
        const size_t start = static_cast<size_t>(uniform_int(rng, 0, static_cast<int64_t>(other_n) - 1));
        span.b_begin = span.b_end = starts[other_first + start];
        for (size_t j = start; j < other_n; ++j) {
          span.b_end = starts[other_first + j + 1];
          if (static_cast<int64_t>(span.b_end - span.b_begin) >= target_b) break;
        }
      }
      // The chunk's sentences after A were not used: the next chunk starts with them.
      i -= chunk_size - a_end;
    } else {
      span.random_next = false;
      span.b_begin = span.a_end;
      span.b_end = starts[first + i + 1];
    }
    truncate_pair(span.a_begin, span.a_end, span.b_begin, span.b_end, static_cast<uint64_t>(max_num_tokens), rng);
    if (span.a_end > span.a_begin && span.b_end > span.b_begin) out.push_back(span);

    chunk_begin = i + 1;
    chunk_len = 0;
  }
  return target;
}

namespace {
uint64_t doc_token_begin(const TokenizedCorpusView& c, size_t d) { return c.sentence_starts[c.document_starts[d]]; }
uint64_t doc_token_end(const TokenizedCorpusView& c, size_t d) { return c.sentence_starts[c.document_starts[d + 1]]; }
}  // namespace

void pack_documents(const TokenizedCorpusView& corpus, const std::vector<uint32_t>& order, size_t first,
                    size_t last, const ExampleOptions& options, std::vector<PackedSpan>& out) {
  const uint64_t budget = static_cast<uint64_t>(options.max_seq_len - 2);  // [CLS] ... [SEP]
  PackedSpan cur{0, 0, 0};
  auto close = [&] {
    if (cur.length > 0) out.push_back(cur);
    cur.length = 0;
  };
  for (size_t p = first; p < last; ++p) {
    const size_t d = order[p];
    const size_t s_first = corpus.document_first_sentence(d), s_n = corpus.document_num_sentences(d);
    bool doc_started = false;  // some sentence of d is already in a sequence
    for (size_t s = s_first; s < s_first + s_n; ++s) {
      uint64_t remaining = corpus.sentence_length(s);
      if (remaining == 0) continue;
      uint64_t pos = corpus.sentence_starts[s];
      // The open sequence holds the end of an earlier document: a [SEP] goes between them.
      uint64_t separator = (cur.length > 0 && !doc_started) ? 1 : 0;
      if (cur.length > 0 && cur.length + separator + remaining > budget) {
        close();  // whole sentences are not split across sequences ...
        separator = 0;
      }
      cur.length += separator;
      doc_started = true;
      while (remaining > 0) {  // ... unless one alone is longer than a sequence
        if (cur.length == 0) cur = PackedSpan{p, pos, 0};
        const uint64_t take = std::min(budget - cur.length, remaining);
        cur.length += take;
        pos += take;
        remaining -= take;
        if (cur.length == budget) close();
      }
    }
  }
  close();
}

}  // namespace detail

namespace {

// Stream tags keep the generators of different purposes apart for the same (seed, epoch).
constexpr uint64_t kOrderTag = 0x6f72646572ULL;     // document order
constexpr uint64_t kDocumentTag = 0x646f63ULL;      // examples of one document
constexpr uint64_t kShardTag = 0x7368617264ULL;     // example order within a shard

}  // namespace

PretrainingExampleStream::PretrainingExampleStream(const TokenizedCorpusView& corpus, const ExampleOptions& options,
                                                   uint64_t seed)
    : corpus_(corpus), options_(options), seed_(seed) {
  const auto& o = options_;
  const int64_t min_len = o.next_sentence_prediction ? 5 : 3;  // room for 2 (resp. 1) tokens of text
  if (o.max_seq_len < min_len)
    throw Error("pre-training examples: max_seq_len " + std::to_string(o.max_seq_len) + " is too small (need at least " +
                std::to_string(min_len) + ")");
  if (!(o.short_seq_prob >= 0 && o.short_seq_prob <= 1))
    throw Error("pre-training examples: short_seq_prob must be in [0, 1], got " + std::to_string(o.short_seq_prob));
  if (!(o.random_next_prob >= 0 && o.random_next_prob <= 1))
    throw Error("pre-training examples: random_next_prob must be in [0, 1], got " + std::to_string(o.random_next_prob));
  if (o.world_size < 1 || o.rank < 0 || o.rank >= o.world_size)
    throw Error("pre-training examples: rank " + std::to_string(o.rank) + " is not in [0, world_size " +
                std::to_string(o.world_size) + ")");
  if (o.shard_tokens == 0) throw Error("pre-training examples: shard_tokens must be positive");
  if (corpus_.num_documents > std::numeric_limits<uint32_t>::max())
    throw Error("pre-training examples: more than 2^32 - 1 documents (" + std::to_string(corpus_.num_documents) + ")");
}

void PretrainingExampleStream::begin_epoch(uint64_t epoch) {
  epoch_ = epoch;
  order_.resize(corpus_.num_documents);
  std::iota(order_.begin(), order_.end(), uint32_t{0});
  detail::Rng rng(detail::mix_seed(seed_, epoch, kOrderTag));
  detail::shuffle(order_, rng);

  shard_bounds_.assign(1, 0);
  uint64_t tokens = 0;
  for (size_t p = 0; p < order_.size(); ++p) {
    tokens += detail::doc_token_end(corpus_, order_[p]) - detail::doc_token_begin(corpus_, order_[p]);
    if (tokens >= options_.shard_tokens) {
      shard_bounds_.push_back(p + 1);
      tokens = 0;
    }
  }
  if (shard_bounds_.back() != order_.size()) shard_bounds_.push_back(order_.size());

  shard_offsets_.assign(1, 0);
  loaded_shard_ = std::numeric_limits<size_t>::max();
  nsp_.clear();
  packed_.clear();
  epoch_ready_ = true;
}

void PretrainingExampleStream::load_shard(size_t shard) {
  if (shard == loaded_shard_) return;
  const size_t first = shard_bounds_[shard], last = shard_bounds_[shard + 1];
  nsp_.clear();
  packed_.clear();
  size_t count;
  detail::Rng shuffle_rng(detail::mix_seed(seed_, epoch_, kShardTag, shard));
  if (options_.next_sentence_prediction) {
    for (size_t p = first; p < last; ++p) {
      // Keyed by the document, not its place: a document's pairs do not depend on the shard layout.
      detail::Rng rng(detail::mix_seed(seed_, epoch_, kDocumentTag, order_[p]));
      detail::nsp_document_spans(corpus_, order_[p], options_, rng, nsp_);
    }
    detail::shuffle(nsp_, shuffle_rng);
    count = nsp_.size();
  } else {
    detail::pack_documents(corpus_, order_, first, last, options_, packed_);
    detail::shuffle(packed_, shuffle_rng);
    count = packed_.size();
  }
  loaded_shard_ = shard;
  if (shard + 1 == shard_offsets_.size()) shard_offsets_.push_back(shard_offsets_.back() + count);
}

bool PretrainingExampleStream::locate(uint64_t global_index, size_t& shard) {
  const size_t num_shards = shard_bounds_.size() - 1;
  // Shards are counted in order, each by generating it; the last one counted stays loaded, which
  // is the one sequential reading needs next.
  while (shard_offsets_.size() - 1 < num_shards && shard_offsets_.back() <= global_index)
    load_shard(shard_offsets_.size() - 1);
  if (shard_offsets_.back() <= global_index) return false;
  shard = static_cast<size_t>(std::upper_bound(shard_offsets_.begin(), shard_offsets_.end(), global_index) -
                              shard_offsets_.begin()) - 1;
  return true;
}

uint64_t PretrainingExampleStream::global_num_examples() {
  if (!epoch_ready_) begin_epoch(epoch_);
  size_t unused;
  locate(std::numeric_limits<uint64_t>::max(), unused);
  return shard_offsets_.back();
}

uint64_t PretrainingExampleStream::num_examples() {
  const uint64_t n = global_num_examples();
  return n / static_cast<uint64_t>(options_.world_size);
}

void PretrainingExampleStream::seek(const StreamPosition& position) {
  if (!epoch_ready_ || position.epoch != epoch_) begin_epoch(position.epoch);
  index_ = position.index;
}

bool PretrainingExampleStream::next(PretrainingExample& out) {
  if (!epoch_ready_) begin_epoch(epoch_);
  const uint64_t world = static_cast<uint64_t>(options_.world_size);
  // With several ranks, every rank stops after floor(N / W) so that all run the same steps.
  if (world > 1 && index_ >= num_examples()) return false;
  const uint64_t global = index_ * world + static_cast<uint64_t>(options_.rank);
  size_t shard;
  if (!locate(global, shard)) return false;
  load_shard(shard);
  materialize(static_cast<size_t>(global - shard_offsets_[shard]), out);
  ++index_;
  return true;
}

void PretrainingExampleStream::materialize(size_t local_index, PretrainingExample& out) const {
  out.tokens.clear();
  out.segment_ids.clear();
  const uint32_t* tok = corpus_.tokens;
  if (options_.next_sentence_prediction) {
    const detail::NspSpan& s = nsp_[local_index];
    out.tokens.reserve(3 + (s.a_end - s.a_begin) + (s.b_end - s.b_begin));
    out.tokens.push_back(options_.cls_id);
    out.tokens.insert(out.tokens.end(), tok + s.a_begin, tok + s.a_end);
    out.tokens.push_back(options_.sep_id);
    const size_t len_a = out.tokens.size();
    out.tokens.insert(out.tokens.end(), tok + s.b_begin, tok + s.b_end);
    out.tokens.push_back(options_.sep_id);
    out.segment_ids.assign(out.tokens.size(), 1);
    std::fill(out.segment_ids.begin(), out.segment_ids.begin() + static_cast<std::ptrdiff_t>(len_a), 0);
    out.next_sentence_label = s.random_next ? 1 : 0;
    return;
  }
  const detail::PackedSpan& s = packed_[local_index];
  out.tokens.reserve(2 + s.length);
  out.tokens.push_back(options_.cls_id);
  size_t p = s.order_pos;
  uint64_t cursor = s.token_begin, remaining = s.length;
  for (;;) {
    const uint64_t take = std::min(detail::doc_token_end(corpus_, order_[p]) - cursor, remaining);
    out.tokens.insert(out.tokens.end(), tok + cursor, tok + cursor + take);
    remaining -= take;
    if (remaining == 0) break;
    out.tokens.push_back(options_.sep_id);  // document boundary (see pack_documents)
    --remaining;
    do {
      ++p;
    } while (detail::doc_token_end(corpus_, order_[p]) == detail::doc_token_begin(corpus_, order_[p]));
    cursor = detail::doc_token_begin(corpus_, order_[p]);
  }
  out.tokens.push_back(options_.sep_id);
  out.segment_ids.assign(out.tokens.size(), 0);
  out.next_sentence_label = -1;
}

std::vector<PretrainingExample> build_epoch(const TokenizedCorpusView& corpus, const ExampleOptions& options,
                                            uint64_t seed, uint64_t epoch) {
  PretrainingExampleStream stream(corpus, options, seed);
  stream.seek({epoch, 0});
  std::vector<PretrainingExample> examples;
  PretrainingExample e;
  while (stream.next(e)) examples.push_back(e);
  return examples;
}

}  // namespace bert::data
