// `bert convert`: import a Hugging Face directory or .bin file into our layout, or export ours
// in another dtype.
#include "apps/commands.h"
#include "apps/common.h"
#include "bert/io/convert.h"

#include "bert/util/log.h"

#include <memory>

namespace bert::app {

struct ConvertCommandOptions {
  CommonOptions common;
  std::string input, config, out, dtype = "float32";
};

void run_convert(const ConvertCommandOptions& o) {
  apply_common_options(o.common);
  io::ConvertOptions c;
  c.input = o.input;
  c.config_path = o.config;
  c.out_dir = o.out;
  c.dtype = io::parse_dtype(o.dtype);
  log::info("{}", io::convert_checkpoint(c));
}

void setup_convert(CLI::App& app) {
  auto o = std::make_shared<ConvertCommandOptions>();
  auto* cmd = app.add_subcommand("convert", "Import/export a checkpoint as a Hugging Face directory");
  cmd->add_option("--input", o->input, "Hugging Face directory, or a pytorch_model.bin / .safetensors file")
      ->required();
  cmd->add_option("--config", o->config, "config.json for a lone weight file (default: the one beside it)");
  cmd->add_option("--out", o->out, "output directory (created)")->required();
  cmd->add_option("--dtype", o->dtype, "weight dtype written: float32|bfloat16|float16, or fp32|bf16|fp16 (default: float32)");
  add_common_options(cmd, o->common);
  cmd->callback([o] { run_convert(*o); });
}

}  // namespace bert::app
