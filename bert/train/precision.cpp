#include "bert/train/precision.h"

#include "bert/util/error.h"
#include "bert/util/log.h"

#include <ATen/autocast_mode.h>

#include <fstream>
#include <string>

namespace bert::train {

Precision parse_precision(const std::string& name) {
  if (name == "fp32" || name == "float32") return Precision::fp32;
  if (name == "bf16" || name == "bfloat16") return Precision::bf16;
  if (name == "fp16" || name == "float16") return Precision::fp16;
  throw Error("--precision: expected fp32, bf16 or fp16, found \"" + name + "\"");
}

std::string precision_name(Precision p) {
  switch (p) {
    case Precision::fp32: return "fp32";
    case Precision::bf16: return "bf16";
    case Precision::fp16: return "fp16";
  }
  return "fp32";
}

namespace {

enum class CpuBf16 { native, emulated, unknown };

// Whether the CPU computes bfloat16 natively (AVX-512 BF16 or AMX), from /proc/cpuinfo (Linux).
CpuBf16 cpu_bf16() {
  std::ifstream cpuinfo("/proc/cpuinfo");
  for (std::string line; cpuinfo && std::getline(cpuinfo, line);) {
    if (line.rfind("flags", 0) != 0) continue;
    const bool native = line.find(" avx512_bf16") != std::string::npos || line.find(" amx_bf16") != std::string::npos;
    return native ? CpuBf16::native : CpuBf16::emulated;
  }
  return CpuBf16::unknown;
}

}  // namespace

void check_precision_supported(Precision p, const torch::Device& device) {
  if (p == Precision::fp16 && device.is_cpu())
    log::warn("--precision fp16 on the CPU: LibTorch computes fp16 there without fast kernels (a matmul ran ~10x "
              "slower than fp32); it is meant for GPUs. Use fp32 (or bf16 on CPUs with AVX-512 BF16/AMX).");
  if (p == Precision::bf16 && device.is_cpu() && cpu_bf16() == CpuBf16::emulated)
    log::warn("--precision bf16: this CPU has no native bfloat16 (no avx512_bf16 or amx_bf16 flag), so LibTorch "
              "emulates it; on such a CPU (AMD EPYC, AVX2) a bf16 matmul ran ~60x slower than fp32. Use fp32 here.");
}

void suggest_bf16_where_native(Precision p, const torch::Device& device) {
  if (p == Precision::fp32 && device.is_cpu() && cpu_bf16() == CpuBf16::native)
    log::info("[setup] this CPU computes bfloat16 natively (AVX-512 BF16/AMX): --precision bf16 trains faster here "
              "(bert-base pre-training 2-2.7x faster than fp32 on such a CPU, 2 threads)");
}

AutocastGuard::AutocastGuard(Precision precision, const torch::Device& device) : device_type_(device.type()) {
  if (precision == Precision::fp32) return;
  active_ = true;
  previous_enabled_ = at::autocast::is_autocast_enabled(device_type_);
  previous_dtype_ = at::autocast::get_autocast_dtype(device_type_);
  at::autocast::set_autocast_dtype(device_type_, precision == Precision::bf16 ? at::kBFloat16 : at::kHalf);
  at::autocast::set_autocast_enabled(device_type_, true);
  at::autocast::increment_nesting();
}

AutocastGuard::~AutocastGuard() {
  if (!active_) return;
  // Leaving the outermost autocast region frees the cached low-precision weight copies.
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  at::autocast::set_autocast_enabled(device_type_, previous_enabled_);
  at::autocast::set_autocast_dtype(device_type_, previous_dtype_);
}

}  // namespace bert::train
