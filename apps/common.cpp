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

void apply_common_options(const CommonOptions& o) {
  log::set_level(o.log_level);
  int n = configure_threads(o.threads);
  log::debug("[setup] {} intra-op threads", n);
}

}  // namespace bert::app
