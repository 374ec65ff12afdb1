// c10d's NCCL backend, kept in a file of its own: it needs CUDA's and NCCL's headers, which only a
// build against a CUDA LibTorch has (CMake then defines BERT_HAVE_NCCL for nccl_backend.cpp alone).
#pragma once

#include <torch/csrc/distributed/c10d/Backend.hpp>
#include <torch/csrc/distributed/c10d/Store.hpp>
#include <torch/types.h>

#include <chrono>

namespace bert::dist {

// An NCCL group of `size` workers with this one on `device` (made the current GPU). Its wait()
// blocks and throws after `timeout`, so that a lost worker ends in our error message rather than
// in the NCCL watchdog ending the process. Throws bert::Error in a build without NCCL.
c10::intrusive_ptr<c10d::Backend> make_nccl_backend(const c10::intrusive_ptr<c10d::Store>& store, int rank, int size,
                                                    std::chrono::milliseconds timeout, torch::Device device);

}  // namespace bert::dist
