// Fuzz target: the pre-training corpus reader (bert/data/corpus_reader.h) and the sentence
// splitter it feeds (bert/data/sentence_splitter.h). The input is written to a scratch file and
// read with read_corpus, as `bert pretrain` reads a corpus file, in the layout and with the
// options chosen by the input's last bytes; the splitter also gets the raw bytes directly (it
// promises never to crash on invalid UTF-8). Checked: sentences are non-empty, trimmed, valid
// UTF-8 and never span a line break in the google layout; documents are never empty; progress
// ends at the file size; the splitter returns ordered, non-overlapping views into its input.
#include <fuzzer/FuzzedDataProvider.h>

#include <string>
#include <string_view>

#include "bert/data/corpus_reader.h"
#include "bert/data/sentence_splitter.h"
#include "bert/tokenizer/unicode.h"
#include "bert/util/error.h"
#include "fuzz/fuzz_common.h"

namespace {

bool is_ascii_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

bool trimmed_nonempty(std::string_view s) {
  return !s.empty() && !is_ascii_space(s.front()) && !is_ascii_space(s.back());
}

void check_splitter(std::string_view text) {
  const auto sentences = bert::data::split_sentences(text);
  const char* last_end = text.data();
  for (std::string_view s : sentences) {
    FUZZ_CHECK(trimmed_nonempty(s), "splitter returned an empty or untrimmed sentence");
    FUZZ_CHECK(s.data() >= last_end && s.data() + s.size() <= text.data() + text.size(),
               "splitter sentence is not an ordered view into the input");
    last_end = s.data() + s.size();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bert::fuzz::ScratchFile file("corpus.txt");
  FuzzedDataProvider in(data, size);
  const uint8_t mode = in.ConsumeIntegral<uint8_t>();
  const std::string contents = in.ConsumeRemainingBytesAsString();

  check_splitter(contents);

  bert::data::CorpusReaderOptions opt;
  opt.layout = (mode & 1) ? bert::data::CorpusLayout::google : bert::data::CorpusLayout::prose;
  opt.paragraphs_per_document = (mode >> 1) & 3;
  opt.strip_gutenberg_boilerplate = !(mode & 8);
  file.write(contents);

  size_t sentences = 0, in_document = 0;
  uint64_t last_progress = 0;
  bert::data::CorpusCallbacks cb;
  cb.sentence = [&](std::string_view s) {
    FUZZ_CHECK(trimmed_nonempty(s), "reader returned an empty or untrimmed sentence");
    FUZZ_CHECK(bert::tokenizer::unicode::is_valid_utf8(s), "reader returned invalid UTF-8");
    if (opt.layout == bert::data::CorpusLayout::google)
      FUZZ_CHECK(s.find('\n') == std::string_view::npos, "google-layout sentence spans lines");
    ++sentences;
    ++in_document;
  };
  cb.end_document = [&] {
    FUZZ_CHECK(in_document > 0, "end_document for a document without sentences");
    in_document = 0;
  };
  cb.progress = [&](uint64_t bytes) {
    FUZZ_CHECK(bytes >= last_progress && bytes <= contents.size(), "progress out of order or past the end");
    last_progress = bytes;
  };
  try {
    const auto files = bert::data::expand_corpus_inputs({file.path()});
    FUZZ_CHECK(files.size() == 1 && files[0].size == contents.size(), "expand_corpus_inputs of one file");
    bert::data::read_corpus(files, opt, cb);
  } catch (const bert::Error&) {
    return 0;
  }
  FUZZ_CHECK(in_document == 0, "the file's end did not end its document");
  FUZZ_CHECK(last_progress == contents.size(), "progress did not reach the file size");
  return 0;
}
