// Reading a raw text corpus as a stream of documents made of sentences, the unit BERT's
// pre-training data is built from. Inputs (files, directories, glob patterns) are expanded into
// one sorted list of files, so that the same command line always yields the same corpus and the
// same cache fingerprint. Two layouts are understood:
//
//  - google: the format of Google's create_pretraining_data.py: one sentence per line, a blank
//    line between documents. Lines are used as they are (trimmed); no sentence splitting.
//  - prose: ordinary text such as Project Gutenberg books: paragraphs separated by blank lines,
//    lines wrapped inside a paragraph (joined back with one space), sentences found by
//    split_sentences(). Each file is one document (a book is a coherent unit, as in BERT's
//    BooksCorpus), unless paragraphs_per_document cuts it into documents of that many paragraphs
//    (useful when the corpus is a single file, so that next-sentence negatives can come from
//    another document). Project Gutenberg's licence header and footer are dropped when the file
//    has the "*** START OF ... PROJECT GUTENBERG ..." marker in its first 64 KiB: lines up to that
//    marker, and everything from "*** END OF ... PROJECT GUTENBERG" or a line starting
//    "End of (the) Project Gutenberg" on.
//
// Both accept a UTF-8 byte-order mark, CRLF line ends, and any number of blank (whitespace-only)
// lines; invalid UTF-8 is an error naming the file, line and byte column, because silently
// dropping bytes would hide a wrong encoding (Latin-1 files) from the user. The reader streams:
// memory stays bounded by the longest line (at most kMaxLineBytes) and paragraph, whatever the
// corpus size. A file's end always ends its document.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace bert::data {

enum class CorpusLayout { google, prose };

// "google" | "prose"; anything else is a bert::Error naming the value and the choices.
CorpusLayout parse_corpus_layout(const std::string& name);
const char* corpus_layout_name(CorpusLayout layout);

struct CorpusFile {
  std::string path;  // absolute, lexically normal
  uint64_t size = 0;  // bytes
};

// Expands inputs into a sorted, de-duplicated list of regular files:
//  - an existing file is taken as is (following symbolic links);
//  - an existing directory contributes every regular file below it, recursively, skipping
//    hidden entries (names starting with '.', e.g. .git, .DS_Store);
//  - otherwise, an input with * ? or [ is a glob(3) pattern; matched directories are expanded
//    as above.
// An input that matches no file (missing path, empty directory, glob without match) is a
// bert::Error naming it; so is a match that is neither a file nor a directory (a FIFO, say).
std::vector<CorpusFile> expand_corpus_inputs(const std::vector<std::string>& inputs);

struct CorpusReaderOptions {
  CorpusLayout layout = CorpusLayout::prose;
  // prose only: 0 = each file is one document; N > 0 = a new document every N paragraphs.
  size_t paragraphs_per_document = 0;
  // prose only: drop Project Gutenberg's licence header and footer (see above).
  bool strip_gutenberg_boilerplate = true;
};

// Lines longer than this are an error (a binary file, or a corpus without line breaks).
inline constexpr size_t kMaxLineBytes = size_t{16} << 20;
// A prose paragraph that grows past this is handed to the splitter at the next line end, as if
// a blank line were there: bounds memory for files with no blank lines at all.
inline constexpr size_t kMaxParagraphBytes = size_t{1} << 20;

struct CorpusCallbacks {
  // One non-empty sentence, trimmed; the view is valid only during the call.
  std::function<void(std::string_view sentence)> sentence;
  // The document that received sentences since the last call has ended. Never called for a
  // document without sentences.
  std::function<void()> end_document;
  // Optional: bytes of input consumed so far over all files (file sizes included, BOM and
  // skipped boilerplate too), at least every MiB and at the end of each file.
  std::function<void(uint64_t bytes_read)> progress;
};

// Throws "path:line: invalid UTF-8 at byte column N (found 0x..); expected UTF-8 text ..." unless
// `line` is valid UTF-8. `column_offset`: bytes removed from the line's start before the check (a
// BOM), so that the column reported is the byte column in the file as an editor shows it.
void check_utf8(std::string_view line, const std::string& path, size_t line_number, size_t column_offset = 0);

// Streams every file in order through the callbacks. Throws bert::Error for unreadable files,
// invalid UTF-8 ("path:line: invalid UTF-8 at byte column N ..."), or too long lines.
void read_corpus(const std::vector<CorpusFile>& files, const CorpusReaderOptions& options,
                 const CorpusCallbacks& callbacks);

// Convenience for tests and small inputs: expand, read, and collect documents of sentences.
std::vector<std::vector<std::string>> read_corpus_documents(const std::vector<std::string>& inputs,
                                                            const CorpusReaderOptions& options);

}  // namespace bert::data
