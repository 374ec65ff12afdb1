// Command-line front end to WordPieceTokenizer for cross-checking it against Hugging Face from
// Python (scripts/compare_tokenizers.py): reads texts from stdin, encodes them, and writes one
// JSON object per input line. No LibTorch. Input formats: "tsv" (default; one text per line, or
// text<TAB>pair) and "jsonl" ({"text": ..., "pair": ...} per line, for texts that contain tabs,
// newlines or control characters). Output fields: ids, type_ids, tokens, and with --details
// also offsets, word_ids and decoded (= decode(ids, skip_special_tokens=true)).
//
//   tokenizer_tool --vocab vocab.txt [--lowercase 1] [--strip-accents auto|0|1]
//                  [--max-length N] [--input tsv|jsonl] [--details] [--threads N]
//                  [--never-split TOKEN]... [--save DIR]
#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bert/tokenizer/wordpiece.h"
#include "bert/util/error.h"

namespace {

[[noreturn]] void usage(const std::string& msg) {
  std::cerr << "tokenizer_tool: " << msg
            << "\nusage: tokenizer_tool --vocab FILE [--lowercase 0|1] [--strip-accents auto|0|1]"
               " [--max-length N] [--input tsv|jsonl] [--details] [--threads N]"
               " [--never-split TOKEN]... [--save DIR]\n";
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  using bert::tokenizer::WordPieceOptions;
  using bert::tokenizer::WordPieceTokenizer;
  WordPieceOptions opt;
  size_t max_length = 0;
  std::string input = "tsv";
  std::string save_dir;
  bool details = false;
  int threads = 1;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage("missing value after " + a);
      return argv[++i];
    };
    if (a == "--vocab") {
      opt.vocab_path = value();
    } else if (a == "--lowercase") {
      const std::string v = value();
      if (v != "0" && v != "1") usage("--lowercase expects 0 or 1, found '" + v + "'");
      opt.do_lower_case = v == "1";
    } else if (a == "--strip-accents") {
      const std::string v = value();
      if (v == "auto") opt.strip_accents.reset();
      else if (v == "0" || v == "1") opt.strip_accents = v == "1";
      else usage("--strip-accents expects auto, 0 or 1, found '" + v + "'");
    } else if (a == "--max-length") {
      max_length = std::stoul(value());
    } else if (a == "--input") {
      input = value();
      if (input != "tsv" && input != "jsonl") usage("--input expects tsv or jsonl");
    } else if (a == "--details") {
      details = true;
    } else if (a == "--threads") {
      threads = std::stoi(value());
    } else if (a == "--never-split") {
      opt.never_split.push_back(value());
    } else if (a == "--save") {
      save_dir = value();
    } else {
      usage("unknown argument '" + a + "'");
    }
  }
  if (opt.vocab_path.empty()) usage("--vocab is required");

  try {
    const WordPieceTokenizer tok(opt);
    if (!save_dir.empty()) tok.save(save_dir);

    std::vector<std::string> texts, pairs;
    std::vector<bool> has_pair;
    std::string line;
    size_t line_no = 0;
    while (std::getline(std::cin, line)) {
      ++line_no;
      if (input == "tsv") {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        const size_t tab = line.find('\t');
        texts.push_back(line.substr(0, tab));
        pairs.push_back(tab == std::string::npos ? std::string() : line.substr(tab + 1));
        has_pair.push_back(tab != std::string::npos);
      } else {
        nlohmann::json j;
        try {
          j = nlohmann::json::parse(line);
        } catch (const nlohmann::json::exception& e) {
          throw bert::Error("stdin line " + std::to_string(line_no) +
                            ": expected a JSON object, parse error: " + e.what());
        }
        if (!j.is_object() || !j.contains("text") || !j["text"].is_string()) {
          throw bert::Error("stdin line " + std::to_string(line_no) +
                            ": expected an object with a string \"text\"");
        }
        texts.push_back(j["text"].get<std::string>());
        const bool p = j.contains("pair") && !j["pair"].is_null();
        pairs.push_back(p ? j["pair"].get<std::string>() : std::string());
        has_pair.push_back(p);
      }
    }
    // encode_batch takes one mode for the whole batch; mixed input is encoded one by one.
    const size_t n_pairs = static_cast<size_t>(std::count(has_pair.begin(), has_pair.end(), true));
    std::vector<bert::tokenizer::Encoding> encs;
    if (n_pairs == 0) {
      encs = tok.encode_batch(texts, nullptr, max_length, threads);
    } else if (n_pairs == texts.size()) {
      encs = tok.encode_batch(texts, &pairs, max_length, threads);
    } else {
      for (size_t i = 0; i < texts.size(); ++i) {
        encs.push_back(has_pair[i] ? tok.encode(texts[i], std::string_view(pairs[i]), max_length)
                                   : tok.encode(texts[i], std::nullopt, max_length));
      }
    }
    std::string out;
    for (const auto& e : encs) {
      nlohmann::json j;
      j["ids"] = e.ids;
      j["type_ids"] = e.type_ids;
      j["tokens"] = e.tokens;
      if (details) {
        nlohmann::json offs = nlohmann::json::array();
        for (const auto& [b, en] : e.offsets) offs.push_back({b, en});
        j["offsets"] = offs;
        j["word_ids"] = e.word_ids;
        j["decoded"] = tok.decode(e.ids, true);
      }
      out += j.dump();
      out += '\n';
    }
    std::cout << out;
  } catch (const bert::Error& e) {
    std::cerr << "tokenizer_tool: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
