// The `bert` binary: parses flags with CLI11 and hands each subcommand to the library.
// Any bert::Error (bad file, bad flag, bad checkpoint) and any flag CLI11 rejects becomes one line
// on stderr and exit 1.
#include "apps/commands.h"
#include "bert/util/error.h"

#include <CLI/CLI.hpp>
#include <c10/util/Exception.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

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

// CLI11 shows a flag's negating name with the value it sets ("--no-split-by-length{false}"); the
// names alone read better, and every description says the default.
class HelpFormatter : public CLI::Formatter {
 public:
  std::string make_option_name(const CLI::Option* option, bool is_positional) const override {
    std::string name = CLI::Formatter::make_option_name(option, is_positional);
    for (size_t open = name.find('{'); open != std::string::npos; open = name.find('{', open)) {
      const size_t close = name.find('}', open);
      if (close == std::string::npos) break;
      name.erase(open, close - open + 1);
    }
    return name;
  }
};

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// The first word on the command line that looks like a flag but is none of the subcommand's
// ("--trian"), with the nearest real one. CLI11 would rather report a required flag as missing,
// or list the leftovers backwards ("1 --epoch"); the misspelt flag is what the user needs to see.
// `first_flag` is argv's index after the subcommand's name(s).
std::string unknown_flag_message(const CLI::App& sub, const std::string& command, int first_flag, int argc,
                                 char** argv) {
  std::vector<std::string> names;
  for (const auto* option : sub.get_options()) {
    for (const auto& n : option->get_lnames()) names.push_back("--" + n);
    for (const auto& n : option->get_snames()) names.push_back("-" + n);
  }
  for (int i = first_flag; i < argc; ++i) {
    std::string word = argv[i];
    if (word.size() < 2 || word[0] != '-' || std::isdigit(static_cast<unsigned char>(word[1])) || word[1] == '.')
      continue;  // a value, negative numbers included
    word = word.substr(0, word.find('='));
    if (std::find(names.begin(), names.end(), word) != names.end()) continue;
    // The model directory's flag in the subcommands that call it otherwise.
    const auto has = [&](const char* name) { return std::find(names.begin(), names.end(), name) != names.end(); };
    if (word == "--model" && has("--model-config"))
      return "--model is not a flag of bert " + command +
             ": a checkpoint to continue from is --init, a fresh model's config.json --model-config";
    if ((word == "--init" && has("--model")) || (word == "--model" && has("--init")))
      return word + " is not a flag of bert " + command + ": its model directory is " + (has("--model") ? "--model" : "--init");
    std::string nearest;
    size_t best = 3;  // suggest only close spellings
    for (const auto& name : names) {
      const size_t d = edit_distance(word, name);
      if (d < best || (d == best && !nearest.empty() && name.size() < nearest.size())) best = d, nearest = name;
    }
    return "unknown flag " + word + " for bert " + command +
           (nearest.empty() ? std::string() : " (did you mean " + nearest + "?)");
  }
  return "";
}

// CLI11's words for a flag given twice ("--max-seq-len: At Most 1 required but received 2").
std::string flag_error_message(const CLI::ParseError& e) {
  std::string what = e.what();
  const std::string twice = ": At Most 1 required but received ";
  if (auto at = what.find(twice); at != std::string::npos)
    return what.substr(0, at) + ": given " + what.substr(at + twice.size()) +
           " times (under this or another of its names), expected once";
  return what;
}
}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"bert: pre-train, fine-tune, evaluate and run BERT models with LibTorch"};
  app.formatter(std::make_shared<HelpFormatter>());  // before the subcommands, which copy it
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
    // A flag error: exit 1 as every user error, pointing at the (innermost) subcommand's own help.
    const CLI::App* sub = &app;
    std::string command;
    int depth = 0;
    while (!sub->get_subcommands().empty()) {
      sub = sub->get_subcommands().front();
      command += (command.empty() ? "" : " ") + sub->get_name();
      ++depth;
    }
    // Leftover or missing flags may come from a misspelt one; other errors (a bad value) say so themselves.
    const bool flags_wrong = dynamic_cast<const CLI::ExtrasError*>(&e) || dynamic_cast<const CLI::RequiredError*>(&e);
    std::string message = depth && flags_wrong ? unknown_flag_message(*sub, command, 1 + depth, argc, argv) : "";
    if (message.empty()) message = flag_error_message(e);
    std::cerr << "error: " << message << " (see bert " << (depth ? command + " " : "") << "--help)\n";
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
