// Tests of dynamic MLM masking and of batch collation. Masking is checked statistically on large
// synthetic batches (selection rate, 80/10/10 split, with tolerances of several standard errors)
// and exactly where the rule is exact: Google's per-row count and cap, specials never touched,
// random replacements never special, whole words masked as a unit, labels = original ids,
// positions = labelled cells, and the same generator state giving the same masks.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <random>
#include <set>
#include <sstream>
#include <vector>

#include "bert/data/collate.h"
#include "bert/data/masking.h"
#include "bert/util/error.h"

using namespace bert::data;

namespace {

constexpr int64_t kVocab = 1000, kPad = 0, kCls = 1, kSep = 2, kMask = 3, kUnk = 4;
constexpr int64_t kFirstWord = 10;  // ordinary ids are [10, 1000)

MaskingOptions options(int64_t max_predictions) {
  MaskingOptions o = make_masking_options(kVocab, kCls, kSep, kPad, kMask);
  o.max_predictions = max_predictions;
  return o;
}

bool is_special(int64_t id) { return id == kPad || id == kCls || id == kSep || id == kMask; }

// rows x cols: [CLS] a... [SEP] b... [SEP] [PAD]..., random lengths, ordinary ids only.
std::vector<int64_t> random_batch(int64_t rows, int64_t cols, uint64_t seed, bool full = false) {
  std::mt19937_64 g(seed);
  std::vector<int64_t> ids(static_cast<size_t>(rows * cols), kPad);
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t len = full ? cols : 5 + static_cast<int64_t>(g() % static_cast<uint64_t>(cols - 4));
    const int64_t sep1 = 1 + static_cast<int64_t>(g() % static_cast<uint64_t>(len - 3)) + 1;
    int64_t* row = ids.data() + r * cols;
    for (int64_t i = 0; i < len; ++i) row[i] = kFirstWord + static_cast<int64_t>(g() % (kVocab - kFirstWord));
    row[0] = kCls;
    row[sep1] = kSep;
    row[len - 1] = kSep;
  }
  return ids;
}

// Structural invariants that hold for every mode.
void check_invariants(const std::vector<int64_t>& in, const MaskedBatch& m) {
  REQUIRE(m.input_ids.size() == in.size());
  REQUIRE(m.labels.size() == in.size());
  std::vector<int64_t> labelled;
  for (size_t i = 0; i < in.size(); ++i) {
    if (is_special(in[i])) {
      REQUIRE(m.labels[i] == kIgnoreIndex);  // specials never predicted ...
      REQUIRE(m.input_ids[i] == in[i]);      // ... nor changed
    }
    if (m.labels[i] != kIgnoreIndex) {
      REQUIRE(m.labels[i] == in[i]);  // labels hold the original id
      labelled.push_back(static_cast<int64_t>(i));
      if (m.input_ids[i] != kMask) REQUIRE_FALSE(is_special(m.input_ids[i]));  // random tokens never special
    } else {
      REQUIRE(m.input_ids[i] == in[i]);  // unselected tokens untouched
    }
  }
  REQUIRE(m.masked_positions == labelled);
}

}  // namespace

TEST_CASE("Hugging Face mode: each token with probability p, 80/10/10", "[data][masking]") {
  const int64_t rows = 2000, cols = 128;
  const auto in = random_batch(rows, cols, 1);
  std::mt19937_64 rng(123);
  // One generator for the batch, or one per row seeded 0, 1, 2, ... (as the pre-training batches
  // are, with well-mixed seeds; consecutive ones are the harder case for the statistics).
  std::vector<uint64_t> row_seeds(static_cast<size_t>(rows));
  for (size_t r = 0; r < row_seeds.size(); ++r) row_seeds[r] = r;
  const bool per_row = GENERATE(false, true);
  INFO((per_row ? "a generator per row" : "one generator"));
  const auto m =
      per_row ? mask_tokens(in, rows, cols, options(0), row_seeds) : mask_tokens(in, rows, cols, options(0), rng);
  check_invariants(in, m);

  size_t candidates = 0, selected = 0, masked = 0, random = 0, kept = 0;
  for (size_t i = 0; i < in.size(); ++i) {
    if (is_special(in[i])) continue;
    ++candidates;
    if (m.labels[i] == kIgnoreIndex) continue;
    ++selected;
    if (m.input_ids[i] == kMask)
      ++masked;
    else if (m.input_ids[i] != in[i])
      ++random;
    else
      ++kept;
  }
  const double rate = static_cast<double>(selected) / static_cast<double>(candidates);
  INFO("selected " << selected << " of " << candidates);
  CHECK(rate == Approx(0.15).margin(0.005));
  const double n = static_cast<double>(selected);
  CHECK(masked / n == Approx(0.8).margin(0.01));
  // A random draw equal to the original looks "kept": 1 in 996.
  CHECK(random / n == Approx(0.1 * (1 - 1.0 / 996)).margin(0.008));
  CHECK(kept / n == Approx(0.1 * (1 + 1.0 / 996)).margin(0.008));
}

TEST_CASE("Google mode: exactly min(cap, max(1, round(n p))) per sequence", "[data][masking]") {
  const int64_t rows = 500, cols = 128;
  const auto in = random_batch(rows, cols, 2);
  for (int64_t cap : {20, 7}) {
    INFO("max_predictions " << cap);
    std::mt19937_64 rng(9);
    std::vector<uint64_t> row_seeds(static_cast<size_t>(rows));
    for (size_t r = 0; r < row_seeds.size(); ++r) row_seeds[r] = 1000 + r;
    const bool per_row = GENERATE(false, true);
    INFO((per_row ? "a generator per row" : "one generator"));
    const auto m =
        per_row ? mask_tokens(in, rows, cols, options(cap), row_seeds) : mask_tokens(in, rows, cols, options(cap), rng);
    check_invariants(in, m);
    size_t masked = 0, total = 0;
    for (int64_t r = 0; r < rows; ++r) {
      int64_t n_tokens = 0, predicted = 0;
      for (int64_t c = 0; c < cols; ++c) {
        const size_t i = static_cast<size_t>(r * cols + c);
        n_tokens += in[i] != kPad;
        if (m.labels[i] != kIgnoreIndex) {
          ++predicted;
          masked += m.input_ids[i] == kMask;
        }
      }
      REQUIRE(predicted == bert::data::detail::num_to_predict(n_tokens, 0.15, cap));
      REQUIRE(predicted <= cap);
      total += static_cast<size_t>(predicted);
    }
    CHECK(static_cast<double>(masked) / static_cast<double>(total) == Approx(0.8).margin(0.02));
  }
}

TEST_CASE("num_to_predict follows Google's formula with Python's rounding", "[data][masking]") {
  CHECK(bert::data::detail::num_to_predict(128, 0.15, 20) == 19);    // 19.2
  CHECK(bert::data::detail::num_to_predict(200, 0.15, 20) == 20);    // capped
  CHECK(bert::data::detail::num_to_predict(200, 0.15, 0) == 30);     // uncapped
  CHECK(bert::data::detail::num_to_predict(3, 0.15, 20) == 1);       // at least one
  CHECK(bert::data::detail::num_to_predict(5, 0.5, 0) == 2);         // 2.5 rounds to even
  CHECK(bert::data::detail::num_to_predict(7, 0.5, 0) == 4);         // 3.5 rounds to even
  CHECK(bert::data::detail::num_to_predict(0, 0.15, 20) == 0);
  CHECK(bert::data::detail::num_to_predict(50, 0.0, 20) == 0);
}

TEST_CASE("random replacements are uniform over the non-special vocabulary", "[data][masking]") {
  std::vector<int64_t> specials = {0, 1, 2, 3, 7, 999};
  // nth_non_special enumerates the complement in order.
  std::vector<int64_t> complement;
  for (int64_t id = 0; id < kVocab; ++id)
    if (!std::binary_search(specials.begin(), specials.end(), id)) complement.push_back(id);
  for (size_t k = 0; k < complement.size(); ++k)
    REQUIRE(bert::data::detail::nth_non_special(static_cast<int64_t>(k), specials) == complement[k]);

  // All selected tokens replaced at random: none special, the whole range reached.
  auto o = options(0);
  o.special_ids = {0, 1, 2, 3, 7, 999};
  o.mlm_probability = 1.0;
  o.mask_token_ratio = 0;
  o.random_token_ratio = 1.0;
  const auto in = random_batch(400, 128, 3, true);
  std::mt19937_64 rng(4);
  const auto m = mask_tokens(in, 400, 128, o, rng);
  std::set<int64_t> seen;
  for (size_t i = 0; i < in.size(); ++i) {
    if (m.labels[i] == kIgnoreIndex) continue;
    REQUIRE_FALSE(std::binary_search(specials.begin(), specials.end(), m.input_ids[i]));
    REQUIRE(m.input_ids[i] >= 0);
    REQUIRE(m.input_ids[i] < kVocab);
    seen.insert(m.input_ids[i]);
  }
  CHECK(seen.size() == complement.size());  // 51k draws over 994 ids
  CHECK(*seen.begin() == 4);
  CHECK(*seen.rbegin() == 998);
}

TEST_CASE("whole-word masking selects words as units", "[data][masking]") {
  // Ids 500..999 continue a word (like "##x"); a continuation right after a special starts one.
  auto o = options(20);
  o.is_continuation.assign(kVocab, false);
  for (int64_t id = 500; id < kVocab; ++id) o.is_continuation[static_cast<size_t>(id)] = true;
  const int64_t rows = 800, cols = 64;
  const auto in = random_batch(rows, cols, 5);
  std::mt19937_64 rng(6);
  const auto m = mask_tokens(in, rows, cols, o, rng);
  check_invariants(in, m);

  size_t multi_piece_words_masked = 0;
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t* row = in.data() + r * cols;
    std::vector<bool> candidate(cols);
    int64_t n_tokens = 0;
    for (int64_t c = 0; c < cols; ++c) {
      candidate[c] = !is_special(row[c]);
      n_tokens += row[c] != kPad;
    }
    const auto words = bert::data::detail::word_spans(row, cols, candidate, o.is_continuation);
    int64_t predicted = 0;
    for (const auto& [start, len] : words) {
      // A word is one piece that starts a word plus the continuations after it.
      REQUIRE((!o.is_continuation[row[start]] || start == 0 || !candidate[start - 1]));
      for (int64_t c = start + 1; c < start + len; ++c) REQUIRE(o.is_continuation[row[c]]);
      if (start + len < cols && candidate[start + len]) REQUIRE_FALSE(o.is_continuation[row[start + len]]);
      const size_t first = static_cast<size_t>(r * cols + start);
      const bool chosen = m.labels[first] != kIgnoreIndex;
      for (int64_t c = start; c < start + len; ++c)
        REQUIRE((m.labels[static_cast<size_t>(r * cols + c)] != kIgnoreIndex) == chosen);
      if (chosen) {
        predicted += len;
        multi_piece_words_masked += len > 1;
      }
    }
    // Never more than the count; words are skipped rather than split.
    const int64_t k = bert::data::detail::num_to_predict(n_tokens, 0.15, 20);
    REQUIRE(predicted <= k);
    REQUIRE(predicted >= k - 4);  // with many one-piece words the count is (nearly) met
  }
  CHECK(multi_piece_words_masked > 100);
}

TEST_CASE("word_spans groups continuation pieces", "[data][masking]") {
  std::vector<bool> cont(kVocab, false);
  cont[600] = cont[601] = true;
  // [CLS] 600 20 600 601 [SEP] 601 30 [PAD]
  const std::vector<int64_t> ids = {kCls, 600, 20, 600, 601, kSep, 601, 30, kPad};
  std::vector<bool> cand(ids.size());
  for (size_t i = 0; i < ids.size(); ++i) cand[i] = !is_special(ids[i]);
  const auto w = bert::data::detail::word_spans(ids.data(), static_cast<int64_t>(ids.size()), cand, cont);
  const std::vector<std::pair<int64_t, int64_t>> want = {{1, 1}, {2, 3}, {6, 1}, {7, 1}};
  REQUIRE(w == want);
  const auto single = bert::data::detail::word_spans(ids.data(), static_cast<int64_t>(ids.size()), cand, {});
  REQUIRE(single.size() == 6);
}

TEST_CASE("masking is a function of the generator state", "[data][masking]") {
  const auto in = random_batch(64, 128, 8);
  for (int64_t cap : {0, 20}) {
    std::mt19937_64 rng(77);
    rng.discard(1000);
    // Save the state as a checkpoint would, and restore it into another generator.
    std::stringstream saved;
    saved << rng;
    std::mt19937_64 copy = rng;
    const auto a = mask_tokens(in, 64, 128, options(cap), rng);
    const auto b = mask_tokens(in, 64, 128, options(cap), copy);
    std::mt19937_64 restored;
    saved >> restored;
    const auto c = mask_tokens(in, 64, 128, options(cap), restored);
    REQUIRE(a.input_ids == b.input_ids);
    REQUIRE(a.labels == c.labels);
    REQUIRE(a.input_ids == c.input_ids);
    REQUIRE(a.masked_positions == c.masked_positions);
    REQUIRE(rng == restored);  // and leaves it in the same state
    // The next batch gets other masks.
    const auto d = mask_tokens(in, 64, 128, options(cap), rng);
    REQUIRE(d.labels != a.labels);
  }
}

TEST_CASE("masking rejects bad input", "[data][masking]") {
  std::mt19937_64 rng(1);
  const std::vector<int64_t> ok = {kCls, 20, kSep};
  REQUIRE_THROWS_AS(mask_tokens({kCls, kVocab, kSep}, 1, 3, options(20), rng), bert::Error);
  REQUIRE_THROWS_AS(mask_tokens({kCls, -5, kSep}, 1, 3, options(20), rng), bert::Error);
  REQUIRE_THROWS_AS(mask_tokens(ok, 2, 3, options(20), rng), bert::Error);
  auto o = options(20);
  o.mask_token_ratio = 0.95;
  REQUIRE_THROWS_AS(mask_tokens(ok, 1, 3, o, rng), bert::Error);
  o = options(20);
  o.is_continuation.assign(10, false);
  REQUIRE_THROWS_AS(mask_tokens(ok, 1, 3, o, rng), bert::Error);
  o = options(20);
  o.mask_id = kVocab;
  REQUIRE_THROWS_AS(mask_tokens(ok, 1, 3, o, rng), bert::Error);
  REQUIRE_NOTHROW(mask_tokens(ok, 1, 3, options(20), rng));
  // [UNK] is an ordinary, maskable token with the default specials.
  const auto m = mask_tokens({kCls, kUnk, kSep}, 1, 3, options(20), rng);
  REQUIRE(m.labels[1] == kUnk);
}

TEST_CASE("collate pads to the longest example and builds the model's arrays", "[data][collate]") {
  PretrainingExample a{{1, 20, 21, 2, 30, 2}, {0, 0, 0, 0, 1, 1}, 0};
  PretrainingExample b{{1, 40, 2, 50, 51, 52, 53, 54, 55, 2}, {0, 0, 0, 1, 1, 1, 1, 1, 1, 1}, 1};
  PretrainingExample packed{{1, 60, 61, 2}, {0, 0, 0, 0}, -1};
  CollateOptions co;
  co.pad_id = kPad;
  const auto batch = collate({a, b, packed}, co);
  REQUIRE(batch.batch_size == 3);
  REQUIRE(batch.seq_len == 10);
  REQUIRE(batch.input_ids.size() == 30);
  const std::vector<int64_t> row0 = {1, 20, 21, 2, 30, 2, 0, 0, 0, 0};
  REQUIRE(std::vector<int64_t>(batch.input_ids.begin(), batch.input_ids.begin() + 10) == row0);
  const std::vector<int64_t> types0 = {0, 0, 0, 0, 1, 1, 0, 0, 0, 0};
  REQUIRE(std::vector<int64_t>(batch.token_type_ids.begin(), batch.token_type_ids.begin() + 10) == types0);
  const std::vector<int64_t> mask2 = {1, 1, 1, 1, 0, 0, 0, 0, 0, 0};
  REQUIRE(std::vector<int64_t>(batch.attention_mask.begin() + 20, batch.attention_mask.end()) == mask2);
  REQUIRE(std::all_of(batch.mlm_labels.begin(), batch.mlm_labels.end(), [](int64_t l) { return l == kIgnoreIndex; }));
  REQUIRE(batch.next_sentence_label == std::vector<int64_t>{0, 1, kIgnoreIndex});

  co.pad_to_multiple_of = 8;
  REQUIRE(collate({a, b}, co).seq_len == 16);
  co.max_length = 12;
  REQUIRE(collate({a, b}, co).seq_len == 12);  // rounding stops at the model's limit
  co.max_length = 8;
  REQUIRE_THROWS_AS(collate({a, b}, co), bert::Error);
  REQUIRE_THROWS_AS(collate({}, co), bert::Error);
  CHECK(padded_length(128, 8, 128) == 128);
  CHECK(padded_length(121, 8, 0) == 128);
  CHECK(padded_length(5, 1, 0) == 5);
}

namespace {

// `n` single-segment examples of 10 to max_len + 9 tokens ([CLS] words [SEP]), no NSP label.
std::vector<PretrainingExample> random_examples(int n, uint64_t seed, size_t max_len) {
  std::vector<PretrainingExample> examples;
  std::mt19937_64 g(seed);
  for (int i = 0; i < n; ++i) {
    PretrainingExample e;
    const size_t len = 8 + g() % max_len;
    e.tokens.push_back(kCls);
    for (size_t j = 0; j < len; ++j) e.tokens.push_back(static_cast<uint32_t>(kFirstWord + g() % 900));
    e.tokens.push_back(kSep);
    e.segment_ids.assign(e.tokens.size(), 0);
    e.next_sentence_label = -1;
    examples.push_back(e);
  }
  return examples;
}

}  // namespace

TEST_CASE("collate_and_mask masks the padded batch without touching padding", "[data][collate]") {
  const auto examples = random_examples(32, 3, 100);
  CollateOptions co;
  co.pad_to_multiple_of = 8;
  std::mt19937_64 rng(5);
  const auto b = collate_and_mask(examples, co, options(20), rng);
  const auto plain = collate(examples, co);
  REQUIRE(b.seq_len % 8 == 0);
  size_t predicted = 0;
  for (size_t i = 0; i < b.input_ids.size(); ++i) {
    if (plain.attention_mask[i] == 0) {
      REQUIRE(b.input_ids[i] == kPad);
      REQUIRE(b.mlm_labels[i] == kIgnoreIndex);
    }
    if (b.mlm_labels[i] != kIgnoreIndex) {
      REQUIRE(b.mlm_labels[i] == plain.input_ids[i]);
      ++predicted;
    }
  }
  REQUIRE(b.masked_positions.size() == predicted);
  REQUIRE(predicted >= 32);
}

TEST_CASE("masking with a seed per row: a row's masks depend on its seed alone", "[data][collate]") {
  const auto examples = random_examples(6, 9, 60);
  const std::vector<uint64_t> seeds = {11, 12, 13, 14, 15, 16};
  for (int64_t max_predictions : {int64_t{20}, int64_t{0}}) {  // Google's counted selection and HF's coins
    INFO("max_predictions " << max_predictions);
    const auto all = collate_and_mask(examples, CollateOptions{}, options(max_predictions), seeds);
    REQUIRE(all.masked_positions.size() >= 6);
    for (size_t r = 0; r < examples.size(); ++r) {
      // Alone, in a batch padded to its own length, the row is masked exactly as among the others.
      const auto one = collate_and_mask({examples[r]}, CollateOptions{}, options(max_predictions), {seeds[r]});
      const auto row = static_cast<std::ptrdiff_t>(r * static_cast<size_t>(all.seq_len));
      const auto n = static_cast<std::ptrdiff_t>(examples[r].tokens.size());
      CHECK(std::vector<int64_t>(all.input_ids.begin() + row, all.input_ids.begin() + row + n) ==
            std::vector<int64_t>(one.input_ids.begin(), one.input_ids.begin() + n));
      CHECK(std::vector<int64_t>(all.mlm_labels.begin() + row, all.mlm_labels.begin() + row + n) ==
            std::vector<int64_t>(one.mlm_labels.begin(), one.mlm_labels.begin() + n));
    }
    // Another seed for one row changes that row only.
    auto other = seeds;
    other[2] = 99;
    const auto changed = collate_and_mask(examples, CollateOptions{}, options(max_predictions), other);
    const auto cols = static_cast<std::ptrdiff_t>(all.seq_len);
    CHECK(std::vector<int64_t>(changed.mlm_labels.begin() + 2 * cols, changed.mlm_labels.begin() + 3 * cols) !=
          std::vector<int64_t>(all.mlm_labels.begin() + 2 * cols, all.mlm_labels.begin() + 3 * cols));
    CHECK(std::vector<int64_t>(changed.mlm_labels.begin() + 3 * cols, changed.mlm_labels.end()) ==
          std::vector<int64_t>(all.mlm_labels.begin() + 3 * cols, all.mlm_labels.end()));
  }
  REQUIRE_THROWS_AS(mask_tokens(std::vector<int64_t>(10, kFirstWord), 2, 5, options(20), std::vector<uint64_t>{1}),
                    bert::Error);
}
