// Mixed precision: --precision fp32|bf16|fp16 and the autocast scope for a forward pass.
// bf16 autocast is the fast path on CPUs with AVX-512 BF16/AMX (oneDNN) and on recent GPUs;
// fp16 trains with dynamic loss scaling (loss_scaler.h) and is meant for GPUs. Master weights and
// optimizer state stay fp32.
#pragma once

#include <torch/types.h>

#include <string>

namespace bert::train {

enum class Precision { fp32, bf16, fp16 };

Precision parse_precision(const std::string& name);  // error names the flag and the value
std::string precision_name(Precision p);
// Warns where a precision runs far slower than fp32 (fp16 on any CPU, bf16 on CPUs without native bf16).
void check_precision_supported(Precision p, const torch::Device& device);
// Training on a CPU that computes bfloat16 natively in fp32: says (info) that --precision bf16 is
// the faster choice there.
void suggest_bf16_where_native(Precision p, const torch::Device& device);

// RAII: autocast on `device` in the given precision for the lifetime of the guard (no-op for fp32).
class AutocastGuard {
 public:
  AutocastGuard(Precision precision, const torch::Device& device);
  ~AutocastGuard();
  AutocastGuard(const AutocastGuard&) = delete;
  AutocastGuard& operator=(const AutocastGuard&) = delete;

 private:
  bool active_ = false;
  c10::DeviceType device_type_;
  bool previous_enabled_ = false;
  at::ScalarType previous_dtype_;
};

}  // namespace bert::train
