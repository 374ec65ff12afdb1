// How fine-tuning cuts examples into batches (bert/tasks/task_data.h): length-grouped batches
// (training, with a seed; evaluation, longest first), uniformly shuffled batches
// (the default), in the file's order (--in-order), a batch split into passes of similar length
// (split_by_length), and collate_task_batch's padding.
#include <catch2/catch.hpp>

#include "bert/tasks/task_data.h"

#include <algorithm>
#include <random>
#include <set>
#include <vector>

using namespace bert::tasks;

namespace {

// count examples whose lengths cycle through 1..97 in a scrambled order.
std::vector<TaskExample> examples_of_mixed_length(size_t count) {
  std::vector<TaskExample> examples(count);
  for (size_t i = 0; i < count; ++i) {
    const size_t length = 1 + (i * 37) % 97;
    examples[i].ids.assign(length, 5);
    examples[i].type_ids.assign(length, 0);
    examples[i].label = static_cast<int64_t>(i % 2);
  }
  return examples;
}

void check_each_index_once(const std::vector<std::vector<size_t>>& batches, size_t count, size_t batch_size) {
  std::multiset<size_t> seen;
  for (size_t b = 0; b < batches.size(); ++b) {
    CHECK(!batches[b].empty());
    CHECK(batches[b].size() <= batch_size);
    seen.insert(batches[b].begin(), batches[b].end());
  }
  REQUIRE(seen.size() == count);
  for (size_t i = 0; i < count; ++i) CHECK(seen.count(i) == 1);
  // Only one batch may be short: the one holding the remainder.
  const auto short_batches = std::count_if(batches.begin(), batches.end(),
                                           [&](const auto& batch) { return batch.size() < batch_size; });
  CHECK(short_batches == (count % batch_size == 0 ? 0 : 1));
}

// Padding positions the batches add: sum over batches of (longest - each example's length).
size_t padding(const std::vector<TaskExample>& examples, const std::vector<std::vector<size_t>>& batches) {
  size_t pad = 0;
  for (const auto& batch : batches) {
    size_t longest = 0;
    for (size_t i : batch) longest = std::max(longest, examples[i].ids.size());
    for (size_t i : batch) pad += longest - examples[i].ids.size();
  }
  return pad;
}

std::vector<int64_t> values(const torch::Tensor& t) {
  auto c = t.contiguous();
  return {c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + c.numel()};
}

}  // namespace

TEST_CASE("length-grouped training batches hold every example once, pad little, and follow the seed") {
  const auto examples = examples_of_mixed_length(1003);
  std::mt19937_64 rng(7), same(7), other(8);
  const auto batches = length_grouped_batches(examples, 16, &rng);
  check_each_index_once(batches, examples.size(), 16);
  CHECK(batches == length_grouped_batches(examples, 16, &same));
  CHECK(batches != length_grouped_batches(examples, 16, &other));

  std::mt19937_64 shuffle_rng(7);
  const auto shuffled = shuffled_batches(examples.size(), 16, shuffle_rng);
  // Sorted within windows of 50 batches, the padding is a small share of a random order's.
  CHECK(padding(examples, batches) * 5 < padding(examples, shuffled));
}

TEST_CASE("in-order training batches are consecutive rows, the last one short") {
  const auto batches = in_order_batches(10, 4);
  CHECK(batches == std::vector<std::vector<size_t>>{{0, 1, 2, 3}, {4, 5, 6, 7}, {8, 9}});
  CHECK(in_order_batches(0, 4).empty());
}

TEST_CASE("a batch split by length: every row once, longest first, the cheapest cut") {
  const auto examples = examples_of_mixed_length(200);
  std::vector<size_t> rows(32);
  std::mt19937_64 rng(3);
  for (auto& r : rows) r = rng() % examples.size();
  std::sort(rows.begin(), rows.end());
  rows.erase(std::unique(rows.begin(), rows.end()), rows.end());
  auto cost = [&](const std::vector<std::vector<size_t>>& chunks, double per_pass) {
    double total = 0;
    for (const auto& c : chunks) total += static_cast<double>(c.size() * examples[c.front()].length()) + per_pass;
    return total;
  };
  for (double per_pass : {0.0, 64.0, 1e9}) {
    INFO(per_pass);
    const auto chunks = split_by_length(examples, rows, per_pass);
    std::vector<size_t> flat;
    for (const auto& c : chunks) flat.insert(flat.end(), c.begin(), c.end());
    // Longest first throughout: each pass pads to its first row.
    for (size_t i = 1; i < flat.size(); ++i) CHECK(examples[flat[i - 1]].length() >= examples[flat[i]].length());
    std::sort(flat.begin(), flat.end());
    CHECK(flat == rows);
    // No cut into two passes at one point, nor merging two neighbours, is cheaper.
    for (size_t c = 0; c < chunks.size(); ++c) {
      for (size_t at = 1; at < chunks[c].size(); ++at) {
        auto other = chunks;
        other[c].assign(chunks[c].begin(), chunks[c].begin() + static_cast<std::ptrdiff_t>(at));
        other.insert(other.begin() + static_cast<std::ptrdiff_t>(c) + 1,
                     std::vector<size_t>(chunks[c].begin() + static_cast<std::ptrdiff_t>(at), chunks[c].end()));
        CHECK(cost(chunks, per_pass) <= cost(other, per_pass));
      }
      if (c + 1 < chunks.size()) {
        auto other = chunks;
        other[c].insert(other[c].end(), chunks[c + 1].begin(), chunks[c + 1].end());
        other.erase(other.begin() + static_cast<std::ptrdiff_t>(c) + 1);
        CHECK(cost(chunks, per_pass) <= cost(other, per_pass));
      }
    }
    if (per_pass == 0.0) CHECK(cost(chunks, 0) == [&] { double t = 0; for (size_t r : rows) t += examples[r].length(); return t; }());
    if (per_pass == 1e9) CHECK(chunks.size() == 1);
  }
}

TEST_CASE("evaluation batches are longest first") {
  const auto examples = examples_of_mixed_length(100);
  const auto batches = length_grouped_batches(examples, 8, nullptr);
  check_each_index_once(batches, examples.size(), 8);
  size_t previous = examples[batches[0][0]].ids.size();
  for (const auto& batch : batches)
    for (size_t i : batch) {
      CHECK(examples[i].ids.size() <= previous);
      previous = examples[i].ids.size();
    }
}

TEST_CASE("shuffled batches (--no-group-by-length) are a uniform shuffle, reproducible by seed") {
  std::mt19937_64 rng(3), same(3), other(4);
  const auto batches = shuffled_batches(1000, 32, rng);
  check_each_index_once(batches, 1000, 32);
  CHECK(batches == shuffled_batches(1000, 32, same));
  CHECK(batches != shuffled_batches(1000, 32, other));

  // Unlike grouped batches, a batch mixes lengths: the mean spread (longest - shortest) of a batch of
  // 32 lengths drawn from 1..97 is about 88; sorted batches would spread a few tokens.
  const auto examples = examples_of_mixed_length(1000);
  double spread = 0;
  for (const auto& batch : batches) {
    size_t lo = 1000, hi = 0;
    for (size_t i : batch) lo = std::min(lo, examples[i].ids.size()), hi = std::max(hi, examples[i].ids.size());
    spread += static_cast<double>(hi - lo);
  }
  CHECK(spread / static_cast<double>(batches.size()) > 60);
  // Nor is the order kept: the first batch is not 0..31.
  CHECK(batches[0] != std::vector<size_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19,
                                          20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31});
}

TEST_CASE("collate_task_batch pads to the longest example, or further with pad_to") {
  const auto examples = examples_of_mixed_length(10);  // lengths 1, 38, 75, 15, 52, 89, 29, 66, 6, 43
  const auto batch = collate_task_batch(examples, {0, 1, 3}, Task::classify, /*pad_id=*/0, torch::kCPU);
  REQUIRE(batch.input_ids.sizes() == std::vector<int64_t>{3, 38});
  CHECK(values(batch.attention_mask.sum(1)) == std::vector<int64_t>{1, 38, 15});
  CHECK(batch.input_ids[0][1].item<int64_t>() == 0);  // padding is pad_id
  CHECK(batch.input_ids[0][0].item<int64_t>() == 5);
  CHECK(values(batch.labels) == std::vector<int64_t>{0, 1, 1});
  CHECK(batch.real_tokens == 1 + 38 + 15);
  const auto wider = collate_task_batch(examples, {0, 1, 3}, Task::classify, 0, torch::kCPU, 0, /*pad_to=*/50);
  CHECK(wider.input_ids.size(1) == 50);
  CHECK(torch::equal(wider.attention_mask.narrow(1, 0, 38), batch.attention_mask));
}
