// Fuzz target: the CoNLL column reader (bert/data/conll_reader.h) on arbitrary bytes, then what
// fine-tuning does next with the tags it read: LabelMap (both orders), encoding the tags back
// to ids, task inference and number parsing. Options come from the last input bytes, so a head
// of a real CoNLL file is a useful seed. Checked: the documented shape of the result (words and
// tags aligned, non-empty, valid UTF-8 without separators; line numbers increasing) and that
// every tag read maps back to its own id.
#include <fuzzer/FuzzedDataProvider.h>

#include <cmath>
#include <string>

#include "bert/data/conll_reader.h"
#include "bert/tokenizer/unicode.h"
#include "bert/util/error.h"
#include "fuzz/fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  const uint8_t mode = in.ConsumeIntegral<uint8_t>();
  const std::string contents = in.ConsumeRemainingBytesAsString();

  bert::data::ConllOptions opt;
  opt.word_column = mode & 1;
  if (mode & 2) opt.tag_column = (mode >> 2) & 3;
  opt.has_tags = !(mode & 16);

  bert::data::ConllData d;
  try {
    d = bert::data::parse_conll(contents, "fuzz.conll", opt);
  } catch (const bert::Error&) {
    return 0;
  }
  FUZZ_CHECK(!d.sentences.empty(), "success without sentences");
  FUZZ_CHECK(d.report.sentences == d.sentences.size(), "report.sentences differs");
  size_t tokens = 0, last_line = 0;
  for (const auto& s : d.sentences) {
    FUZZ_CHECK(!s.words.empty(), "empty sentence returned");
    FUZZ_CHECK(s.line > last_line, "sentence lines not increasing");
    last_line = s.line + s.words.size() - 1;
    FUZZ_CHECK(opt.has_tags ? s.tags.size() == s.words.size() : s.tags.empty(), "tags not aligned with words");
    for (const auto* list : {&s.words, &s.tags})
      for (const auto& w : *list)
        FUZZ_CHECK(!w.empty() && w.find_first_of(" \t\n") == std::string::npos &&
                       bert::tokenizer::unicode::is_valid_utf8(w),
                   "bad word or tag");
    tokens += s.words.size();
  }
  FUZZ_CHECK(d.report.tokens == tokens, "report.tokens differs");
  d.report.summary("fuzz.conll");
  if (!opt.has_tags) return 0;

  const auto tags = bert::data::collect_tags(d.sentences);
  FUZZ_CHECK(tags.size() == tokens, "collect_tags size");
  for (const auto order : {bert::data::LabelOrder::kSorted, bert::data::LabelOrder::kFirstSeen}) {
    const auto labels = bert::data::LabelMap::build(tags, order);
    const auto ids = labels.encode(d.sentences, "fuzz.conll");
    FUZZ_CHECK(ids.size() == d.sentences.size(), "encode size");
    for (size_t i = 0; i < ids.size(); ++i)
      for (size_t k = 0; k < ids[i].size(); ++k)
        FUZZ_CHECK(labels.name(ids[i][k]) == d.sentences[i].tags[k], "tag does not map back to itself");
  }
  const auto task = bert::data::infer_task(tags);
  FUZZ_CHECK(task.distinct_labels > 0 && !task.reason.empty(), "infer_task result");
  for (const auto& t : tags) {
    if (const auto v = bert::data::parse_number(t)) FUZZ_CHECK(std::isfinite(*v), "parse_number not finite");
  }
  return 0;
}
