// Data-parallel training on LibTorch's own distributed library (c10d): the Gloo backend on CPUs,
// NCCL on CUDA GPUs (each worker its own GPU).
//
// Workers are configured the way `torchrun` configures them: RANK, WORLD_SIZE, LOCAL_RANK,
// LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT (rank 0 hosts the TCPStore rendezvous), so torchrun,
// SLURM scripts and Kubernetes jobs that set these work unchanged; `--nproc N` (launcher.h) sets
// them for N local workers. Without WORLD_SIZE (or with 1) the group is a single process and every
// call below is a no-op, so the training loops have one code path.
//
// Every worker trains on its own B rows of a global batch of B x WORLD_SIZE (pre-training: it builds
// only those, examples rank, rank + W, ... of each epoch; fine-tuning: its slice of each batch of
// row numbers, shard_range below); gradients are averaged across workers before clipping
// (GradientAverager, below: the sums start while the backward pass still runs), so a step of N
// workers with batch B matches one step of a single process with batch N x B. A worker that dies closes its
// connections and a worker that hangs stops answering: either way the others' next collective
// fails (at once, or after --dist-timeout) with a bert::Error naming the rank and the operation.
#pragma once

#include <torch/types.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace bert::dist {

struct WorkerEnvironment {
  int rank = 0;
  int world_size = 1;
  int local_rank = 0;
  int local_world_size = 1;
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;
};

// Reads torchrun's variables; throws bert::Error naming the variable for a malformed value
// (RANK=abc, RANK >= WORLD_SIZE, a port out of range, ...). WORLD_SIZE unset → one process.
WorkerEnvironment worker_environment_from_env();

// Whether this binary was built with c10d's Gloo backend (needs Gloo's headers at build time).
bool distributed_available();
// Whether it was built with c10d's NCCL backend (a CUDA LibTorch and NCCL's nccl.h at build time;
// defined in nccl_backend.cpp).
bool nccl_available();

enum class Backend { gloo, nccl };
const char* backend_name(Backend backend);
// --dist-backend auto|gloo|nccl for a run on --device `device`: auto is NCCL on a CUDA device where
// this build has it, else Gloo (PyTorch's default too). Throws bert::Error for NCCL without a CUDA
// device or in a build without it, and for an unknown name.
// NCCL also refuses a fixed cuda:N shared by several local workers (auto then takes Gloo).
Backend choose_backend(const std::string& name, const std::string& device, int local_workers);

class GradientAverager;

class ProcessGroup {
 public:
  // World size 1: no connection, no threads. Otherwise connects to the rendezvous (rank 0
  // serves it) and builds a `backend` group; both wait at most `timeout` for the other workers.
  // NCCL needs `device`, this worker's GPU (its collectives run on device tensors). Gradients are
  // all-reduced in flat buckets of about `bucket_bytes` (GradientAverager). `even_alone` forms a
  // real group of one worker too (tests: a backend's whole path on a machine with one GPU).
  ProcessGroup(const WorkerEnvironment& env, std::chrono::milliseconds timeout, int64_t bucket_bytes = 25 << 20,
               Backend backend = Backend::gloo, torch::Device device = torch::kCPU, bool even_alone = false);
  ~ProcessGroup();
  ProcessGroup(const ProcessGroup&) = delete;
  ProcessGroup& operator=(const ProcessGroup&) = delete;

  int rank() const { return env_.rank; }
  int world_size() const { return env_.world_size; }
  int local_rank() const { return env_.local_rank; }
  bool is_main() const { return env_.rank == 0; }
  // Whether a group was formed (several workers, or even_alone): the collectives below run.
  bool active() const { return impl_ != nullptr; }

  // Copies rank 0's values into every worker's tensors (in place).
  void broadcast_from_main(const std::vector<torch::Tensor>& tensors);
  // Element-wise sum over the workers (losses, counts, the stop flag).
  std::vector<double> sum(const std::vector<double>& values);
  // Waits until every worker got here; `what` names the place for the error message.
  void barrier(const std::string& what);

 private:
  friend class GradientAverager;
  struct Impl;
  // Runs one collective; a c10d failure becomes a bert::Error naming `what` and the likely cause.
  void collective(const char* what, const std::function<void()>& run);
  WorkerEnvironment env_;
  std::chrono::milliseconds timeout_;
  int64_t bucket_bytes_;
  std::unique_ptr<Impl> impl_;
};

// Replaces each parameter's gradient by its mean over the workers, starting while the backward
// pass still runs. The parameters go into flat buckets of about the group's bucket size, last
// parameters first (backward produces their gradients first). Announce the backward pass that
// completes a step (the last micro-step of an accumulation) with final_backward_next(): during it,
// a hook on each parameter's gradient accumulator notes what is in, and every bucket whose
// gradients are all in is all-reduced at once (on Gloo's threads, or NCCL's stream) while backward
// goes on with the earlier layers. Buckets always go out in the same order on every worker (a later bucket waits
// for an earlier one), as the collectives must match. finish() then sends what is left (a
// parameter with no gradient counts as zeros, e.g. a worker that had no rows this step), waits
// and writes the means into .grad. One process: everything is a no-op. Rank 0 logs how many
// buckets went out early when the averager is destroyed.
class GradientAverager {
 public:
  GradientAverager(ProcessGroup& group, const std::vector<torch::Tensor>& parameters);
  ~GradientAverager();
  GradientAverager(const GradientAverager&) = delete;
  GradientAverager& operator=(const GradientAverager&) = delete;

  void final_backward_next();
  void finish();
  // Over the averager's life: buckets sent by the hooks while backward ran, and all buckets sent.
  int64_t buckets_sent_early() const;
  int64_t buckets_sent() const;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

// Rows [begin, end) of `n` that worker `rank` of `world` takes: contiguous, sizes differ by at
// most one, together exactly 0..n.
std::pair<int64_t, int64_t> shard_range(int64_t n, int rank, int world);

}  // namespace bert::dist
