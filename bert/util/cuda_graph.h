// CUDA graphs behind an interface that compiles without CUDA: a stretch of GPU work recorded once
// and then replayed with one launch, so that a step no longer pays the host's cost of launching
// each of its ~1,500 kernels (what bounded bert-base pre-training on an H100; see
// train/graphed_pretraining_step.h). Built with capture only where CMake found a CUDA LibTorch and
// the CUDA runtime's headers (BERT_HAVE_CUDA_GRAPHS); elsewhere available() is false and capture
// throws.
#pragma once

#include <c10/core/Stream.h>
#include <torch/types.h>

#include <functional>
#include <memory>
#include <optional>

namespace bert {

// Whether this build can capture CUDA graphs.
bool cuda_graphs_available();

// A recorded graph. The constructor runs `work` under capture on the current CUDA stream, which
// must not be the default stream (see SideStream): kernels are recorded, not run. The tensors the
// work allocates come from the graph's private memory pool and keep their addresses, so its
// inputs and outputs are tensors the caller holds across replays.
class CudaGraph {
 public:
  explicit CudaGraph(const std::function<void()>& work);
  ~CudaGraph();
  CudaGraph(const CudaGraph&) = delete;
  CudaGraph& operator=(const CudaGraph&) = delete;
  void replay();  // queues the recorded work on the current stream

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Makes a stream of the device's pool (not the default stream) current while it lives; a no-op
// on the CPU. Graphs must be captured on such a stream; the work before and after a capture runs
// on it too, so that everything stays in one stream order. Entering waits for the device and
// leaving for the side stream, so that work on either side of it stays ordered.
class SideStream {
 public:
  explicit SideStream(const torch::Device& device);
  ~SideStream();
  SideStream(const SideStream&) = delete;
  SideStream& operator=(const SideStream&) = delete;

 private:
  std::optional<c10::Stream> side_, previous_;
};

}  // namespace bert
