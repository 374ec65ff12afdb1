// Tests of the pre-training example stream on synthetic in-memory corpora. Every token id of a
// test corpus is its own position plus a constant, so an example can be traced back to the exact
// corpus tokens it came from: that is how the tests check that A and B are contiguous text, that
// an IsNext B follows its A in the same document, that a random B comes from another document and
// that packing loses and repeats nothing. Statistical checks (random-next rate, short targets) use
// tolerances of several standard errors.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <map>
#include <random>
#include <set>
#include <vector>

#include "bert/data/pretraining_examples.h"
#include "bert/data/tokenized_corpus.h"
#include "bert/util/error.h"

#include <ostream>

// Catch2 prints vectors through LibTorch's operator<< for std::vector, which needs the element's.
namespace bert::data {
inline std::ostream& operator<<(std::ostream& os, const PretrainingExample& e) {
  return os << "example(" << e.tokens.size() << " tokens, nsp label " << e.next_sentence_label << ")";
}
}  // namespace bert::data

using namespace bert::data;

namespace {

constexpr uint32_t kCls = 1, kSep = 2;
constexpr uint32_t kBase = 100;  // token id = kBase + position in the corpus

using Documents = std::vector<std::vector<std::vector<uint32_t>>>;

// `num_docs` documents of [min_s, max_s] sentences of [min_len, max_len] tokens each.
Documents synthetic_documents(size_t num_docs, size_t min_s, size_t max_s, size_t min_len, size_t max_len,
                              uint64_t seed = 7) {
  std::mt19937_64 g(seed);
  auto draw = [&](size_t lo, size_t hi) { return lo + static_cast<size_t>(g() % (hi - lo + 1)); };
  Documents docs(num_docs);
  uint32_t next = kBase;
  for (auto& doc : docs) {
    doc.resize(draw(min_s, max_s));
    for (auto& sentence : doc) {
      sentence.resize(draw(min_len, max_len));
      for (auto& t : sentence) t = next++;
    }
  }
  return docs;
}

// Renumbers a hand-made document list so that ids are positions again.
Documents renumber(Documents docs) {
  uint32_t next = kBase;
  for (auto& doc : docs)
    for (auto& s : doc)
      for (auto& t : s) t = next++;
  return docs;
}

ExampleOptions nsp_options(int64_t max_seq_len = 64) {
  ExampleOptions o;
  o.max_seq_len = max_seq_len;
  o.cls_id = kCls;
  o.sep_id = kSep;
  return o;
}

// Where a corpus position lies.
struct Locator {
  explicit Locator(const TokenizedCorpusView& v) : view(v) {}
  TokenizedCorpusView view;
  size_t sentence(uint64_t pos) const {
    return static_cast<size_t>(std::upper_bound(view.sentence_starts, view.sentence_starts + view.num_sentences + 1, pos) -
                               view.sentence_starts) - 1;
  }
  size_t document(uint64_t pos) const {
    const size_t s = sentence(pos);
    return static_cast<size_t>(std::upper_bound(view.document_starts, view.document_starts + view.num_documents + 1, s) -
                               view.document_starts) - 1;
  }
  bool sentence_start(uint64_t pos) const { return view.sentence_starts[sentence(pos)] == pos; }
  bool sentence_end(uint64_t last) const { return view.sentence_starts[sentence(last) + 1] == last + 1; }
};

std::vector<uint64_t> positions(std::vector<uint32_t>::const_iterator b, std::vector<uint32_t>::const_iterator e) {
  std::vector<uint64_t> p;
  for (; b != e; ++b) p.push_back(*b - kBase);
  return p;
}

bool contiguous(const std::vector<uint64_t>& p) {
  for (size_t i = 1; i < p.size(); ++i)
    if (p[i] != p[i - 1] + 1) return false;
  return true;
}

struct Pair {
  std::vector<uint64_t> a, b;
};

// Checks the [CLS] A [SEP] B [SEP] layout and returns A's and B's corpus positions.
Pair check_nsp_layout(const PretrainingExample& e, int64_t max_seq_len) {
  REQUIRE(e.tokens.size() == e.segment_ids.size());
  REQUIRE(static_cast<int64_t>(e.tokens.size()) <= max_seq_len);
  REQUIRE(e.tokens.front() == kCls);
  REQUIRE(e.tokens.back() == kSep);
  REQUIRE(std::count(e.tokens.begin(), e.tokens.end(), kSep) == 2);
  REQUIRE(std::count(e.tokens.begin(), e.tokens.end(), kCls) == 1);
  const auto first_sep = std::find(e.tokens.begin(), e.tokens.end(), kSep);
  const size_t len_a = static_cast<size_t>(first_sep - e.tokens.begin()) + 1;  // [CLS] A [SEP]
  for (size_t i = 0; i < e.segment_ids.size(); ++i) REQUIRE(e.segment_ids[i] == (i < len_a ? 0 : 1));
  REQUIRE((e.next_sentence_label == 0 || e.next_sentence_label == 1));
  Pair p{positions(e.tokens.begin() + 1, first_sep), positions(first_sep + 1, e.tokens.end() - 1)};
  REQUIRE(!p.a.empty());
  REQUIRE(!p.b.empty());
  REQUIRE(contiguous(p.a));
  REQUIRE(contiguous(p.b));
  return p;
}

std::vector<PretrainingExample> read_all(PretrainingExampleStream& s) {
  std::vector<PretrainingExample> out;
  PretrainingExample e;
  while (s.next(e)) out.push_back(e);
  return out;
}

}  // namespace

TEST_CASE("NSP examples are well-formed and trace back to Google's construction", "[data][examples]") {
  const InMemoryCorpus corpus(synthetic_documents(200, 5, 60, 1, 25));
  const auto view = corpus.view();
  const Locator loc(view);
  for (int64_t max_len : {16, 64, 128}) {
    INFO("max_seq_len " << max_len);
    const auto o = nsp_options(max_len);
    const uint64_t max_num_tokens = static_cast<uint64_t>(max_len - 3);
    size_t untruncated_next = 0, untruncated_random = 0;
    for (const auto& e : build_epoch(view, o, 11, 0)) {
      const Pair p = check_nsp_layout(e, max_len);
      const size_t doc_a = loc.document(p.a.front());
      REQUIRE(loc.document(p.a.back()) == doc_a);
      const size_t doc_b = loc.document(p.b.front());
      REQUIRE(loc.document(p.b.back()) == doc_b);
      // A pair shorter than the limit was never truncated: whole sentences on both sides.
      const bool untruncated = p.a.size() + p.b.size() < max_num_tokens;
      if (e.next_sentence_label == 0) {
        REQUIRE(doc_b == doc_a);
        REQUIRE(p.b.front() > p.a.back());
        if (untruncated) {
          ++untruncated_next;
          REQUIRE(loc.sentence_start(p.a.front()));
          REQUIRE(p.b.front() == p.a.back() + 1);  // B is exactly what follows A
          REQUIRE(loc.sentence_start(p.b.front()));
          REQUIRE(loc.sentence_end(p.b.back()));
        }
      } else {
        REQUIRE(doc_b != doc_a);  // 200 documents: 10 misses in a row never happen
        if (untruncated) {
          ++untruncated_random;
          REQUIRE(loc.sentence_start(p.a.front()));
          REQUIRE(loc.sentence_end(p.a.back()));
          REQUIRE(loc.sentence_start(p.b.front()));
          REQUIRE(loc.sentence_end(p.b.back()));
        }
      }
    }
    CHECK(untruncated_next > 0);
    CHECK(untruncated_random > 0);
  }
}

TEST_CASE("about half of the examples have a random B", "[data][examples]") {
  // Long documents of short sentences make one-sentence chunks (always random) rare, so the rate
  // is close to random_next_prob; short targets are off to keep it so.
  const InMemoryCorpus corpus(synthetic_documents(200, 30, 60, 3, 15));
  auto o = nsp_options(64);
  o.short_seq_prob = 0;
  size_t random = 0, total = 0;
  for (uint64_t epoch = 0; epoch < 4; ++epoch)
    for (const auto& e : build_epoch(corpus.view(), o, 3, epoch)) {
      random += e.next_sentence_label == 1;
      ++total;
    }
  REQUIRE(total > 4000);
  const double rate = static_cast<double>(random) / static_cast<double>(total);
  INFO("random-next rate " << rate << " over " << total);
  CHECK(rate > 0.47);
  CHECK(rate < 0.56);
}

TEST_CASE("about 10 % of documents get a short target length", "[data][examples]") {
  const int64_t max_num_tokens = 125;
  bert::data::detail::Rng rng(5);
  size_t short_count = 0;
  const size_t n = 200000;
  std::vector<size_t> histogram(max_num_tokens + 1);
  for (size_t i = 0; i < n; ++i) {
    const int64_t t = bert::data::detail::draw_target_length(rng, max_num_tokens, 0.1);
    REQUIRE(t >= 2);
    REQUIRE(t <= max_num_tokens);
    short_count += t < max_num_tokens;
    ++histogram[static_cast<size_t>(t)];
  }
  // Short draws are uniform on [2, 125], one of which is 125 itself.
  const double expected = 0.1 * (1.0 - 1.0 / 124.0);
  CHECK(static_cast<double>(short_count) / n == Approx(expected).margin(0.004));
  CHECK(histogram[2] > 0);

  // And through the per-document construction, which draws it once per document (as Google).
  const InMemoryCorpus corpus(synthetic_documents(2000, 1, 3, 1, 10));
  const auto o = nsp_options(128);
  size_t short_docs = 0;
  std::vector<bert::data::detail::NspSpan> spans;
  for (size_t d = 0; d < 2000; ++d) {
    bert::data::detail::Rng doc_rng(bert::data::detail::mix_seed(9, 0, d));
    short_docs += bert::data::detail::nsp_document_spans(corpus.view(), d, o, doc_rng, spans) < max_num_tokens;
  }
  CHECK(static_cast<double>(short_docs) / 2000 == Approx(expected).margin(0.025));

  // A short target shows in the examples: with short_seq_prob = 1 they are much shorter.
  const InMemoryCorpus long_docs(synthetic_documents(100, 40, 60, 3, 15));
  auto mean_len = [&](double p) {
    auto opt = nsp_options(128);
    opt.short_seq_prob = p;
    const auto ex = build_epoch(long_docs.view(), opt, 1, 0);
    double sum = 0;
    for (const auto& e : ex) sum += static_cast<double>(e.tokens.size());
    return sum / static_cast<double>(ex.size());
  };
  CHECK(mean_len(1.0) < 0.75 * mean_len(0.0));
}

TEST_CASE("truncate_pair cuts the longer side until the pair fits", "[data][examples]") {
  bert::data::detail::Rng rng(1);
  for (int trial = 0; trial < 200; ++trial) {
    const uint64_t la = bert::data::detail::uniform_below(rng, 100) + 1, lb = bert::data::detail::uniform_below(rng, 100) + 1;
    uint64_t a0 = 1000, a1 = 1000 + la, b0 = 5000, b1 = 5000 + lb;
    const uint64_t max = 61;
    bert::data::detail::truncate_pair(a0, a1, b0, b1, max, rng);
    REQUIRE((a1 - a0) + (b1 - b0) == std::min<uint64_t>(la + lb, max));
    REQUIRE(a0 >= 1000);
    REQUIRE(a1 <= 1000 + la);
    REQUIRE(b0 >= 5000);
    REQUIRE(b1 <= 5000 + lb);
    if (la + lb > max) {
      // The longer side is cut first: the two end at most one token apart unless one was short.
      // Ties cut B, so when both were cut they end equal or A one longer; a side that was never
      // cut was never the longer one.
      const uint64_t na = a1 - a0, nb = b1 - b0;
      if (na != la && nb != lb) REQUIRE((na == nb || na == nb + 1));
      if (na == la) REQUIRE(nb + 1 >= la);
      if (nb == lb) REQUIRE(na >= lb);
    }
  }
}

TEST_CASE("epochs differ, (seed, epoch) is reproducible", "[data][examples]") {
  const InMemoryCorpus corpus(synthetic_documents(200, 5, 40, 2, 20));
  const auto o = nsp_options(64);
  const auto e0 = build_epoch(corpus.view(), o, 42, 0);
  const auto e0_again = build_epoch(corpus.view(), o, 42, 0);
  const auto e1 = build_epoch(corpus.view(), o, 42, 1);
  const auto other_seed = build_epoch(corpus.view(), o, 43, 0);
  REQUIRE(e0 == e0_again);
  REQUIRE(e0 != e1);
  REQUIRE(e0 != other_seed);
  // Not just reordered: the pairs themselves are new.
  std::set<std::vector<uint32_t>> s0, s1;
  for (const auto& e : e0) s0.insert(e.tokens);
  for (const auto& e : e1) s1.insert(e.tokens);
  size_t shared = 0;
  for (const auto& t : s1) shared += s0.count(t);
  CHECK(shared < s1.size() / 2);
}

TEST_CASE("a document's pairs do not depend on the shard layout", "[data][examples]") {
  const InMemoryCorpus corpus(synthetic_documents(120, 5, 40, 2, 20));
  auto o = nsp_options(64);
  auto one_shard = build_epoch(corpus.view(), o, 5, 2);
  o.shard_tokens = 500;
  auto many_shards = build_epoch(corpus.view(), o, 5, 2);
  REQUIRE(one_shard != many_shards);  // another order ...
  auto key = [](const PretrainingExample& e) { return std::make_pair(e.tokens, e.next_sentence_label); };
  std::multiset<std::pair<std::vector<uint32_t>, int64_t>> a, b;
  for (const auto& e : one_shard) a.insert(key(e));
  for (const auto& e : many_shards) b.insert(key(e));
  REQUIRE(a == b);  // ... of the same examples
}

TEST_CASE("seeking to (epoch, k) continues exactly where iteration would", "[data][examples]") {
  const InMemoryCorpus corpus(synthetic_documents(150, 3, 30, 2, 20));
  for (bool nsp : {true, false}) {
    INFO("nsp " << nsp);
    auto o = nsp_options(48);
    o.next_sentence_prediction = nsp;
    o.shard_tokens = 1500;  // several shards
    PretrainingExampleStream full(corpus.view(), o, 77);
    full.seek({3, 0});
    const auto all = read_all(full);
    REQUIRE(all.size() > 100);
    REQUIRE(full.position() == StreamPosition{3, all.size()});
    REQUIRE(full.num_examples() == all.size());
    REQUIRE(full.global_num_examples() == all.size());

    PretrainingExampleStream resumed(corpus.view(), o, 77);
    PretrainingExample e;
    for (uint64_t k : {uint64_t{0}, uint64_t{1}, uint64_t{37}, uint64_t{all.size() / 2}, uint64_t{all.size() - 1},
                       uint64_t{5}}) {  // backwards too
      resumed.seek({3, k});
      REQUIRE(resumed.next(e));
      REQUIRE(e == all[k]);
      if (k + 1 < all.size()) {  // and goes on from there
        REQUIRE(resumed.next(e));
        REQUIRE(e == all[k + 1]);
      } else {
        REQUIRE_FALSE(resumed.next(e));
      }
    }
    resumed.seek({3, all.size()});
    REQUIRE_FALSE(resumed.next(e));
    REQUIRE(resumed.position() == StreamPosition{3, all.size()});

    // A fresh stream resumed mid-epoch reads the rest identically.
    PretrainingExampleStream fresh(corpus.view(), o, 77);
    fresh.seek({3, 60});
    const auto rest = read_all(fresh);
    REQUIRE(rest == std::vector<PretrainingExample>(all.begin() + 60, all.end()));
  }
}

TEST_CASE("ranks get disjoint, equal, interleaved slices of the epoch", "[data][examples]") {
  const InMemoryCorpus corpus(synthetic_documents(200, 3, 30, 2, 20));
  for (bool nsp : {true, false}) {
    INFO("nsp " << nsp);
    auto o = nsp_options(64);
    o.next_sentence_prediction = nsp;
    o.shard_tokens = 3000;
    const auto all = build_epoch(corpus.view(), o, 8, 1);
    for (int64_t world : {2, 3, 7}) {
      INFO("world " << world);
      const size_t per_rank = all.size() / static_cast<size_t>(world);
      std::vector<bool> covered(all.size());
      for (int64_t rank = 0; rank < world; ++rank) {
        o.rank = rank;
        o.world_size = world;
        PretrainingExampleStream s(corpus.view(), o, 8);
        s.seek({1, 0});
        REQUIRE(s.num_examples() == per_rank);
        const auto mine = read_all(s);
        REQUIRE(mine.size() == per_rank);
        for (size_t i = 0; i < mine.size(); ++i) {
          const size_t g = i * static_cast<size_t>(world) + static_cast<size_t>(rank);
          REQUIRE(mine[i] == all[g]);
          REQUIRE_FALSE(covered[g]);
          covered[g] = true;
        }
        // Resuming a rank uses its own index.
        PretrainingExampleStream r(corpus.view(), o, 8);
        r.seek({1, per_rank / 2});
        PretrainingExample e;
        REQUIRE(r.next(e));
        REQUIRE(e == mine[per_rank / 2]);
      }
      // Everything but the remainder (< world examples at the end) is covered.
      REQUIRE(static_cast<size_t>(std::count(covered.begin(), covered.end(), true)) == per_rank * world);
      REQUIRE(std::all_of(covered.begin(), covered.begin() + static_cast<std::ptrdiff_t>(per_rank * world),
                          [](bool c) { return c; }));
      o.rank = 0;
      o.world_size = 1;
    }
  }
}

TEST_CASE("no-NSP mode packs full sentences across documents without losing any", "[data][examples]") {
  // Mostly ordinary documents, plus one sentence longer than a whole sequence and some empty parts.
  Documents docs = synthetic_documents(150, 1, 20, 1, 30);
  docs[3] = {std::vector<uint32_t>(300)};
  docs[4].push_back({});
  docs[5].clear();
  const InMemoryCorpus corpus(renumber(docs));
  const auto view = corpus.view();
  const Locator loc(view);
  for (uint64_t shard_tokens : {uint64_t{1} << 25, uint64_t{700}}) {
    auto o = nsp_options(64);
    o.next_sentence_prediction = false;
    o.shard_tokens = shard_tokens;
    const auto examples = build_epoch(view, o, 4, 0);
    std::vector<int> seen(view.num_tokens);
    size_t content = 0, inner_seps = 0;
    for (const auto& e : examples) {
      REQUIRE(static_cast<int64_t>(e.tokens.size()) <= 64);
      REQUIRE(e.tokens.size() >= 3);
      REQUIRE(e.tokens.front() == kCls);
      REQUIRE(e.tokens.back() == kSep);
      REQUIRE(e.next_sentence_label == -1);
      REQUIRE(std::all_of(e.segment_ids.begin(), e.segment_ids.end(), [](uint8_t s) { return s == 0; }));
      REQUIRE(e.segment_ids.size() == e.tokens.size());
      content += e.tokens.size() - 2;
      // Runs between [SEP]s are contiguous text of one document; a [SEP] inside separates documents.
      std::vector<uint64_t> run;
      size_t prev_doc = SIZE_MAX;
      for (size_t i = 1; i < e.tokens.size(); ++i) {
        if (e.tokens[i] != kSep) {
          REQUIRE(e.tokens[i] != kCls);
          run.push_back(e.tokens[i] - kBase);
          continue;
        }
        REQUIRE(!run.empty());
        REQUIRE(contiguous(run));
        const size_t doc = loc.document(run.front());
        REQUIRE(loc.document(run.back()) == doc);
        REQUIRE(doc != prev_doc);
        if (i + 1 < e.tokens.size()) {  // an inner [SEP]: the run ends its document, the next starts one
          ++inner_seps;
          REQUIRE(run.back() + 1 == view.sentence_starts[view.document_starts[doc + 1]]);
        }
        if (prev_doc != SIZE_MAX) REQUIRE(run.front() == view.sentence_starts[view.document_starts[doc]]);
        for (uint64_t p : run) ++seen[p];
        prev_doc = doc;
        run.clear();
      }
    }
    // Every corpus token exactly once.
    REQUIRE(std::all_of(seen.begin(), seen.end(), [](int c) { return c == 1; }));
    CHECK(inner_seps > 0);
    // Greedy packing of sentences up to 30 tokens fills most of each sequence.
    CHECK(static_cast<double>(content) > 0.75 * 62 * static_cast<double>(examples.size()));
    // Each epoch packs another document order.
    REQUIRE(build_epoch(view, o, 4, 1) != examples);
  }
}

TEST_CASE("empty documents and sentences are harmless", "[data][examples]") {
  Documents docs = synthetic_documents(40, 1, 10, 1, 12);
  docs[0].clear();
  docs[7] = {{}, {}};
  docs[8].insert(docs[8].begin(), std::vector<uint32_t>{});
  docs.push_back({});
  const InMemoryCorpus corpus(renumber(docs));
  const auto o = nsp_options(32);
  const auto ex = build_epoch(corpus.view(), o, 1, 0);
  REQUIRE(!ex.empty());
  for (const auto& e : ex) check_nsp_layout(e, 32);

  // No documents at all: an empty epoch.
  const InMemoryCorpus empty(Documents{});
  REQUIRE(build_epoch(empty.view(), o, 1, 0).empty());
}

TEST_CASE("invalid example options are rejected", "[data][examples]") {
  const InMemoryCorpus corpus(synthetic_documents(5, 1, 3, 1, 5));
  auto bad = [&](auto change) {
    auto o = nsp_options(32);
    change(o);
    return o;
  };
  using O = ExampleOptions;
  REQUIRE_THROWS_AS(PretrainingExampleStream(corpus.view(), bad([](O& o) { o.max_seq_len = 4; }), 1), bert::Error);
  REQUIRE_THROWS_AS(PretrainingExampleStream(corpus.view(), bad([](O& o) { o.short_seq_prob = 1.5; }), 1), bert::Error);
  REQUIRE_THROWS_AS(PretrainingExampleStream(corpus.view(), bad([](O& o) { o.rank = 2; o.world_size = 2; }), 1),
                    bert::Error);
  REQUIRE_THROWS_AS(PretrainingExampleStream(corpus.view(), bad([](O& o) { o.world_size = 0; }), 1), bert::Error);
  REQUIRE_THROWS_AS(PretrainingExampleStream(corpus.view(), bad([](O& o) { o.shard_tokens = 0; }), 1), bert::Error);
  REQUIRE_NOTHROW(PretrainingExampleStream(corpus.view(), bad([](O& o) { o.max_seq_len = 5; }), 1));
}

TEST_CASE("example generators are portable and unbiased", "[data][examples]") {
  // Pinned outputs: the stream must not change with the compiler or standard library.
  bert::data::detail::Rng rng(0);
  const uint64_t first = rng();
  bert::data::detail::Rng again(0);
  REQUIRE(again() == first);
  uint64_t state = 0;
  REQUIRE(bert::data::detail::splitmix64(state) == 0xe220a8397b1dcdafULL);  // splitmix64's reference first output
  // uniform_int covers [lo, hi] evenly.
  std::vector<int> counts(7);
  for (int i = 0; i < 70000; ++i) ++counts[static_cast<size_t>(bert::data::detail::uniform_int(rng, 3, 9) - 3)];
  for (int c : counts) CHECK(c == Approx(10000).margin(500));
  for (int i = 0; i < 1000; ++i) {
    const double u = bert::data::detail::uniform01(rng);
    REQUIRE(u >= 0);
    REQUIRE(u < 1);
  }
}
