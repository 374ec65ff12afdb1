// `bert info DIR`: what a checkpoint directory holds.
#include "apps/commands.h"
#include "apps/common.h"
#include "bert/io/convert.h"

#include <iostream>
#include <memory>

namespace bert::app {

struct InfoOptions {
  CommonOptions common;
  std::string dir;
};

void run_info(const InfoOptions& o) {
  apply_common_options(o.common);
  std::cout << io::describe_checkpoint(o.dir);
}

void setup_info(CLI::App& app) {
  auto o = std::make_shared<InfoOptions>();
  auto* cmd = app.add_subcommand("info", "Describe a checkpoint directory (config, parameters, heads, tokenizer)");
  cmd->add_option("dir", o->dir, "checkpoint directory (ours or Hugging Face's)")->required();
  add_common_options(cmd, o->common);
  cmd->callback([o] { run_info(*o); });
}

}  // namespace bert::app
