// Reader for extractive question-answering data in the two layouts people have:
//   - SQuAD's JSON (v1.1 and v2.0): {"data": [{"title", "paragraphs": [{"context", "qas": [{"id",
//     "question", "answers": [{"text", "answer_start"}], "is_impossible"}]}]}]}
//   - JSON lines as Hugging Face `datasets` exports SQuAD: one {"id", "title", "question", "context",
//     "answers": {"text": [...], "answer_start": [...]}} per line (a list of {"text",
//     "answer_start"} objects is accepted too).
// `answer_start` counts Unicode code points, as Python's str indexes do; the reader converts it to
// a byte span of the UTF-8 context and checks that the context holds the answer's text there, so a
// file written with byte offsets (or one character off) is an error naming the question, not a
// model silently trained on the wrong span. A question without answers (or with "is_impossible":
// true) is unanswerable, as in SQuAD v2.0. Each context is stored once and shared by its
// questions. Torch-free so that the parsing rules can be tested on their own.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace bert::data {

struct Answer {
  std::string text;
  size_t char_start = 0;         // code points from the start of the context
  size_t begin = 0, end = 0;     // the same span in bytes [begin, end)
};

struct Question {
  std::string id;
  std::string question;
  size_t context = 0;            // index into SquadFile::contexts
  std::vector<Answer> answers;   // empty: unanswerable (or, for prediction input, unknown)
  std::string where;             // "file:line" (JSON lines) or "file: data[i].paragraphs[j].qas[k]", for messages
};

struct SquadReadOptions {
  bool has_answers = true;     // false for prediction input: answers are neither needed nor read
  bool skip_bad_rows = false;  // skip (and count) questions whose answers do not match their context
};

struct SquadFile {
  std::vector<std::string> contexts;
  std::vector<Question> questions;
  size_t unanswerable = 0;  // questions without an answer (has_answers only)
  size_t skipped = 0;       // bad questions skipped with skip_bad_rows
  std::string summary(const std::string& path) const;
};

// Throws bert::Error naming the file and the question (line, or its place in the JSON tree), what
// was expected and what was found.
SquadFile read_squad(const std::string& path, const SquadReadOptions& options = {});

// True when `path` looks like question-answering data: a .json or .jsonl file.
bool is_squad_path(const std::string& path);

// Code points in s[0, byte_offset): turns byte offsets back into Python string indexes.
size_t code_point_count(const std::string& s, size_t byte_offset);

}  // namespace bert::data
