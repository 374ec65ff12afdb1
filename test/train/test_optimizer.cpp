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
