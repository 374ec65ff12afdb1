// Every subcommand registers itself on the root app; main() only dispatches.
#pragma once

#include <CLI/CLI.hpp>

namespace bert::app {

void setup_info(CLI::App& app);
void setup_convert(CLI::App& app);

}  // namespace bert::app
