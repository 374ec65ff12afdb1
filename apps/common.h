// Flags every subcommand shares (--threads, --log-level) and the one place that applies them.
#pragma once

#include <CLI/CLI.hpp>

#include <string>

namespace bert::app {

struct CommonOptions {
  int threads = 0;  // 0 = all cores
  std::string log_level = "info";
};

void add_common_options(CLI::App* cmd, CommonOptions& options);
// --resume / --no-resume (→ resume_mode "always" / "never", else it stays "auto") and
// --max-bad-steps: the run-control flags pretrain and finetune share.
void add_run_control_options(CLI::App* cmd, std::string& resume_mode, int& max_bad_steps);
// Sets LibTorch's intra-op threads and the log level; call first in every run_x().
void apply_common_options(const CommonOptions& options);

}  // namespace bert::app
