#include "bert/data/squad_reader.h"

#include "bert/util/error.h"
#include "bert/util/files.h"
#include "bert/util/text.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <sstream>
#include <unordered_set>

namespace bert::data {

using nlohmann::json;

namespace {

bool is_continuation_byte(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

// Byte offset of the code point with index `chars`, or npos past the end.
size_t byte_offset_of(const std::string& s, size_t chars) {
  size_t seen = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if (is_continuation_byte(s[i])) continue;
    if (seen == chars) return i;
    ++seen;
  }
  return seen == chars ? s.size() : std::string::npos;
}

class Reader {
 public:
  Reader(std::string path, const SquadReadOptions& options) : path_(std::move(path)), options_(options) {}

  // One question: `q` is its JSON object, `context` its context's index, `where` names it in messages.
  void add_question(const json& q, size_t context, const std::string& where, size_t ordinal) {
    if (!q.is_object()) fail(where, "expected an object with \"question\", found " + type_of(q));
    Question out;
    out.where = where;
    out.context = context;
    out.question = string_field(q, "question", where);
    out.id = id_of(q, where, ordinal);
    if (!ids_.insert(out.id).second) fail(where, "the id \"" + out.id + "\" is used twice (ids name predictions)");
    if (options_.has_answers) {
      const bool impossible = q.contains("is_impossible") && q["is_impossible"].is_boolean() && q["is_impossible"].get<bool>();
      if (!impossible) {
        if (!q.contains("answers"))
          fail(where, "no \"answers\" (an unanswerable question has \"answers\": [] or \"is_impossible\": true)");
        try {
          out.answers = answers_of(q["answers"], file_.contexts[context], where);
        } catch (const Error& e) {
          if (!options_.skip_bad_rows) throw;
          ++file_.skipped;
          return;
        }
      }
      if (out.answers.empty()) ++file_.unanswerable;
    }
    file_.questions.push_back(std::move(out));
  }

  size_t add_context(std::string context) {
    // Exports of SQuAD repeat the context on every question of a paragraph: store it once.
    if (file_.contexts.empty() || file_.contexts.back() != context) file_.contexts.push_back(std::move(context));
    return file_.contexts.size() - 1;
  }

  std::string string_field(const json& o, const char* key, const std::string& where) const {
    if (!o.contains(key)) fail(where, std::string("missing \"") + key + "\"");
    if (!o[key].is_string()) fail(where, std::string("\"") + key + "\" must be a string, found " + type_of(o[key]));
    return o[key].get<std::string>();
  }

  [[noreturn]] void fail(const std::string& where, const std::string& what) const { throw Error(where + ": " + what); }

  static std::string type_of(const json& j) {
    return j.is_null() ? "null" : j.is_object() ? "an object" : j.is_array() ? "an array" : j.is_string() ? "a string"
           : j.is_boolean() ? "a boolean" : "a number";
  }

  SquadFile take() { return std::move(file_); }

 private:
  std::string id_of(const json& q, const std::string& where, size_t ordinal) const {
    if (!q.contains("id")) return std::to_string(ordinal + 1);  // no ids: the question's position, from 1
    const auto& id = q["id"];
    if (id.is_string()) return id.get<std::string>();
    if (id.is_number_integer()) return std::to_string(id.get<int64_t>());
    fail(where, "\"id\" must be a string or an integer, found " + type_of(id));
  }

  // Either [{"text", "answer_start"}, ...] (SQuAD) or {"text": [...], "answer_start": [...]} (datasets).
  std::vector<Answer> answers_of(const json& a, const std::string& context, const std::string& where) const {
    std::vector<std::pair<json, json>> pairs;  // (text, answer_start)
    if (a.is_array()) {
      for (const auto& item : a) {
        if (!item.is_object() || !item.contains("text") || !item.contains("answer_start"))
          fail(where, "each answer must be an object with \"text\" and \"answer_start\", found " + item.dump());
        pairs.emplace_back(item["text"], item["answer_start"]);
      }
    } else if (a.is_object() && a.contains("text") && a.contains("answer_start") && a["text"].is_array() &&
               a["answer_start"].is_array()) {
      if (a["text"].size() != a["answer_start"].size())
        fail(where, fmt::format("\"answers\" has {} texts but {} answer_start values", a["text"].size(),
                                a["answer_start"].size()));
      for (size_t i = 0; i < a["text"].size(); ++i) pairs.emplace_back(a["text"][i], a["answer_start"][i]);
    } else {
      fail(where, "\"answers\" must be a list of {\"text\", \"answer_start\"} or {\"text\": [...], \"answer_start\": "
                  "[...]}, found " + type_of(a));
    }
    std::vector<Answer> answers;
    for (const auto& [text, start] : pairs) {
      if (!text.is_string()) fail(where, "an answer's \"text\" must be a string, found " + type_of(text));
      if (!start.is_number_integer() || start.get<int64_t>() < 0)
        fail(where, "\"answer_start\" must be a character offset >= 0, found " + start.dump());
      Answer ans;
      ans.text = text.get<std::string>();
      if (ans.text.empty()) fail(where, "an answer's \"text\" is empty");
      ans.char_start = start.get<size_t>();
      ans.begin = byte_offset_of(context, ans.char_start);
      ans.end = ans.begin == std::string::npos ? ans.begin : ans.begin + ans.text.size();
      if (ans.begin == std::string::npos || ans.end > context.size() ||
          context.compare(ans.begin, ans.text.size(), ans.text) != 0) {
        const std::string found = ans.begin == std::string::npos
                                      ? "the context is only " + std::to_string(code_point_count(context, context.size())) +
                                            " characters long"
                                      : "found " + quote_snippet(context.substr(ans.begin, ans.text.size())) + " there";
        fail(where, fmt::format("the answer {} is not at character {} of the context ({}); answer_start counts "
                                "characters (Unicode code points), as Python's str indexes do",
                                quote_snippet(ans.text), ans.char_start, found));
      }
      answers.push_back(std::move(ans));
    }
    return answers;
  }

  std::string path_;
  SquadReadOptions options_;
  SquadFile file_;
  std::unordered_set<std::string> ids_;
};

// A flat record: {"id", "question", "context", "answers"} (one JSON line, or an element of a list).
void add_flat_record(Reader& reader, const json& record, const std::string& where, size_t ordinal) {
  if (!record.is_object()) reader.fail(where, "expected an object with \"question\" and \"context\", found " + Reader::type_of(record));
  const size_t context = reader.add_context(reader.string_field(record, "context", where));
  reader.add_question(record, context, where, ordinal);
}

void read_nested(Reader& reader, const json& root, const std::string& path) {
  const auto& data = root["data"];
  if (!data.is_array()) reader.fail(path, "\"data\" must be a list of articles, found " + Reader::type_of(data));
  size_t ordinal = 0;
  for (size_t i = 0; i < data.size(); ++i) {
    const std::string article = fmt::format("{}: data[{}]", path, i);
    if (!data[i].is_object() || !data[i].contains("paragraphs") || !data[i]["paragraphs"].is_array())
      reader.fail(article, "expected an object with a \"paragraphs\" list");
    const auto& paragraphs = data[i]["paragraphs"];
    for (size_t j = 0; j < paragraphs.size(); ++j) {
      const std::string paragraph = fmt::format("{}.paragraphs[{}]", article, j);
      const auto& p = paragraphs[j];
      if (!p.is_object()) reader.fail(paragraph, "expected an object with \"context\" and \"qas\"");
      const size_t context = reader.add_context(reader.string_field(p, "context", paragraph));
      if (!p.contains("qas") || !p["qas"].is_array()) reader.fail(paragraph, "expected a \"qas\" list of questions");
      for (size_t k = 0; k < p["qas"].size(); ++k)
        reader.add_question(p["qas"][k], context, fmt::format("{}.qas[{}]", paragraph, k), ordinal++);
    }
  }
}

void read_lines(Reader& reader, const std::string& text, const std::string& path) {
  std::istringstream in(text);
  size_t line_number = 0, ordinal = 0;
  for (std::string line; std::getline(in, line);) {
    ++line_number;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string where = path + ":" + std::to_string(line_number);
    json record;
    try {
      record = json::parse(line);
    } catch (const json::exception& e) {  // parse_error, or out_of_range for a number too large
      throw Error(where + ": not valid JSON (" + e.what() + ")");
    }
    add_flat_record(reader, record, where, ordinal++);
  }
}

}  // namespace

std::string SquadFile::summary(const std::string& path) const {
  auto s = fmt::format("{}: {} questions on {} contexts", path, questions.size(), contexts.size());
  if (unanswerable) s += fmt::format(", {} unanswerable", unanswerable);
  if (skipped) s += fmt::format(", {} bad questions skipped", skipped);
  return s;
}

bool is_squad_path(const std::string& path) { return ends_with(path, ".json") || ends_with(path, ".jsonl"); }

size_t code_point_count(const std::string& s, size_t byte_offset) {
  size_t n = 0;
  for (size_t i = 0; i < byte_offset && i < s.size(); ++i)
    if (!is_continuation_byte(s[i])) ++n;
  return n;
}

SquadFile read_squad(const std::string& path, const SquadReadOptions& options) {
  const std::string text = read_text_file(path);
  Reader reader(path, options);
  // `datasets` writes JSON lines even under a .json name, so a .json file that is not one JSON
  // document is read as lines.
  const size_t first = text.find_first_not_of(" \t\r\n\xEF\xBB\xBF");
  if (first == std::string::npos) throw Error(path + ": empty file (expected SQuAD JSON or JSON lines)");
  json root;
  bool whole_document = !ends_with(path, ".jsonl");
  if (whole_document) {
    try {
      root = json::parse(text.begin() + static_cast<std::ptrdiff_t>(first), text.end());
    } catch (const json::exception& e) {  // parse_error, or out_of_range for a number too large
      const size_t newline = text.find('\n', first);
      const bool looks_like_lines = text[first] == '{' && newline != std::string::npos &&
                                    json::accept(text.substr(first, newline - first));
      if (!looks_like_lines) throw Error(path + ": not valid JSON (" + e.what() + ")");
      whole_document = false;
    }
  }
  if (!whole_document) {
    read_lines(reader, text.substr(first), path);
  } else if (root.is_object() && root.contains("data")) {
    read_nested(reader, root, path);
  } else if (root.is_array()) {
    for (size_t i = 0; i < root.size(); ++i) add_flat_record(reader, root[i], fmt::format("{}: [{}]", path, i), i);
  } else if (root.is_object() && root.contains("question")) {
    add_flat_record(reader, root, path, 0);  // one record on one line
  } else {
    throw Error(path + ": expected SQuAD JSON ({\"data\": [{\"paragraphs\": [...]}]}), a list of {\"question\", "
                "\"context\", \"answers\"} records, or JSON lines of them");
  }
  auto file = reader.take();
  if (file.questions.empty()) throw Error(path + ": no questions");
  return file;
}

}  // namespace bert::data
