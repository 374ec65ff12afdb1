// The training loop's optimizer step (fused AdamW kernel on torch::optim::AdamW's state) and
// gradient clipping (foreach kernels) against LibTorch's own AdamW::step and clip_grad_norm_,
// on the CPU here and on a GPU in test/cuda (run_optimizer_comparison takes the device).
#include "bert/train/optimizer.h"
#include "bert/util/device.h"
#include "bert/util/error.h"
#include "test/train/optimizer_comparison.h"

#include <catch2/catch.hpp>
#include <torch/cuda.h>

TEST_CASE("fused AdamW step and foreach clipping match LibTorch's AdamW and clip_grad_norm_", "[train][optimizer]") {
  bert::test::run_optimizer_comparison(torch::Device(torch::kCPU));
}

TEST_CASE("the values of --device are checked before any work", "[train][device]") {
  CHECK(bert::parse_device("cpu") == torch::Device(torch::kCPU));
  for (const char* bad : {"gpu", "CPU", "cuda:", "cuda:x", "cuda:-1", "cuda0", "cuda:99999"}) {
    INFO(bad);
    REQUIRE_THROWS_WITH(bert::parse_device(bad), Catch::Contains("--device: expected cpu, cuda or cuda:N"));
  }
  const auto gpus = torch::cuda::device_count();
  if (gpus == 0) {
    REQUIRE_THROWS_WITH(bert::parse_device("cuda"), Catch::Contains("no CUDA GPU is usable"));
  } else {
    CHECK(bert::parse_device("cuda") == torch::Device(torch::kCUDA, 0));
    CHECK(bert::parse_device("cuda", static_cast<int>(gpus) - 1).index() == static_cast<int>(gpus) - 1);
  }
  REQUIRE_THROWS_WITH(bert::parse_device("cuda:" + std::to_string(gpus)),
                      gpus == 0 ? Catch::Contains("no CUDA GPU") : Catch::Contains("this process sees"));
}

TEST_CASE("clipping with --clip-norm 0 measures the norm without clipping, as the Trainer's max_grad_norm 0", "[train][optimizer]") {
  auto w = torch::ones({3}, torch::requires_grad());
  w.mutable_grad() = torch::tensor({3.0f, 4.0f, 0.0f});
  CHECK(bert::train::clip_gradient_norm({w}, 0.0) == Approx(5.0));
  CHECK(torch::equal(w.grad(), torch::tensor({3.0f, 4.0f, 0.0f})));  // untouched, not zeroed
  CHECK(bert::train::clip_gradient_norm({w}, 1.0) == Approx(5.0));
  CHECK(w.grad().norm().item<double>() == Approx(1.0).epsilon(1e-5));
}

TEST_CASE("optimizer settings that cannot train are refused by flag", "[train][optimizer]") {
  using bert::train::AdamWSettings;
  REQUIRE_NOTHROW(bert::train::check_optimizer_flags(AdamWSettings{}, 1.0));
  REQUIRE_NOTHROW(bert::train::check_optimizer_flags(AdamWSettings{0.0, 0.0, 0.9, 0.999, 1e-8}, 0.0));  // lr 0: a dry run
  auto bad = [](auto edit, double clip = 1.0) {
    AdamWSettings s;
    edit(s);
    return [s, clip] { bert::train::check_optimizer_flags(s, clip); };
  };
  REQUIRE_THROWS_WITH(bad([](auto& s) { s.lr = std::nan(""); })(), Catch::Contains("--lr: must be a finite number >= 0"));
  REQUIRE_THROWS_WITH(bad([](auto& s) { s.weight_decay = -0.1; })(), Catch::Contains("--weight-decay"));
  REQUIRE_THROWS_WITH(bad([](auto& s) { s.eps = 0; })(), Catch::Contains("--adam-eps: must be a finite number > 0"));
  REQUIRE_THROWS_WITH(bad([](auto& s) { s.beta2 = 1.5; })(), Catch::Contains("--adam-beta2: must be in [0, 1), found 1.5"));
  REQUIRE_THROWS_WITH(bad([](auto&) {}, -1.0)(), Catch::Contains("--clip-norm"));
}
