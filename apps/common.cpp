#include "apps/common.h"

#include "bert/util/threads.h"

#include "bert/util/log.h"

namespace bert::app {

void add_common_options(CLI::App* cmd, CommonOptions& o) {
  cmd->add_option("--threads", o.threads, "LibTorch intra-op threads (default: 0 = all cores)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--log-level", o.log_level, "trace|debug|info|warn|error (default: info)")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}));
}

void add_run_control_options(CLI::App* cmd, std::string& resume_mode, int& max_bad_steps) {
  auto* resume = cmd->add_flag_callback(
      "--resume", [&resume_mode] { resume_mode = "always"; },
      "require a checkpoint in --out to continue from (default: continue when there is one, else start)");
  auto* no_resume = cmd->add_flag_callback("--no-resume", [&resume_mode] { resume_mode = "never"; },
                                           "refuse an --out that already holds checkpoints (default: off)");
  resume->excludes(no_resume);
  cmd->add_option("--max-bad-steps", max_bad_steps,
                  "steps in a row with a non-finite loss (each skipped) that stop the run (default: 5)");
}

void apply_common_options(const CommonOptions& o) {
  log::set_level(o.log_level);
  int n = configure_threads(o.threads);
  log::debug("[setup] {} intra-op threads", n);
}

}  // namespace bert::app
