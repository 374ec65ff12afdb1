// Data-parallel training on LibTorch's own distributed library (c10d, Gloo backend).
//
// Workers are configured the way `torchrun` configures them: RANK, WORLD_SIZE, LOCAL_RANK,
// LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT (rank 0 hosts the TCPStore rendezvous), so torchrun,
// SLURM scripts and Kubernetes jobs that set these work unchanged; `--nproc N` (launcher.h) sets
// them for N local workers. Without WORLD_SIZE (or with 1) the group is a single process and every
// call below is a no-op, so the training loops have one code path.
//
// Every worker builds the same global batch (B x WORLD_SIZE rows, same seed) and trains on its own
// rows of it; gradients are averaged across workers before clipping, so a step of N workers with
// batch B matches one step of a single process with batch N x B. A worker that dies closes its
// connections and a worker that hangs stops answering: either way the others' next collective
// fails (at once, or after --dist-timeout) with a bert::Error naming the rank and the operation.
#pragma once

#include <torch/types.h>

#include <chrono>
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

class ProcessGroup {
 public:
  // World size 1: no connection, no threads. Otherwise connects to the rendezvous (rank 0
  // serves it) and builds a Gloo group; both wait at most `timeout` for the other workers.
  ProcessGroup(const WorkerEnvironment& env, std::chrono::milliseconds timeout);
  ~ProcessGroup();
  ProcessGroup(const ProcessGroup&) = delete;
  ProcessGroup& operator=(const ProcessGroup&) = delete;

  int rank() const { return env_.rank; }
  int world_size() const { return env_.world_size; }
  int local_rank() const { return env_.local_rank; }
  bool is_main() const { return env_.rank == 0; }
  bool active() const { return env_.world_size > 1; }

  // Copies rank 0's values into every worker's tensors (in place).
  void broadcast_from_main(const std::vector<torch::Tensor>& tensors);
  // Replaces each parameter's gradient by its mean over the workers (a missing gradient counts
  // as zeros). Gradients go in flat buckets of about `bucket_bytes`, all buckets in flight at
  // once, so the transfers overlap each other rather than run one tensor at a time.
  void average_gradients(const std::vector<torch::Tensor>& parameters, int64_t bucket_bytes = 25 << 20);
  // Element-wise sum over the workers (losses, counts, the stop flag).
  std::vector<double> sum(const std::vector<double>& values);
  // Waits until every worker got here; `what` names the place for the error message.
  void barrier(const std::string& what);

 private:
  struct Impl;
  WorkerEnvironment env_;
  std::chrono::milliseconds timeout_;
  std::unique_ptr<Impl> impl_;
};

// Rows [begin, end) of `n` that worker `rank` of `world` takes: contiguous, sizes differ by at
// most one, together exactly 0..n.
std::pair<int64_t, int64_t> shard_range(int64_t n, int rank, int world);

}  // namespace bert::dist
