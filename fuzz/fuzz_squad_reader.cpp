// Fuzz target: the question-answering data reader (bert/data/squad_reader.h) on arbitrary bytes,
// as SQuAD JSON or JSON lines (the file name's extension and the options come from the first
// input byte, so a head of a real SQuAD file is a useful seed). Checked: what the header promises
// of a file it accepts — questions present, contexts shared by index, ids unique, every answer a
// byte span of its context holding exactly the answer's text at the character offset given, and
// the unanswerable count.
#include <fuzzer/FuzzedDataProvider.h>

#include <set>
#include <string>

#include "bert/data/squad_reader.h"
#include "bert/util/error.h"
#include "fuzz/fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t mode = data[0];
  static const bert::fuzz::ScratchFile json("squad.json"), lines("squad.jsonl");
  const auto& file = (mode & 1) ? lines : json;
  file.write(std::string_view(reinterpret_cast<const char*>(data) + 1, size - 1));
  bert::data::SquadReadOptions options;
  options.has_answers = !(mode & 2);
  options.skip_bad_rows = mode & 4;

  bert::data::SquadFile squad;
  try {
    squad = bert::data::read_squad(file.path(), options);
  } catch (const bert::Error&) {
    return 0;
  }
  FUZZ_CHECK(!squad.questions.empty(), "success without questions");
  std::set<std::string> ids;
  size_t unanswerable = 0;
  for (const auto& q : squad.questions) {
    FUZZ_CHECK(q.context < squad.contexts.size(), "context index out of range");
    FUZZ_CHECK(ids.insert(q.id).second, "duplicate id accepted");
    FUZZ_CHECK(!q.where.empty(), "a question without its place in the file");
    FUZZ_CHECK(options.has_answers || q.answers.empty(), "answers read from prediction input");
    unanswerable += q.answers.empty();
    const auto& context = squad.contexts[q.context];
    for (const auto& a : q.answers) {
      FUZZ_CHECK(!a.text.empty(), "empty answer accepted");
      FUZZ_CHECK(a.begin <= a.end && a.end <= context.size(), "answer span outside its context");
      FUZZ_CHECK(a.end - a.begin == a.text.size(), "answer span length differs from its text");
      FUZZ_CHECK(context.compare(a.begin, a.text.size(), a.text) == 0, "answer text not at its span");
      FUZZ_CHECK(bert::data::code_point_count(context, a.begin) == a.char_start, "byte span not at the character offset");
    }
  }
  FUZZ_CHECK(!options.has_answers || unanswerable == squad.unanswerable, "unanswerable count differs");
  return 0;
}
