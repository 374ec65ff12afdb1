// Our CPU dropout (bert/model/layers.h): the right share of elements kept and scaled exactly as
// LibTorch's dropout scales them, the mask reproducible from the generator's seed and the same
// whatever the thread count, independent between neighbours and calls, the gradient masked alike;
// and the explicit attention path it trains with on the CPU computes what SDPA computes.
#include "bert/model/bert_model.h"
#include "bert/model/dropout_kernels.h"
#include "bert/model/layers.h"
#include "bert/train/precision.h"
#include "test/test_helpers.h"

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <cmath>

using namespace bert;

namespace {

// The kept share of n draws with keep probability q lies within 5 standard deviations of q.
void require_share(double kept, double q, int64_t n) {
  INFO("kept share " << kept << ", expected " << q << " of " << n);
  REQUIRE(std::abs(kept - q) < 5.0 * std::sqrt(q * (1.0 - q) / static_cast<double>(n)));
}

struct ThreadCount {
  int previous = at::get_num_threads();
  explicit ThreadCount(int n) { at::set_num_threads(n); }
  ~ThreadCount() { at::set_num_threads(previous); }
};

}  // namespace

TEST_CASE("dropout keeps 1 - p of the elements and scales them as LibTorch does", "[model][dropout]") {
  const int64_t n = 1 << 20;
  for (double p : {0.1, 0.5, 0.9}) {
    INFO("p " << p);
    torch::manual_seed(1);
    const auto x = torch::rand({n}) + 0.5;  // no zeros, so a zero in the output means dropped
    const auto y = model::apply_dropout(x, p, true);
    const auto kept = y != 0;
    require_share(kept.to(torch::kDouble).mean().item<double>(), 1.0 - p, n);
    const float scale = static_cast<float>(1.0 / (1.0 - p));
    REQUIRE(torch::equal(y.masked_select(kept), x.masked_select(kept) * scale));
  }
  SECTION("bf16: one rounding of x · scale") {
    torch::manual_seed(2);
    const auto x = (torch::rand({n}) + 0.5).to(torch::kBFloat16);
    const auto y = model::apply_dropout(x, 0.1, true);
    REQUIRE(y.scalar_type() == torch::kBFloat16);
    const auto kept = y != 0;
    require_share(kept.to(torch::kDouble).mean().item<double>(), 0.9, n);
    const auto want = (x.to(torch::kFloat) * static_cast<float>(1.0 / 0.9)).to(torch::kBFloat16);
    REQUIRE(torch::equal(y.masked_select(kept), want.masked_select(kept)));
  }
}

TEST_CASE("dropout's mask follows the seed, not the threads", "[model][dropout]") {
  const auto x = torch::rand({3, 1000, 77}) + 0.5;  // odd sizes: ranges split at odd places
  auto masked = [&](int threads, uint64_t seed) {
    ThreadCount guard(threads);
    torch::manual_seed(seed);
    return model::apply_dropout(x, 0.3, true) != 0;
  };
  const auto one = masked(1, 7);
  REQUIRE(torch::equal(one, masked(2, 7)));
  REQUIRE(torch::equal(one, masked(3, 7)));
  REQUIRE_FALSE(torch::equal(one, masked(1, 8)));
  SECTION("successive calls draw new masks, and neighbours are independent") {
    torch::manual_seed(7);
    const auto a = model::apply_dropout(x, 0.5, true) != 0, b = model::apply_dropout(x, 0.5, true) != 0;
    REQUIRE_FALSE(torch::equal(a, b));
    const auto both = (a & b).to(torch::kDouble).mean().item<double>();
    require_share(both, 0.25, x.numel());
    const auto flat = a.flatten();
    const auto pairs = (flat.slice(0, 0, -1) & flat.slice(0, 1)).to(torch::kDouble).mean().item<double>();
    require_share(pairs, 0.25, flat.numel() - 1);
  }
}

TEST_CASE("dropout's gradient is masked and scaled like its output", "[model][dropout]") {
  torch::manual_seed(3);
  for (auto dtype : {torch::kFloat, torch::kBFloat16}) {
    const auto base = (torch::rand({64, 33}) + 0.5).to(dtype);
    auto x = base.t().detach().requires_grad_(true);  // non-contiguous input
    const auto y = model::apply_dropout(x, 0.25, true);
    const auto grad = torch::randn(y.sizes()).to(dtype);
    y.backward(grad);
    const auto keep = (y != 0).to(torch::kFloat);
    const auto want = (grad.to(torch::kFloat) * keep * static_cast<float>(1.0 / 0.75)).to(dtype);
    REQUIRE(torch::equal(x.grad(), want));
  }
}

TEST_CASE("dropout is the identity outside training and checks p", "[model][dropout]") {
  const auto x = torch::rand({10, 10});
  REQUIRE(model::apply_dropout(x, 0.5, false).is_same(x));
  REQUIRE(model::apply_dropout(x, 0.0, true).is_same(x));
  REQUIRE(model::apply_dropout(x, 1.0, true).abs().sum().item<double>() == 0.0);
  REQUIRE_THROWS_WITH(model::apply_dropout(x, 1.5, true), Catch::Contains("dropout probability"));
  REQUIRE_THROWS(model::Dropout(-0.1));
  SECTION("other dtypes go to LibTorch's dropout") {
    const auto d = model::apply_dropout(x.to(torch::kDouble), 0.5, true);
    REQUIRE(d.scalar_type() == torch::kDouble);
    REQUIRE(((d == 0) | (d == 2 * x.to(torch::kDouble))).all().item<bool>());
  }
}

TEST_CASE("dropout's hash word changes with the seed and past 2^32 elements", "[model][dropout]") {
  namespace k = model::dropout_kernels;
  REQUIRE(k::keep_threshold(1.0) == 0xffffffffU);
  REQUIRE(k::keep_threshold(0.0) == 0U);
  REQUIRE(k::keep_threshold(0.5) == 0x80000000U);
  int same_seed = 0, same_block = 0;
  for (uint64_t i = 0; i < 1000; ++i) {
    same_seed += k::keep_word(1, i) == k::keep_word(2, i);
    same_block += k::keep_word(1, i) == k::keep_word(1, i + (uint64_t{1} << 32));
  }
  REQUIRE(same_seed < 3);
  REQUIRE(same_block < 3);
}

TEST_CASE("the explicit attention path computes what SDPA computes, in training too", "[model][dropout]") {
  auto c = test::small_bert_config(2, 4);
  c.hidden_dropout_prob = 0.0;
  c.attention_probs_dropout_prob = 0.0;
  torch::manual_seed(4);
  model::BertModel m(c);
  m->train();
  const auto ids = torch::randint(5, 100, {3, 10});
  auto mask = torch::ones({3, 10}, torch::kLong);
  mask.slice(1, 6).select(0, 1).zero_();  // the second row padded after 6 tokens
  model::ForwardOptions with_probs;
  with_probs.output_attentions = true;
  const auto explicit_out = m->forward(ids, mask, {}, with_probs);
  REQUIRE(explicit_out.attentions.size() == 2);
  REQUIRE(explicit_out.last_hidden_state.requires_grad());
  const auto sdpa = m->forward(ids, mask).last_hidden_state;  // fp32 without dropout: SDPA
  test::require_close("explicit vs SDPA, fp32", explicit_out.last_hidden_state, sdpa, 1e-5, 1e-5);
  SECTION("bf16 training on 10 tokens takes the explicit path") {
    torch::Tensor trained, inferred;
    {
      train::AutocastGuard autocast(train::Precision::bf16, torch::kCPU);
      trained = m->forward(ids, mask).last_hidden_state;
      torch::NoGradGuard no_grad;
      inferred = m->forward(ids, mask).last_hidden_state;
    }
    REQUIRE(trained.requires_grad());
    test::require_close("bf16 explicit vs SDPA", trained, inferred, 3e-2, 3e-2);
    test::require_close("bf16 vs fp32", trained, sdpa, 0.1, 0.05);
  }
}
