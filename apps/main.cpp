// The `bert` binary: parses flags with CLI11 and hands each subcommand to the library.
// Any bert::Error (bad file, bad flag, bad checkpoint) becomes one line on stderr and exit 1.
#include "apps/commands.h"
#include "bert/util/error.h"

#include <CLI/CLI.hpp>
#include <c10/util/Exception.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>

namespace {
// Flushes what we wrote and leaves without running LibTorch's static destructors, which took
// 0.2-0.3 s of every command's wall time (a one-line `bert predict` or `bert --version` most of
// all). Every way out of main goes through here, errors and --help included.
[[noreturn]] void leave(int code) {
  std::cout.flush();
  std::cerr.flush();
  std::fflush(nullptr);
  std::_Exit(code);
}
}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"bert: pre-train, fine-tune, evaluate and run BERT models with LibTorch"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "bert 0.1.0");
  bert::app::setup_info(app);
  bert::app::setup_convert(app);
  bert::app::setup_pretrain(app);
  bert::app::setup_finetune(app);
  bert::app::setup_evaluate(app);
  bert::app::setup_predict(app);
  bert::app::setup_embed(app);
  bert::app::setup_tokenizer(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    leave(app.exit(e));  // --help, --version or a flag error: CLI11 prints it and picks the code
  } catch (const bert::Error& e) {
    std::cerr << "error: " << e.what() << "\n";
    leave(1);
  } catch (const c10::Error& e) {
    std::cerr << "error: " << e.what_without_backtrace() << "\n";
    leave(1);
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    leave(1);
  }
  leave(0);
}
