// --device: "cpu", "cuda" or "cuda:N", checked against what this process can use, so that a wrong
// value fails at start-up with a sentence rather than deep inside LibTorch at the first tensor.
#pragma once

#include <torch/types.h>

#include <string>

namespace bert {

// Parses and checks a --device value. "cuda" without an index means cuda:<local_rank>: each local
// worker of a multi-process run takes its own GPU (torchrun's LOCAL_RANK; 0 in a single process).
// Throws bert::Error for a malformed value, a CUDA device in a build or on a machine without
// CUDA, or an index past the last GPU.
torch::Device parse_device(const std::string& value, int local_rank = 0);

}  // namespace bert
