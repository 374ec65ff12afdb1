// Corpus input expansion and the streaming reader. Lines come from a small buffered reader over
// read(2) rather than std::getline so that a pathological file (no newlines, a binary blob)
// fails with a clear message after kMaxLineBytes instead of growing one string without bound;
// each line is checked for UTF-8 (an all-ASCII fast path first, since that is most of English
// text), trimmed, and fed to the layout's state machine.
#include "bert/data/corpus_reader.h"

#include <fcntl.h>
#include <glob.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <optional>

#include "bert/data/sentence_splitter.h"
#include "bert/tokenizer/unicode.h"
#include "bert/util/error.h"

namespace fs = std::filesystem;

namespace bert::data {

namespace {

bool is_space(unsigned char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v'; }

std::string_view trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && is_space(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && is_space(static_cast<unsigned char>(s[e - 1]))) --e;
  return s.substr(b, e - b);
}

std::string normal_path(const fs::path& p) {
  std::error_code ec;
  fs::path abs = fs::absolute(p, ec);
  return (ec ? p : abs).lexically_normal().string();
}

bool has_glob_chars(const std::string& s) { return s.find_first_of("*?[") != std::string::npos; }

bool is_hidden(const fs::path& p) {
  const std::string name = p.filename().string();
  return !name.empty() && name[0] == '.';
}

// Adds the file, or every regular non-hidden file below the directory; returns how many.
size_t add_path(const std::string& input, const fs::path& p, std::vector<CorpusFile>& out) {
  std::error_code ec;
  const fs::file_status st = fs::status(p, ec);
  if (fs::is_regular_file(st)) {
    out.push_back({normal_path(p), static_cast<uint64_t>(fs::file_size(p, ec))});
    return 1;
  }
  if (!fs::is_directory(st)) {
    throw Error("corpus input " + input + ": " + p.string() +
                " is neither a regular file nor a directory");
  }
  size_t added = 0;
  fs::recursive_directory_iterator it(p, fs::directory_options::skip_permission_denied, ec);
  if (ec) throw Error("corpus input " + input + ": cannot list directory " + p.string() + " (" + ec.message() + ")");
  const fs::recursive_directory_iterator end;
  for (; it != end; it.increment(ec)) {
    if (ec) throw Error("corpus input " + input + ": cannot list directory " + p.string() + " (" + ec.message() + ")");
    if (is_hidden(it->path())) {
      if (it->is_directory(ec)) it.disable_recursion_pending();
      continue;
    }
    if (it->is_regular_file(ec)) {  // follows symbolic links to files
      out.push_back({normal_path(it->path()), static_cast<uint64_t>(it->file_size(ec))});
      ++added;
    }
  }
  if (added == 0) {
    throw Error("corpus input " + input + ": directory " + p.string() +
                " contains no files (hidden files are skipped)");
  }
  return added;
}

// Line-by-line reading with a bounded buffer. Lines are returned without "\n" and without a
// final "\r" (CRLF files).
class LineReader {
 public:
  explicit LineReader(const std::string& path) : path_(path), buffer_(size_t{1} << 20) {
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) throw Error(path + ": cannot open (" + std::strerror(errno) + ")");
  }
  ~LineReader() {
    if (fd_ >= 0) ::close(fd_);
  }
  LineReader(const LineReader&) = delete;
  LineReader& operator=(const LineReader&) = delete;

  // False at the end of the file.
  bool next(std::string_view& line) {
    if (carry_returned_) {
      carry_.clear();
      carry_returned_ = false;
    }
    for (;;) {
      if (begin_ < end_) {
        const char* start = buffer_.data() + begin_;
        const size_t avail = end_ - begin_;
        const char* nl = static_cast<const char*>(std::memchr(start, '\n', avail));
        if (nl != nullptr) {
          const size_t len = static_cast<size_t>(nl - start);
          begin_ += len + 1;
          consumed_ += len + 1;
          if (carry_.empty()) {
            line = std::string_view(start, len);
          } else {
            append_carry(start, len);
            line = carry_;
            carry_returned_ = true;
          }
          return finish(line);
        }
        append_carry(start, avail);
        consumed_ += avail;
        begin_ = end_;
      }
      if (!refill()) {
        if (carry_.empty()) return false;
        line = carry_;  // a last line without "\n"
        carry_returned_ = true;
        return finish(line);
      }
    }
  }

  size_t line_number() const { return line_number_; }
  uint64_t bytes_consumed() const { return consumed_; }

 private:
  bool finish(std::string_view& line) {
    ++line_number_;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    return true;
  }

  void append_carry(const char* p, size_t n) {
    if (carry_.size() + n > kMaxLineBytes) {
      throw Error(path_ + ":" + std::to_string(line_number_ + 1) + ": line longer than " +
                  std::to_string(kMaxLineBytes >> 20) +
                  " MiB; expected text with line breaks (is this a binary file?)");
    }
    carry_.append(p, n);
  }

  bool refill() {
    for (;;) {
      const ssize_t n = ::read(fd_, buffer_.data(), buffer_.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) throw Error(path_ + ": read failed (" + std::strerror(errno) + ")");
      begin_ = 0;
      end_ = static_cast<size_t>(n);
      return n > 0;
    }
  }

  std::string path_;
  int fd_ = -1;
  std::vector<char> buffer_;
  size_t begin_ = 0, end_ = 0;
  std::string carry_;  // a line split across buffer refills
  bool carry_returned_ = false;
  size_t line_number_ = 0;
  uint64_t consumed_ = 0;
};

std::string hex_bytes(std::string_view s, size_t pos, size_t max_bytes) {
  static const char* digits = "0123456789ABCDEF";
  std::string out;
  for (size_t i = pos; i < s.size() && i < pos + max_bytes; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (!out.empty()) out += ' ';
    out += "0x";
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

// "*** START OF THE PROJECT GUTENBERG EBOOK ... ***" (also "***START OF", with leading spaces).
bool is_gutenberg_marker(std::string_view line, std::string_view which) {
  std::string_view t = trim(line);
  if (t.substr(0, 3) != "***") return false;
  t = trim(t.substr(3));
  return t.substr(0, which.size()) == which && t.find("PROJECT GUTENBERG") != std::string_view::npos;
}

// "End of Project Gutenberg's <title>" / "End of the Project Gutenberg EBook of <title>".
bool is_gutenberg_end_line(std::string_view line) {
  const std::string_view t = trim(line);
  return t.substr(0, 24) == "End of Project Gutenberg" || t.substr(0, 28) == "End of the Project Gutenberg";
}

// The 1-based line number of the Gutenberg start marker within the first 64 KiB, if any.
std::optional<size_t> find_gutenberg_start(const std::string& path) {
  std::string head(size_t{64} << 10, '\0');
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error(path + ": cannot open (" + std::strerror(errno) + ")");
  size_t got = 0;
  while (got < head.size()) {
    const ssize_t n = ::pread(fd, head.data() + got, head.size() - got, static_cast<off_t>(got));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  ::close(fd);
  head.resize(got);
  size_t line = 0, pos = 0;
  for (;;) {
    const size_t nl = head.find('\n', pos);
    if (nl == std::string::npos) return std::nullopt;  // only whole lines count
    ++line;
    if (is_gutenberg_marker(std::string_view(head).substr(pos, nl - pos), "START OF")) return line;
    pos = nl + 1;
  }
}

constexpr std::string_view kBom = "\xEF\xBB\xBF";
constexpr uint64_t kProgressEvery = uint64_t{1} << 20;

// One file through the layout's state machine.
class FileReader {
 public:
  FileReader(const CorpusFile& file, const CorpusReaderOptions& options,
             const CorpusCallbacks& callbacks, uint64_t bytes_before)
      : file_(file), options_(options), cb_(callbacks), bytes_before_(bytes_before) {}

  void run() {
    const bool prose = options_.layout == CorpusLayout::prose;
    std::optional<size_t> gutenberg_start;
    if (prose && options_.strip_gutenberg_boilerplate) gutenberg_start = find_gutenberg_start(file_.path);

    LineReader reader(file_.path);
    std::string_view line;
    uint64_t last_progress = 0;
    while (reader.next(line)) {
      const size_t line_no = reader.line_number();
      size_t column_offset = 0;
      if (line_no == 1 && line.substr(0, kBom.size()) == kBom) {
        line.remove_prefix(kBom.size());
        column_offset = kBom.size();
      }
      check_utf8(line, file_.path, line_no, column_offset);
      if (cb_.progress && reader.bytes_consumed() - last_progress >= kProgressEvery) {
        last_progress = reader.bytes_consumed();
        cb_.progress(bytes_before_ + last_progress);
      }

      if (gutenberg_start) {
        if (line_no <= *gutenberg_start) continue;  // licence header and the marker itself
        // The licence footer follows the end marker, often announced by "End of (the) Project
        // Gutenberg('s|EBook of) <title>" a few lines earlier.
        if (is_gutenberg_marker(line, "END OF") || is_gutenberg_end_line(line)) break;
      }
      const std::string_view text = trim(line);
      if (prose) {
        if (text.empty()) {
          flush_paragraph();
        } else {
          if (!paragraph_.empty()) paragraph_ += ' ';
          paragraph_.append(text);
          if (paragraph_.size() >= kMaxParagraphBytes) flush_paragraph();
        }
      } else if (text.empty()) {
        end_document();
      } else {
        cb_.sentence(text);
        document_has_sentences_ = true;
      }
    }
    flush_paragraph();
    end_document();
    if (cb_.progress) cb_.progress(bytes_before_ + file_.size);
  }

 private:
  void flush_paragraph() {
    if (paragraph_.empty()) return;
    for (std::string_view s : split_sentences(paragraph_)) {
      cb_.sentence(s);
      document_has_sentences_ = true;
    }
    paragraph_.clear();
    ++paragraphs_in_document_;
    if (options_.paragraphs_per_document > 0 &&
        paragraphs_in_document_ >= options_.paragraphs_per_document) {
      end_document();
    }
  }

  void end_document() {
    if (document_has_sentences_ && cb_.end_document) cb_.end_document();
    document_has_sentences_ = false;
    paragraphs_in_document_ = 0;
  }

  const CorpusFile& file_;
  const CorpusReaderOptions& options_;
  const CorpusCallbacks& cb_;
  uint64_t bytes_before_;
  std::string paragraph_;
  size_t paragraphs_in_document_ = 0;
  bool document_has_sentences_ = false;
};

}  // namespace

void check_utf8(std::string_view line, const std::string& path, size_t line_number,
                size_t column_offset) {
  bool ascii = true;
  for (char c : line) {
    if (static_cast<unsigned char>(c) >= 0x80) {
      ascii = false;
      break;
    }
  }
  if (ascii) return;
  size_t bad = 0;
  if (bert::tokenizer::unicode::is_valid_utf8(line, &bad)) return;
  throw Error(path + ":" + std::to_string(line_number) + ": invalid UTF-8 at byte column " +
              std::to_string(bad + 1 + column_offset) + " (found " + hex_bytes(line, bad, 4) +
              "); expected UTF-8 text (convert it first, e.g. iconv -f latin1 -t utf-8)");
}

CorpusLayout parse_corpus_layout(const std::string& name) {
  if (name == "google") return CorpusLayout::google;
  if (name == "prose") return CorpusLayout::prose;
  throw Error("corpus layout \"" + name +
              "\" is not supported; expected google (one sentence per line, blank line between "
              "documents) or prose (paragraphs separated by blank lines)");
}

const char* corpus_layout_name(CorpusLayout layout) {
  return layout == CorpusLayout::google ? "google" : "prose";
}

std::vector<CorpusFile> expand_corpus_inputs(const std::vector<std::string>& inputs) {
  std::vector<CorpusFile> files;
  for (const std::string& input : inputs) {
    std::error_code ec;
    if (fs::exists(input, ec)) {
      add_path(input, input, files);
      continue;
    }
    if (!has_glob_chars(input)) throw Error("corpus input " + input + ": no such file or directory");
    glob_t g{};
    const int rc = ::glob(input.c_str(), 0, nullptr, &g);
    std::vector<std::string> matches;
    if (rc == 0) matches.assign(g.gl_pathv, g.gl_pathv + g.gl_pathc);
    ::globfree(&g);
    if (rc == GLOB_NOMATCH || matches.empty()) {
      throw Error("corpus input " + input + ": the pattern matches no file");
    }
    if (rc != 0) throw Error("corpus input " + input + ": glob failed (error " + std::to_string(rc) + ")");
    for (const std::string& m : matches) add_path(input, m, files);
  }
  std::sort(files.begin(), files.end(),
            [](const CorpusFile& a, const CorpusFile& b) { return a.path < b.path; });
  files.erase(std::unique(files.begin(), files.end(),
                          [](const CorpusFile& a, const CorpusFile& b) { return a.path == b.path; }),
              files.end());
  return files;
}

void read_corpus(const std::vector<CorpusFile>& files, const CorpusReaderOptions& options,
                 const CorpusCallbacks& callbacks) {
  if (!callbacks.sentence) throw Error("read_corpus: a sentence callback is required");
  uint64_t bytes_before = 0;
  for (const CorpusFile& file : files) {
    FileReader(file, options, callbacks, bytes_before).run();
    bytes_before += file.size;
  }
}

std::vector<std::vector<std::string>> read_corpus_documents(const std::vector<std::string>& inputs,
                                                            const CorpusReaderOptions& options) {
  std::vector<std::vector<std::string>> documents(1);
  CorpusCallbacks cb;
  cb.sentence = [&](std::string_view s) { documents.back().emplace_back(s); };
  cb.end_document = [&] { documents.emplace_back(); };
  read_corpus(expand_corpus_inputs(inputs), options, cb);
  documents.pop_back();  // the empty one opened after the last end_document
  return documents;
}

}  // namespace bert::data
