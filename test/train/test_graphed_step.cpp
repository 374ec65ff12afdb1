// The fixed-shape pre-training step behind --cuda-graphs, on the CPU: there it runs eagerly
// through the same padded inputs and prediction slots that a CUDA graph replays on a GPU, so these
// tests check that padding rows to seq_len and the masked-LM head to a fixed number of slots
// changes neither the losses nor the gradients. (Capture itself: test/cuda/test_cuda.cpp.)
#include "bert/model/config.h"
#include "bert/train/graphed_pretraining_step.h"
#include "bert/train/optimizer.h"
#include "bert/util/error.h"
#include "test/test_helpers.h"

#include <torch/torch.h>

#include <random>

using namespace bert;
using bert::test::require_close;

namespace {

constexpr int64_t kPad = 0, kCls = 101, kSep = 102, kMask = 103, kVocab = 1000;

model::BertForPreTraining tiny_model() {
  auto config = model::BertConfig::load(std::string(BERT_SOURCE_DIR) + "/configs/bert-tiny.json");
  config.vocab_size = kVocab;
  config.hidden_dropout_prob = 0;  // the two paths must see the same network
  config.attention_probs_dropout_prob = 0;
  torch::manual_seed(7);
  model::BertForPreTraining model(config);
  model->train();
  return model;
}

// Examples of random length (NSP pairs or packed), masked the way the pre-training loop masks them.
data::PretrainingBatch make_batch(int rows, uint64_t seed, int64_t max_predictions, bool nsp, int64_t max_len = 48) {
  std::mt19937_64 g(seed);
  std::vector<data::PretrainingExample> examples;
  for (int i = 0; i < rows; ++i) {
    data::PretrainingExample e;
    const auto words = [&](size_t n, uint8_t segment) {
      for (size_t j = 0; j < n; ++j) {
        e.tokens.push_back(static_cast<uint32_t>(200 + g() % 700));
        e.segment_ids.push_back(segment);
      }
    };
    e.tokens.push_back(kCls);
    e.segment_ids.push_back(0);
    words(4 + g() % 16, 0);
    e.tokens.push_back(kSep);
    e.segment_ids.push_back(0);
    if (nsp) {
      words(4 + g() % 16, 1);
      e.tokens.push_back(kSep);
      e.segment_ids.push_back(1);
    }
    e.next_sentence_label = nsp ? static_cast<int64_t>(g() % 2) : -1;
    examples.push_back(e);
  }
  data::CollateOptions collate;
  collate.pad_id = kPad;
  collate.max_length = max_len;
  auto masking = data::make_masking_options(kVocab, kCls, kSep, kPad, kMask);
  masking.max_predictions = max_predictions;
  std::mt19937_64 rng(seed + 1);
  return data::collate_and_mask(examples, collate, masking, rng);
}

std::vector<torch::Tensor> gradients(model::BertForPreTraining& model) {
  std::vector<torch::Tensor> grads;
  for (auto& p : model->parameters()) grads.push_back(p.grad().defined() ? p.grad().clone() : torch::Tensor());
  return grads;
}

void require_same_gradients(model::BertForPreTraining& model, const std::vector<torch::Tensor>& want) {
  auto got = gradients(model);
  auto names = model->named_parameters().keys();
  REQUIRE(got.size() == want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    INFO(names[i]);
    REQUIRE(got[i].defined() == want[i].defined());  // unused parameters (no NSP: the pooler) stay without
    if (want[i].defined()) require_close(names[i], got[i], want[i], 1e-6, 1e-4);
  }
}

}  // namespace

TEST_CASE("the fixed-shape step gives the ordinary step's losses and gradients", "[train][graphs]") {
  for (const bool nsp : {true, false})
    for (const int64_t max_predictions : {int64_t{20}, int64_t{0}}) {
      INFO("nsp " << nsp << ", max_predictions " << max_predictions);
      auto model = tiny_model();
      const auto batch = make_batch(6, 11, max_predictions, nsp);
      REQUIRE(batch.seq_len < 64);  // so that the fixed inputs pad every row further

      model->zero_grad();
      auto want = train::pretraining_losses(model, train::to_tensors(batch, torch::kCPU), nsp, train::Precision::fp32,
                                     torch::kCPU);
      want.total.backward();
      const auto want_grads = gradients(model);

      train::zero_gradients(model->parameters());
      const int64_t slots = train::prediction_slots(6, 64, 0.15, max_predictions);
      train::GraphedPretrainingStep step(model, 6, 64, slots, kPad, nsp, train::Precision::fp32, torch::kCPU,
                                         /*capture=*/false, /*loss_divisor=*/1.0);
      REQUIRE(step.fits(batch));
      auto got = step.forward_backward(batch);
      CHECK_FALSE(step.captured());
      CHECK(got.mlm.item<double>() == Approx(want.mlm.item<double>()).epsilon(1e-5));
      CHECK(got.total.item<double>() == Approx(want.total.item<double>()).epsilon(1e-5));
      if (nsp) CHECK(got.nsp.item<double>() == Approx(want.nsp.item<double>()).epsilon(1e-5));
      require_same_gradients(model, want_grads);
    }
}

TEST_CASE("the fixed-shape step adds to the gradients: accumulation over micro-batches", "[train][graphs]") {
  auto model = tiny_model();
  const auto a = make_batch(4, 21, 20, true), b = make_batch(4, 22, 20, true);
  model->zero_grad();
  for (const auto* batch : {&a, &b}) {
    auto l = train::pretraining_losses(model, train::to_tensors(*batch, torch::kCPU), true, train::Precision::fp32,
                                torch::kCPU);
    (l.total / 2.0).backward();
  }
  const auto want = gradients(model);

  train::zero_gradients(model->parameters());
  train::GraphedPretrainingStep step(model, 4, 48, train::prediction_slots(4, 48, 0.15, 20), kPad, true,
                                     train::Precision::fp32, torch::kCPU, /*capture=*/false, /*loss_divisor=*/2.0);
  step.forward_backward(a);
  step.forward_backward(b);
  require_same_gradients(model, want);
}

TEST_CASE("which batches fit the fixed shapes, and how many prediction slots", "[train][graphs]") {
  // Google-style cap: batch x cap. Hugging Face's rule: mean + 6 sd of binomial(128 x 128, 0.15),
  // 2457.6 + 6 x 45.705 = 2731.83 → 2732, plus one; never more than the positions.
  CHECK(train::prediction_slots(32, 128, 0.15, 20) == 640);
  CHECK(train::prediction_slots(128, 128, 0.15, 0) == 2733);
  CHECK(train::prediction_slots(2, 4, 0.9, 0) == 8);
  CHECK(train::prediction_slots(2, 4, 0.15, 20) == 8);

  auto model = tiny_model();
  const auto batch = make_batch(4, 31, 20, true);
  const auto predictions = static_cast<int64_t>(batch.masked_positions.size());
  auto step = [&](int64_t rows, int64_t seq_len, int64_t slots) {
    return train::GraphedPretrainingStep(model, rows, seq_len, slots, kPad, true, train::Precision::fp32, torch::kCPU,
                                         false, 1.0);
  };
  CHECK(step(4, 48, predictions).fits(batch));
  CHECK_FALSE(step(4, 48, predictions - 1).fits(batch));  // one prediction too many: run eagerly
  CHECK_FALSE(step(5, 48, predictions).fits(batch));      // another number of rows
  CHECK_FALSE(step(4, batch.seq_len - 1, predictions).fits(batch));
  REQUIRE_THROWS_AS(step(4, 48, predictions - 1).forward_backward(batch), bert::Error);
}

TEST_CASE("capturing on the CPU (--cuda-graphs) is refused with a sentence", "[train][graphs]") {
  auto model = tiny_model();
  REQUIRE_THROWS_WITH(train::GraphedPretrainingStep(model, 4, 48, 80, kPad, true, train::Precision::fp32,
                                                    torch::kCPU, /*capture=*/true, 1.0),
                      Catch::Contains("--cuda-graphs needs --device cuda"));
}
