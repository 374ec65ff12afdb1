#include "bert/util/device.h"

#include "bert/util/error.h"

#include <torch/cuda.h>

namespace bert {

torch::Device parse_device(const std::string& value, int local_rank) {
  const std::string expected = "--device: expected cpu, cuda or cuda:N (N = 0, 1, ...), found \"" + value + "\"";
  if (value == "cpu") return torch::Device(torch::kCPU);
  if (value.rfind("cuda", 0) != 0) throw Error(expected);
  int index = local_rank;
  if (value != "cuda") {
    const std::string digits = value.size() > 5 && value[4] == ':' ? value.substr(5) : "";
    if (digits.empty() || digits.size() > 4 || digits.find_first_not_of("0123456789") != std::string::npos)
      throw Error(expected);
    index = std::stoi(digits);
  }
  // 0 both where the linked LibTorch has no CUDA (a CPU wheel) and where no GPU/driver is visible.
  const auto count = static_cast<int>(torch::cuda::device_count());
  if (count == 0)
    throw Error("--device " + value + ": no CUDA GPU is usable: either this bert was built against a CPU-only "
                "LibTorch (build against a CUDA PyTorch wheel: README, \"GPU\") or no GPU/driver is visible "
                "(CUDA_VISIBLE_DEVICES?); use --device cpu");
  if (index >= count)
    throw Error("--device " + value + (value == "cuda" ? " (local worker " + std::to_string(local_rank) + ")" : "") +
                ": this process sees " + std::to_string(count) + " CUDA device" + (count == 1 ? "" : "s") +
                " (cuda:0" + (count > 1 ? "..cuda:" + std::to_string(count - 1) : "") + ")");
  return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(index));
}

}  // namespace bert
