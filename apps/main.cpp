// The `bert` binary: parses flags with CLI11 and hands each subcommand to the library.
// Any bert::Error (bad file, bad flag, bad checkpoint) and any flag CLI11 rejects becomes one line
// on stderr and exit 1.
#include "apps/commands.h"
#include "bert/util/error.h"

#include <CLI/CLI.hpp>
#include <c10/util/Exception.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>

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
  if (argc > 1 && argv[1][0] != '-') {  // CLI11 alone would say "A subcommand is required"
    std::string names;
    bool known = false;
    for (const auto* sub : app.get_subcommands([](CLI::App*) { return true; })) {
      known |= sub->get_name() == argv[1];
      names += (names.empty() ? "" : ", ") + sub->get_name();
    }
    if (!known) {
      std::cerr << "error: unknown subcommand \"" << argv[1] << "\" (expected one of: " << names << ")\n";
      leave(1);
    }
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == static_cast<int>(CLI::ExitCodes::Success)) leave(app.exit(e));  // --help, --version
    std::cerr << "error: " << e.what() << " (see bert --help)\n";  // a flag error: exit 1 as every user error
    leave(1);
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
