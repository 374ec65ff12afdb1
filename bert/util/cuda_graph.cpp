#include "bert/util/cuda_graph.h"

#include "bert/util/error.h"

#include <c10/core/impl/VirtualGuardImpl.h>

#if BERT_HAVE_CUDA_GRAPHS
#include <ATen/cuda/CUDAGraph.h>
#endif

namespace bert {

#if BERT_HAVE_CUDA_GRAPHS

bool cuda_graphs_available() { return true; }

struct CudaGraph::Impl {
  at::cuda::CUDAGraph graph;
};

CudaGraph::CudaGraph(const std::function<void()>& work) : impl_(std::make_unique<Impl>()) {
  // The default generator is registered by capture_begin: dropout draws new numbers each replay.
  impl_->graph.capture_begin();
  try {
    work();
  } catch (...) {
    try {
      impl_->graph.capture_end();  // leave the stream out of capture mode before reporting
    } catch (...) {
    }
    throw;
  }
  impl_->graph.capture_end();
}

void CudaGraph::replay() { impl_->graph.replay(); }

#else

bool cuda_graphs_available() { return false; }

struct CudaGraph::Impl {};

CudaGraph::CudaGraph(const std::function<void()>&) {
  throw Error("this build of bert has no CUDA graphs (it needs a CUDA LibTorch and the CUDA runtime's headers "
              "when it is built)");
}

void CudaGraph::replay() {}

#endif

CudaGraph::~CudaGraph() = default;

SideStream::SideStream(const torch::Device& device) {
  if (!device.is_cuda()) return;
  c10::impl::VirtualGuardImpl impl(device.type());
  const torch::Device gpu(device.type(), device.has_index() ? device.index() : impl.getDevice().index());
  impl.synchronizeDevice(gpu.index());  // what the default stream queued (the model's copy) comes first
  side_ = impl.getStreamFromGlobalPool(gpu, /*isHighPriority=*/false);
  previous_ = impl.exchangeStream(*side_);
}

SideStream::~SideStream() {
  if (!previous_) return;
  c10::impl::VirtualGuardImpl impl(previous_->device_type());
  try {
    impl.synchronizeStream(*side_);  // and the side stream's work before the default stream's next
  } catch (...) {
    // A CUDA error already on its way out as an exception: not a second one from a destructor.
  }
  impl.exchangeStream(*previous_);
}

}  // namespace bert
