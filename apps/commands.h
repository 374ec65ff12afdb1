// Every subcommand registers itself on the root app; main() only dispatches.
#pragma once

#include <CLI/CLI.hpp>

namespace bert::app {

void setup_info(CLI::App& app);
void setup_convert(CLI::App& app);
void setup_pretrain(CLI::App& app);
void setup_finetune(CLI::App& app);
void setup_evaluate(CLI::App& app);
void setup_predict(CLI::App& app);
void setup_embed(CLI::App& app);
void setup_tokenizer(CLI::App& app);

}  // namespace bert::app
