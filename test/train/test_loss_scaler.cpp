// Dynamic loss scaling (fp16): scale, unscale, skip on overflow, back-off and growth, and the
// checkpointed state.
#include "bert/train/loss_scaler.h"
#include "bert/train/run_log.h"
#include "test/test_helpers.h"

#include <torch/torch.h>

#include <limits>

using bert::train::LossScaler;

namespace {

std::vector<torch::Tensor> parameters_with_grads(const std::vector<float>& grads) {
  auto p = torch::zeros({static_cast<int64_t>(grads.size())}, torch::requires_grad());
  p.mutable_grad() = torch::tensor(grads);
  return {p};
}

}  // namespace

TEST_CASE("loss scaling: gradients come back unscaled; an overflow skips the step and halves the scale", "[train][fp16]") {
  LossScaler scaler(true, 1024.0, 3);
  CHECK(scaler.scale_loss(torch::tensor(2.0f)).item<float>() == 2048.0f);

  auto params = parameters_with_grads({1024.0f, -512.0f, 0.0f});
  REQUIRE(scaler.unscale(params));
  bert::test::require_close("unscaled", params[0].grad(), torch::tensor({1.0f, -0.5f, 0.0f}), 0, 0);

  auto overflow = parameters_with_grads({1.0f, std::numeric_limits<float>::infinity()});
  REQUIRE_FALSE(scaler.unscale(overflow));
  auto nan = parameters_with_grads({std::numeric_limits<float>::quiet_NaN()});
  REQUIRE_FALSE(scaler.unscale(nan));

  scaler.update(false);
  CHECK(scaler.scale() == 512.0);
  // Three good steps in a row double it; an overflow in between restarts the count.
  scaler.update(true);
  scaler.update(true);
  scaler.update(false);
  CHECK(scaler.scale() == 256.0);
  scaler.update(true);
  scaler.update(true);
  CHECK(scaler.scale() == 256.0);
  scaler.update(true);
  CHECK(scaler.scale() == 512.0);

  // The state survives a checkpoint.
  scaler.update(true);
  LossScaler restored(true);
  restored.restore(scaler.state());
  CHECK(restored.scale() == 512.0);
  CHECK(restored.state() == scaler.state());
}

TEST_CASE("an fp16 overflow is skipped without counting as a bad step, until the scale reaches 1", "[train][fp16]") {
  bert::train::NonFiniteSteps bad(2, "advice");
  LossScaler scaler(true, 4.0, 100);
  const double inf = std::numeric_limits<double>::infinity();
  CHECK_FALSE(bert::train::apply_step(false, scaler, bad, 1, 1.0, inf));
  CHECK(bad.skipped_total() == 0);
  scaler.update(false);
  scaler.update(false);
  CHECK(scaler.scale() == 1.0);
  // At scale 1 an overflow is a real divergence: counted, and too many in a row stop the run.
  CHECK_FALSE(bert::train::apply_step(false, scaler, bad, 2, 1.0, inf));
  CHECK(bad.skipped_total() == 1);
  CHECK_THROWS(bert::train::apply_step(false, scaler, bad, 3, 1.0, inf));
  CHECK(bert::train::apply_step(true, scaler, bad, 4, 1.0, 0.5));
}

TEST_CASE("without fp16 the scaler does nothing", "[train][fp16]") {
  LossScaler off(false);
  CHECK(off.scale() == 1.0);
  auto params = parameters_with_grads({3.0f, std::numeric_limits<float>::infinity()});
  CHECK(off.unscale(params));  // the non-finite check is left to NonFiniteSteps
  CHECK(params[0].grad()[0].item<float>() == 3.0f);
  CHECK(off.state().empty());
}
