#include "bert/dist/nccl_backend.h"

#include "bert/dist/process_group.h"  // nccl_available()
#include "bert/util/error.h"

#if BERT_HAVE_NCCL
#include <c10/cuda/CUDAFunctions.h>
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>

#include <cstdlib>
#endif

namespace bert::dist {

#if BERT_HAVE_NCCL

bool nccl_available() { return true; }

c10::intrusive_ptr<c10d::Backend> make_nccl_backend(const c10::intrusive_ptr<c10d::Store>& store, int rank, int size,
                                                    std::chrono::milliseconds timeout, torch::Device device) {
  // Read by the constructor. Without it, wait() returns at once and a collective that never ends is
  // found by NCCL's watchdog thread, which kills the process with a message of its own. A user's
  // own setting is kept.
  ::setenv("TORCH_NCCL_BLOCKING_WAIT", "1", /*overwrite=*/0);
  c10::cuda::set_device(device.index());
  auto options = c10d::ProcessGroupNCCL::Options::create();
  options->timeout = timeout;
  auto group = c10::make_intrusive<c10d::ProcessGroupNCCL>(store, rank, size, options);
  // This worker's GPU for whatever does not name one (PyTorch's init_process_group(device_id=)).
  group->setBoundDeviceId(device);
  return group;
}

#else

bool nccl_available() { return false; }

c10::intrusive_ptr<c10d::Backend> make_nccl_backend(const c10::intrusive_ptr<c10d::Store>&, int, int,
                                                    std::chrono::milliseconds, torch::Device) {
  throw Error("built without c10d's NCCL backend");  // choose_backend() says so first, with the remedy
}

#endif

}  // namespace bert::dist
