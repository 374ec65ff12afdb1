// Flags every subcommand shares (--threads, --log-level) and the one place that applies them.
#pragma once

#include "bert/dist/process_group.h"

#include <CLI/CLI.hpp>

#include <memory>
#include <string>

namespace bert::app {

struct CommonOptions {
  int threads = 0;  // 0 = all cores
  std::string log_level = "info";
};

void add_common_options(CLI::App* cmd, CommonOptions& options);
// Number checks for option->check(): "must be >= 0, found -1" (CLI11's own print the whole
// double range).
CLI::Validator non_negative_number();
CLI::Validator positive_number();
// --resume / --no-resume (→ resume_mode "always" / "never", else it stays "auto") and
// --max-bad-steps: the run-control flags pretrain and finetune share.
void add_run_control_options(CLI::App* cmd, std::string& resume_mode, int& max_bad_steps);
// Sets LibTorch's intra-op threads and the log level; call first in every run_x(). Inside a
// data-parallel worker (RANK set), --threads 0 means the cores shared out among the local workers,
// and ranks other than 0 log warnings and errors only.
void apply_common_options(const CommonOptions& options);

// --nproc, --dist-backend, --dist-timeout and --dist-bucket-mb, for the training commands.
struct DistributedFlags {
  int nproc = 1;
  std::string backend = "auto";
  int timeout_s = 1800;
  double bucket_mb = 25;
};
void add_distributed_options(CLI::App* cmd, DistributedFlags& flags);
// With --nproc N > 1 outside a worker: runs the command as N workers and returns true once they
// all succeeded (throws when one fails). Otherwise returns false: run the command here. `device` is
// the command's --device (it decides the backend).
bool launched_workers(const DistributedFlags& flags, const std::string& device);
// This process's place in the worker group (torchrun's variables; one process when unset).
std::unique_ptr<dist::ProcessGroup> join_workers(const DistributedFlags& flags, const std::string& device);

}  // namespace bert::app
