// TokenCache: fingerprinting, validation of an existing cache, the streaming parallel build, and
// the read-only mappings. The build keeps the reader on the calling thread and tokenizes one
// batch of sentences (about batch_bytes of text) at a time on worker threads while the reader
// fills the next one, then appends the ids to three buffered writers, so memory is a few MB
// whatever the corpus size. Ids are taken
// without special tokens straight from the concrete tokenizers' encode_ids() (the interface's
// encode() would also build token strings, offsets and word ids only to throw them away, and add
// [CLS]/[SEP]); any other Tokenizer falls back to encode() minus its added special tokens.
#include "bert/data/token_cache.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <exception>
#include <filesystem>
#include <future>
#include <mutex>
#include <random>
#include <thread>

#include <nlohmann/json.hpp>

#include "bert/data/sentence_splitter.h"
#include "bert/tokenizer/load.h"
#include "bert/tokenizer/sentencepiece_tokenizer.h"
#include "bert/tokenizer/wordpiece.h"
#include "bert/util/error.h"
#include "bert/util/files.h"
#include "bert/util/log.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace bert::data {

namespace {

constexpr char kMagic[8] = {'B', 'E', 'R', 'T', 'T', 'O', 'K', 'C'};
constexpr uint32_t kByteOrderMark = 0x01020304;
constexpr const char* kTokensFile = "tokens.u32";
constexpr const char* kSentencesFile = "sentences.u64";
constexpr const char* kDocumentsFile = "documents.u64";
constexpr const char* kMetaFile = "meta.json";
constexpr const char* kLockFile = "lock";
constexpr size_t kHashedEdgeBytes = size_t{64} << 10;  // first and last 64 KiB of each input
const char* const kTokenizerFiles[] = {"vocab.txt",
                                       tokenizer::kSentencePieceModelFile,
                                       tokenizer::kSentencePieceVocabFile,
                                       "tokenizer_config.json",
                                       "special_tokens_map.json",
                                       "tokenizer.json"};

enum FileKind : uint32_t { kTokensKind = 1, kSentencesKind = 2, kDocumentsKind = 3 };

// The 64 bytes at the start of each data file; the payload follows, so it is 8-byte aligned in
// the page-aligned mapping.
struct FileHeader {
  char magic[8];
  uint32_t version;
  uint32_t kind;
  uint64_t fingerprint;
  uint64_t count;  // elements after the header
  uint32_t element_size;
  uint32_t byte_order;
  uint64_t build_id;
  uint8_t reserved[16];
};
static_assert(sizeof(FileHeader) == 64, "the header is part of the file format");

// FNV-1a, 64 bit: tiny, dependency-free, and plenty to tell one corpus state from another
// (this is change detection, not security).
class Hasher {
 public:
  void bytes(const void* data, size_t n) {
    const auto* p = static_cast<const unsigned char*>(data);
    for (size_t i = 0; i < n; ++i) {
      h_ ^= p[i];
      h_ *= 0x100000001b3ull;
    }
  }
  void u64(uint64_t v) { bytes(&v, sizeof v); }
  // Length-prefixed, so that ("ab","c") and ("a","bc") differ.
  void str(std::string_view s) {
    u64(s.size());
    bytes(s.data(), s.size());
  }
  uint64_t value() const { return h_; }

 private:
  uint64_t h_ = 0xcbf29ce484222325ull;
};

std::string hex64(uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016" PRIx64, v);
  return buf;
}

std::string sys_error() { return std::strerror(errno); }

// Reads [offset, offset + n) of an open file into the hasher.
void hash_range(Hasher& h, int fd, const std::string& path, uint64_t offset, size_t n) {
  std::vector<char> buf(n);
  size_t got = 0;
  while (got < n) {
    const ssize_t r = ::pread(fd, buf.data() + got, n - got, static_cast<off_t>(offset + got));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) throw Error(path + ": read failed (" + sys_error() + ")");
    if (r == 0) break;
    got += static_cast<size_t>(r);
  }
  h.bytes(buf.data(), got);
}

struct InputRecord {
  std::string path;
  uint64_t size = 0;
  int64_t mtime_ns = 0;
  uint64_t edge_hash = 0;  // of the first and last kHashedEdgeBytes
};

struct Fingerprint {
  std::vector<InputRecord> inputs;
  std::vector<std::pair<std::string, uint64_t>> tokenizer_files;  // name, content hash
  uint64_t corpus = 0, tokenizer = 0, options = 0, total = 0;
  uint64_t bytes = 0;
};

InputRecord fingerprint_file(const CorpusFile& file) {
  InputRecord r;
  r.path = file.path;
  const int fd = ::open(file.path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error(file.path + ": cannot open (" + sys_error() + ")");
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const std::string why = sys_error();
    ::close(fd);
    throw Error(file.path + ": cannot stat (" + why + ")");
  }
  r.size = static_cast<uint64_t>(st.st_size);
  r.mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  Hasher h;
  try {
    if (r.size <= 2 * kHashedEdgeBytes) {
      hash_range(h, fd, file.path, 0, r.size);
    } else {
      hash_range(h, fd, file.path, 0, kHashedEdgeBytes);
      hash_range(h, fd, file.path, r.size - kHashedEdgeBytes, kHashedEdgeBytes);
    }
  } catch (...) {
    ::close(fd);
    throw;
  }
  ::close(fd);
  r.edge_hash = h.value();
  return r;
}

Fingerprint compute_fingerprint(const std::vector<CorpusFile>& files, const TokenCacheOptions& o) {
  Fingerprint f;
  Hasher corpus;
  for (const CorpusFile& file : files) {
    f.inputs.push_back(fingerprint_file(file));
    const InputRecord& r = f.inputs.back();
    corpus.str(r.path);
    corpus.u64(r.size);
    corpus.u64(static_cast<uint64_t>(r.mtime_ns));
    corpus.u64(r.edge_hash);
    f.bytes += r.size;
  }
  f.corpus = corpus.value();

  Hasher tok;
  for (const char* name : kTokenizerFiles) {
    const fs::path p = fs::path(o.tokenizer_dir) / name;
    std::error_code ec;
    if (!fs::is_regular_file(p, ec)) continue;
    const std::string content = read_text_file(p.string());
    Hasher one;
    one.bytes(content.data(), content.size());
    f.tokenizer_files.emplace_back(name, one.value());
    tok.str(name);
    tok.u64(one.value());
  }
  if (f.tokenizer_files.empty()) {
    throw Error("tokenizer directory " + o.tokenizer_dir +
                ": no tokenizer files found for the token cache fingerprint; expected vocab.txt or " +
                tokenizer::kSentencePieceModelFile);
  }
  f.tokenizer = tok.value();

  Hasher opt;
  opt.u64(kTokenCacheFormatVersion);
  opt.u64(static_cast<uint64_t>(kSentenceSplitterVersion));
  opt.str(corpus_layout_name(o.reader.layout));
  if (o.reader.layout == CorpusLayout::prose) {
    opt.u64(o.reader.paragraphs_per_document);
    opt.u64(o.reader.strip_gutenberg_boilerplate ? 1 : 0);
  }
  f.options = opt.value();

  Hasher total;
  total.u64(f.corpus);
  total.u64(f.tokenizer);
  total.u64(f.options);
  f.total = total.value();
  return f;
}

json inputs_json(const Fingerprint& f) {
  json a = json::array();
  for (const InputRecord& r : f.inputs) {
    a.push_back({{"path", r.path}, {"size", r.size}, {"mtime_ns", r.mtime_ns}, {"edge_hash", hex64(r.edge_hash)}});
  }
  return a;
}

// Why a cache with meta `m` does not match `f`, in words, for the rebuild log line.
std::string mismatch_reason(const json& m, const Fingerprint& f) {
  if (m.value("tokenizer_fingerprint", "") != hex64(f.tokenizer)) return "the tokenizer files changed";
  if (m.value("options_fingerprint", "") != hex64(f.options)) {
    return "the layout, reader options or format version changed";
  }
  if (!m.contains("inputs") || !m["inputs"].is_array()) return "the corpus changed";
  const json& old = m["inputs"];
  const json now = inputs_json(f);
  for (const json& r : now) {
    const auto it = std::find_if(old.begin(), old.end(), [&](const json& o) { return o.value("path", "") == r["path"]; });
    if (it == old.end()) return "corpus file " + r["path"].get<std::string>() + " was added";
    if (*it != r) return "corpus file " + r["path"].get<std::string>() + " changed (size, mtime or content)";
  }
  for (const json& o : old) {
    const auto it = std::find_if(now.begin(), now.end(), [&](const json& r) { return r["path"] == o.value("path", ""); });
    if (it == now.end()) return "corpus file " + o.value("path", std::string("?")) + " was removed";
  }
  return "the fingerprint differs";
}

// A read-only mapping of a whole file.
class Mapping {
 public:
  Mapping() = default;
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;
  Mapping(Mapping&& o) noexcept { *this = std::move(o); }
  Mapping& operator=(Mapping&& o) noexcept {
    if (this != &o) {
      reset();
      addr_ = o.addr_;
      size_ = o.size_;
      o.addr_ = nullptr;
      o.size_ = 0;
    }
    return *this;
  }
  ~Mapping() { reset(); }

  // Empty string on success, else why not.
  std::string map(const std::string& path) {
    reset();
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return "cannot open (" + sys_error() + ")";
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
      const std::string why = sys_error();
      ::close(fd);
      return "cannot stat (" + why + ")";
    }
    size_ = static_cast<size_t>(st.st_size);
    if (size_ < sizeof(FileHeader)) {
      ::close(fd);
      return "truncated (" + std::to_string(size_) + " bytes, shorter than its header)";
    }
    void* p = ::mmap(nullptr, size_, PROT_READ, MAP_SHARED, fd, 0);
    const std::string why = sys_error();
    ::close(fd);  // the mapping keeps the file
    if (p == MAP_FAILED) {
      size_ = 0;
      return "cannot mmap (" + why + ")";
    }
    addr_ = p;
    return "";
  }

  const FileHeader& header() const { return *static_cast<const FileHeader*>(addr_); }
  const void* payload() const { return static_cast<const char*>(addr_) + sizeof(FileHeader); }
  size_t size() const { return size_; }

 private:
  void reset() {
    if (addr_ != nullptr) ::munmap(addr_, size_);
    addr_ = nullptr;
    size_ = 0;
  }
  void* addr_ = nullptr;
  size_t size_ = 0;
};

// Checks a mapped file's header against what meta.json promises; empty string when fine.
std::string check_header(const Mapping& m, FileKind kind, uint32_t element_size, uint64_t fingerprint,
                         uint64_t build_id, uint64_t count) {
  const FileHeader& h = m.header();
  if (std::memcmp(h.magic, kMagic, sizeof kMagic) != 0) return "not a token cache file (bad magic)";
  if (h.byte_order != kByteOrderMark) return "written on a machine of another byte order";
  if (h.version != kTokenCacheFormatVersion) {
    return "format version " + std::to_string(h.version) + ", expected " + std::to_string(kTokenCacheFormatVersion);
  }
  if (h.kind != kind || h.element_size != element_size) return "header of another kind of cache file";
  if (h.fingerprint != fingerprint || h.build_id != build_id) return "belongs to another build (mixed-up cache files)";
  if (h.count != count) {
    return "header says " + std::to_string(h.count) + " elements, meta.json " + std::to_string(count);
  }
  const uint64_t expected = sizeof(FileHeader) + count * element_size;
  if (m.size() != expected) {
    return "truncated or padded: " + std::to_string(m.size()) + " bytes, expected " + std::to_string(expected);
  }
  return "";
}

// offsets[0] == 0, offsets[n] == end, strictly increasing (no empty sentence or document).
std::string check_offsets(const uint64_t* offsets, size_t n, uint64_t end, const char* what) {
  if (offsets[0] != 0) return std::string(what) + " do not start at 0";
  if (offsets[n] != end) {
    return std::string(what) + " end at " + std::to_string(offsets[n]) + ", expected " + std::to_string(end);
  }
  for (size_t i = 0; i < n; ++i) {
    if (offsets[i + 1] <= offsets[i]) return std::string(what) + " not increasing at " + std::to_string(i);
  }
  return "";
}

// A file being written under a temporary name; the destructor removes it unless committed.
class CacheFileWriter {
 public:
  CacheFileWriter(const fs::path& final_path, FileKind kind, uint32_t element_size)
      : final_(final_path.string()),
        tmp_(final_ + ".tmp." + std::to_string(::getpid())),
        kind_(kind),
        element_size_(element_size) {
    fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd_ < 0) throw Error(tmp_ + ": cannot create (" + sys_error() + ")");
    // A zero header until finish(): a file left by a crash has no magic and never validates.
    buffer_.assign(sizeof(FileHeader), 0);
    buffer_.reserve(kBufferBytes + sizeof(FileHeader));
  }
  CacheFileWriter(const CacheFileWriter&) = delete;
  CacheFileWriter& operator=(const CacheFileWriter&) = delete;
  ~CacheFileWriter() {
    if (fd_ >= 0) ::close(fd_);
    if (!committed_) ::unlink(tmp_.c_str());
  }

  template <typename T>
  void append(const T* values, size_t n) {
    const char* p = reinterpret_cast<const char*>(values);
    buffer_.insert(buffer_.end(), p, p + n * sizeof(T));
    count_ += n;
    if (buffer_.size() >= kBufferBytes) flush();
  }
  template <typename T>
  void append_one(T v) { append(&v, 1); }

  void finish(uint64_t fingerprint, uint64_t build_id) {
    flush();
    FileHeader h{};
    std::memcpy(h.magic, kMagic, sizeof kMagic);
    h.version = kTokenCacheFormatVersion;
    h.kind = kind_;
    h.fingerprint = fingerprint;
    h.count = count_;
    h.element_size = element_size_;
    h.byte_order = kByteOrderMark;
    h.build_id = build_id;
    if (::pwrite(fd_, &h, sizeof h, 0) != static_cast<ssize_t>(sizeof h)) fail("write failed");
    if (::fsync(fd_) != 0) fail("fsync failed");
    if (::close(fd_) != 0) {
      fd_ = -1;
      fail("close failed");
    }
    fd_ = -1;
  }

  void commit() {
    if (std::rename(tmp_.c_str(), final_.c_str()) != 0) {
      throw Error(final_ + ": cannot rename from " + tmp_ + " (" + sys_error() + ")");
    }
    committed_ = true;
  }

  uint64_t count() const { return count_; }

 private:
  static constexpr size_t kBufferBytes = size_t{1} << 20;

  [[noreturn]] void fail(const char* what) {
    throw Error(tmp_ + ": " + what + " (" + sys_error() + ")");
  }

  void flush() {
    const char* p = buffer_.data();
    size_t left = buffer_.size();
    while (left > 0) {
      const ssize_t n = ::write(fd_, p, left);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) fail("write failed");
      p += n;
      left -= static_cast<size_t>(n);
    }
    buffer_.clear();
  }

  std::string final_, tmp_;
  FileKind kind_;
  uint32_t element_size_;
  int fd_ = -1;
  std::vector<char> buffer_;
  uint64_t count_ = 0;
  bool committed_ = false;
};

// Token ids of one sentence, no special tokens, from whichever tokenizer this is.
class IdEncoder {
 public:
  explicit IdEncoder(const tokenizer::Tokenizer& t)
      : any_(t),
        wordpiece_(dynamic_cast<const tokenizer::WordPieceTokenizer*>(&t)),
        sentencepiece_(dynamic_cast<const tokenizer::SentencePieceTokenizer*>(&t)) {}

  std::vector<int64_t> operator()(std::string_view text) const {
    if (wordpiece_ != nullptr) return wordpiece_->encode_ids(text);
    if (sentencepiece_ != nullptr) return sentencepiece_->encode_ids(text);
    const tokenizer::Encoding e = any_.encode(text);
    std::vector<int64_t> ids;
    ids.reserve(e.ids.size());
    for (size_t i = 0; i < e.ids.size(); ++i)
      if (e.sequence_ids.size() != e.ids.size() || e.sequence_ids[i] >= 0) ids.push_back(e.ids[i]);
    if (e.sequence_ids.size() != e.ids.size() && ids.size() >= 2) {  // no alignment: [CLS] ... [SEP]
      ids.erase(ids.begin());
      ids.pop_back();
    }
    return ids;
  }

 private:
  const tokenizer::Tokenizer& any_;
  const tokenizer::WordPieceTokenizer* wordpiece_;
  const tokenizer::SentencePieceTokenizer* sentencepiece_;
};

// Encodes texts[0, n) into out[0, n) on `threads` threads. Chunks are handed out through an
// atomic counter because sentence lengths vary a lot; a new set of threads per batch costs tens
// of microseconds against tens of milliseconds of tokenizing.
void encode_parallel(const IdEncoder& encode, const std::vector<std::string>& texts, size_t n,
                     std::vector<std::vector<int64_t>>& out, size_t threads) {
  if (out.size() < n) out.resize(n);
  constexpr size_t kChunk = 32;
  threads = std::min(threads, (n + kChunk - 1) / kChunk);
  if (threads <= 1) {
    for (size_t i = 0; i < n; ++i) out[i] = encode(texts[i]);
    return;
  }
  std::atomic<size_t> next{0};
  std::exception_ptr error;
  std::mutex error_mutex;
  auto worker = [&] {
    try {
      for (;;) {
        const size_t begin = next.fetch_add(kChunk);
        if (begin >= n) return;
        const size_t end = std::min(n, begin + kChunk);
        for (size_t i = begin; i < end; ++i) out[i] = encode(texts[i]);
      }
    } catch (...) {
      std::lock_guard<std::mutex> lock(error_mutex);
      if (!error) error = std::current_exception();
      next.store(n);
    }
  };
  std::vector<std::thread> pool;
  pool.reserve(threads - 1);
  for (size_t t = 1; t < threads; ++t) pool.emplace_back(worker);
  worker();
  for (auto& th : pool) th.join();
  if (error) std::rethrow_exception(error);
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Progress on stderr: one line rewritten in place on a terminal, a log line every 10 s otherwise
// (so that a log file is not flooded with carriage returns).
class Progress {
 public:
  Progress(bool enabled, uint64_t total_bytes)
      : enabled_(enabled), tty_(::isatty(STDERR_FILENO) == 1), total_(total_bytes),
        start_(std::chrono::steady_clock::now()), last_(start_) {}

  void update(uint64_t bytes, uint64_t tokens) {
    if (!enabled_) return;
    const auto now = std::chrono::steady_clock::now();
    const double since = std::chrono::duration<double>(now - last_).count();
    if (since < (tty_ ? 0.25 : 10.0)) return;
    last_ = now;
    const std::string line = describe(bytes, tokens);
    if (tty_) {
      std::fprintf(stderr, "\r%s\033[K", line.c_str());
      std::fflush(stderr);
      drawn_ = true;
    } else {
      log::info("{}", line);
    }
  }

  void finish() {
    if (drawn_) {
      std::fprintf(stderr, "\r\033[K");
      std::fflush(stderr);
    }
  }

 private:
  std::string describe(uint64_t bytes, uint64_t tokens) const {
    const double elapsed = std::max(1e-9, seconds_since(start_));
    const double pct = total_ > 0 ? 100.0 * static_cast<double>(bytes) / static_cast<double>(total_) : 100.0;
    return fmt::format("[corpus] tokenizing {:.1f}/{:.1f} MB ({:.0f}%), {:.1f} MB/s, {:.2f}M tokens",
                       bytes / 1e6, total_ / 1e6, pct, bytes / 1e6 / elapsed, tokens / 1e6);
  }

  bool enabled_, tty_;
  uint64_t total_;
  std::chrono::steady_clock::time_point start_, last_;
  bool drawn_ = false;
};

// An exclusive flock on cache_dir/lock for the lifetime of the object; none when the lock file
// cannot be created (a read-only cache directory can still be used, just not built).
class DirLock {
 public:
  explicit DirLock(const fs::path& dir) {
    const std::string path = (dir / kLockFile).string();
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) return;
    if (::flock(fd_, LOCK_EX | LOCK_NB) == 0) return;
    log::info("[corpus] waiting for another process that holds {}", path);
    while (::flock(fd_, LOCK_EX) != 0 && errno == EINTR) {
    }
  }
  ~DirLock() {
    if (fd_ >= 0) ::close(fd_);  // releases the lock
  }
  DirLock(const DirLock&) = delete;
  DirLock& operator=(const DirLock&) = delete;

 private:
  int fd_ = -1;
};

uint64_t random_build_id() {
  std::random_device rd;
  const uint64_t t = static_cast<uint64_t>(std::chrono::system_clock::now().time_since_epoch().count());
  return ((static_cast<uint64_t>(rd()) << 32) ^ rd()) ^ (t * 0x9E3779B97F4A7C15ull);
}

std::string utc_now() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

void fsync_dir(const fs::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);  // best effort: makes the renames durable
  ::close(fd);
}

}  // namespace

struct TokenCache::Impl {
  Mapping tokens, sentences, documents;
  TokenizedCorpusView view;
  TokenCacheStats stats;

  // Maps and validates the cache in dir against f; empty string on success, else the reason.
  std::string load(const fs::path& dir, const Fingerprint& f) {
    const fs::path meta_path = dir / kMetaFile;
    std::error_code ec;
    if (!fs::exists(meta_path, ec)) return "no cache yet";
    json m;
    try {
      m = json::parse(read_text_file(meta_path.string()));
    } catch (const std::exception& e) {
      return std::string(kMetaFile) + " is unreadable (" + e.what() + ")";
    }
    try {
      if (!m.is_object() || m.value("format_version", 0u) != kTokenCacheFormatVersion) {
        return "cache format version differs";
      }
      if (m.value("fingerprint", "") != hex64(f.total)) return mismatch_reason(m, f);
      const uint64_t build_id = std::stoull(m.at("build_id").get<std::string>(), nullptr, 16);
      const uint64_t n_tokens = m.at("tokens").get<uint64_t>();
      const uint64_t n_sentences = m.at("sentences").get<uint64_t>();
      const uint64_t n_documents = m.at("documents").get<uint64_t>();

      struct Part {
        Mapping* map;
        const char* name;
        FileKind kind;
        uint32_t element_size;
        uint64_t count;
      };
      const Part parts[] = {{&tokens, kTokensFile, kTokensKind, 4, n_tokens},
                            {&sentences, kSentencesFile, kSentencesKind, 8, n_sentences + 1},
                            {&documents, kDocumentsFile, kDocumentsKind, 8, n_documents + 1}};
      for (const Part& p : parts) {
        std::string why = p.map->map((dir / p.name).string());
        if (why.empty()) why = check_header(*p.map, p.kind, p.element_size, f.total, build_id, p.count);
        if (!why.empty()) return std::string(p.name) + ": " + why;
      }
      view.tokens = static_cast<const uint32_t*>(tokens.payload());
      view.num_tokens = n_tokens;
      view.sentence_starts = static_cast<const uint64_t*>(sentences.payload());
      view.num_sentences = n_sentences;
      view.document_starts = static_cast<const uint64_t*>(documents.payload());
      view.num_documents = n_documents;
      std::string why = check_offsets(view.sentence_starts, n_sentences, n_tokens, "sentence starts");
      if (!why.empty()) return std::string(kSentencesFile) + ": " + why;
      why = check_offsets(view.document_starts, n_documents, n_sentences, "document starts");
      if (!why.empty()) return std::string(kDocumentsFile) + ": " + why;

      stats.files = f.inputs.size();
      stats.bytes = f.bytes;
      stats.documents = n_documents;
      stats.sentences = n_sentences;
      stats.tokens = n_tokens;
      stats.build_seconds = m.value("build_seconds", 0.0);
      stats.fingerprint = hex64(f.total);
      stats.cache_dir = dir.string();
    } catch (const std::exception& e) {
      return std::string(kMetaFile) + " is incomplete (" + e.what() + ")";
    }
    return "";
  }
};

namespace {

// Streams the corpus through the tokenizer into dir, then writes meta.json (the commit point).
void build_cache(const fs::path& dir, const std::vector<CorpusFile>& files, const Fingerprint& f,
                 const TokenCacheOptions& o, const tokenizer::Tokenizer& tok) {
  const auto t0 = std::chrono::steady_clock::now();
  const size_t threads = o.threads > 0 ? static_cast<size_t>(o.threads)
                                       : std::max(1u, std::thread::hardware_concurrency());
  const uint64_t build_id = random_build_id();

  // The old meta.json goes first: from here until the new one is written, the directory holds
  // no complete cache, whatever happens.
  std::error_code ec;
  fs::remove(dir / kMetaFile, ec);

  CacheFileWriter tokens(dir / kTokensFile, kTokensKind, 4);
  CacheFileWriter sentences(dir / kSentencesFile, kSentencesKind, 8);
  CacheFileWriter documents(dir / kDocumentsFile, kDocumentsKind, 8);
  sentences.append_one<uint64_t>(0);
  documents.append_one<uint64_t>(0);
  uint64_t n_tokens = 0, n_sentences = 0, n_documents = 0, doc_first_sentence = 0;

  auto end_document = [&] {
    if (n_sentences == doc_first_sentence) return;  // every sentence tokenized to nothing
    documents.append_one<uint64_t>(n_sentences);
    ++n_documents;
    doc_first_sentence = n_sentences;
  };

  // Two batches: the reader fills one on this thread while the other is being tokenized in the
  // background (with threads > 1), so reading and sentence splitting overlap tokenization.
  // Memory: two batches of about batch_bytes of text plus their ids, whatever the corpus size.
  struct Batch {
    std::vector<std::string> texts;  // texts[0, size)
    std::vector<uint8_t> ends_document;  // whether a document ends after texts[i]
    std::vector<std::vector<int64_t>> ids;
    size_t size = 0, bytes = 0;
  };
  const IdEncoder encode(tok);
  const bool overlap = threads > 1;
  Batch batches[2];
  Batch* filling = &batches[0];
  Batch* in_flight = nullptr;  // being tokenized, or tokenized and not yet written
  std::vector<uint32_t> ids32;
  uint64_t bytes_read = 0;
  Progress progress(o.show_progress, f.bytes);

  auto write_out = [&](Batch& b) {
    for (size_t i = 0; i < b.size; ++i) {
      const std::vector<int64_t>& s = b.ids[i];
      if (!s.empty()) {
        ids32.resize(s.size());
        for (size_t k = 0; k < s.size(); ++k) {
          if (s[k] < 0 || s[k] > static_cast<int64_t>(UINT32_MAX)) {
            throw Error("token cache: the tokenizer returned id " + std::to_string(s[k]) +
                        ", expected 0..2^32-1");
          }
          ids32[k] = static_cast<uint32_t>(s[k]);
        }
        tokens.append(ids32.data(), ids32.size());
        n_tokens += s.size();
        sentences.append_one<uint64_t>(n_tokens);
        ++n_sentences;
      }
      if (b.ends_document[i]) end_document();
    }
    b.size = 0;
    b.bytes = 0;
    progress.update(bytes_read, n_tokens);
  };
  // Declared after the batches, so that on an exception its destructor waits for the worker
  // before the batches it reads go away.
  std::future<void> tokenizing;
  auto finish_in_flight = [&] {
    if (in_flight == nullptr) return;
    if (tokenizing.valid()) tokenizing.get();  // rethrows a tokenizer error
    write_out(*in_flight);
    in_flight = nullptr;
  };
  auto submit = [&] {
    finish_in_flight();
    Batch& b = *filling;
    if (overlap) {
      tokenizing = std::async(std::launch::async,
                              [&encode, &b, threads] { encode_parallel(encode, b.texts, b.size, b.ids, threads); });
    } else {
      encode_parallel(encode, b.texts, b.size, b.ids, threads);
    }
    in_flight = &b;
    filling = filling == &batches[0] ? &batches[1] : &batches[0];
  };

  CorpusCallbacks cb;
  cb.sentence = [&](std::string_view s) {
    Batch& b = *filling;
    if (b.texts.size() <= b.size) {
      b.texts.emplace_back();
      b.ends_document.emplace_back();
    }
    b.texts[b.size].assign(s.data(), s.size());  // reuses the string's capacity
    b.ends_document[b.size] = 0;
    ++b.size;
    b.bytes += s.size();
    if (b.bytes >= o.batch_bytes) submit();
  };
  cb.end_document = [&] {
    // The document's last sentence is in the batch being filled or, if that is empty, in the one
    // in flight (not written before the next submit, and its workers never touch ends_document).
    Batch* b = filling->size > 0 ? filling : in_flight;
    if (b != nullptr && b->size > 0) {
      b->ends_document[b->size - 1] = 1;
    } else {
      end_document();
    }
  };
  cb.progress = [&](uint64_t bytes) { bytes_read = bytes; };

  try {
    read_corpus(files, o.reader, cb);
    if (filling->size > 0) submit();
    finish_in_flight();
    end_document();  // no-op unless the reader's last end_document was lost
  } catch (...) {
    progress.finish();
    throw;
  }
  progress.finish();

  if (n_tokens == 0) {
    throw Error("token cache: the corpus (" + std::to_string(files.size()) + " files, " +
                std::to_string(f.bytes) + " bytes, first " + files.front().path +
                ") yields no tokens; expected at least one non-empty sentence");
  }

  tokens.finish(f.total, build_id);
  sentences.finish(f.total, build_id);
  documents.finish(f.total, build_id);
  tokens.commit();
  sentences.commit();
  documents.commit();
  fsync_dir(dir);

  const double seconds = seconds_since(t0);
  json meta = {{"format_version", kTokenCacheFormatVersion},
               {"fingerprint", hex64(f.total)},
               {"build_id", hex64(build_id)},
               {"corpus_fingerprint", hex64(f.corpus)},
               {"tokenizer_fingerprint", hex64(f.tokenizer)},
               {"options_fingerprint", hex64(f.options)},
               {"layout", corpus_layout_name(o.reader.layout)},
               {"paragraphs_per_document", o.reader.paragraphs_per_document},
               {"strip_gutenberg_boilerplate", o.reader.strip_gutenberg_boilerplate},
               {"sentence_splitter_version", kSentenceSplitterVersion},
               {"tokenizer_dir", o.tokenizer_dir},
               {"tokenizer_files", json::object()},
               {"files", files.size()},
               {"bytes", f.bytes},
               {"documents", n_documents},
               {"sentences", n_sentences},
               {"tokens", n_tokens},
               {"threads", threads},
               {"build_seconds", seconds},
               {"built_at", utc_now()},
               {"inputs", inputs_json(f)}};
  for (const auto& [name, hash] : f.tokenizer_files) meta["tokenizer_files"][name] = hex64(hash);
  write_file_atomic((dir / kMetaFile).string(), meta.dump(2) + "\n");
  fsync_dir(dir);
}

}  // namespace

TokenCache::TokenCache(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
TokenCache::TokenCache(TokenCache&&) noexcept = default;
TokenCache& TokenCache::operator=(TokenCache&&) noexcept = default;
TokenCache::~TokenCache() = default;

TokenizedCorpusView TokenCache::view() const { return impl_->view; }
const TokenCacheStats& TokenCache::stats() const { return impl_->stats; }

std::string TokenCache::summary() const {
  const TokenCacheStats& s = impl_->stats;
  return fmt::format(
      "token cache {} ({}): {} files, {:.1f} MB, {} documents, {} sentences, {} tokens; {} ({:.1f} s build)",
      s.cache_dir, s.fingerprint, s.files, s.bytes / 1e6, s.documents, s.sentences, s.tokens,
      s.reused ? "reused" : "built now", s.build_seconds);
}

TokenCache TokenCache::open(const TokenCacheOptions& o, const tokenizer::Tokenizer* tokenizer) {
  if (o.cache_dir.empty()) throw Error("token cache: no cache directory given");
  if (o.tokenizer_dir.empty()) throw Error("token cache: no tokenizer directory given");
  if (o.inputs.empty()) throw Error("token cache: no corpus inputs given");
  std::vector<CorpusFile> files = expand_corpus_inputs(o.inputs);
  // A cache directory inside a corpus directory must not become part of the corpus (its own
  // files would change the fingerprint on every run, and are not text).
  std::string cache_prefix = fs::absolute(o.cache_dir).lexically_normal().string();
  if (cache_prefix.empty() || cache_prefix.back() != '/') cache_prefix += '/';
  files.erase(std::remove_if(files.begin(), files.end(),
                             [&](const CorpusFile& file) { return file.path.rfind(cache_prefix, 0) == 0; }),
              files.end());
  if (files.empty()) throw Error("token cache: the corpus inputs hold no file outside the cache directory " + o.cache_dir);
  const Fingerprint f = compute_fingerprint(files, o);

  const fs::path dir(o.cache_dir);
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw Error("token cache directory " + o.cache_dir + ": cannot create (" + ec.message() + ")");
  DirLock lock(dir);  // held until the cache is mapped

  auto impl = std::make_unique<Impl>();
  std::string reason = o.force_rebuild ? "rebuild forced" : impl->load(dir, f);
  if (reason.empty()) {
    impl->stats.reused = true;
    TokenCache cache(std::move(impl));
    log::info("[corpus] {}", cache.summary());
    return cache;
  }
  if (reason != "no cache yet") log::warn("[corpus] rebuilding token cache in {}: {}", o.cache_dir, reason);
  impl = std::make_unique<Impl>();  // drops any partial mapping of the old files

  std::unique_ptr<tokenizer::Tokenizer> loaded;
  if (tokenizer == nullptr) {
    loaded = tokenizer::load_tokenizer(o.tokenizer_dir);
    tokenizer = loaded.get();
  }
  log::info("[corpus] building token cache in {}: {} files, {:.1f} MB, layout {}", o.cache_dir,
            files.size(), f.bytes / 1e6, corpus_layout_name(o.reader.layout));
  build_cache(dir, files, f, o, *tokenizer);

  reason = impl->load(dir, f);
  if (!reason.empty()) {
    throw Error("token cache in " + o.cache_dir + ": invalid right after building it (" + reason +
                "); is another process writing to the same directory?");
  }
  impl->stats.reused = false;
  TokenCache cache(std::move(impl));
  log::info("[corpus] {} ({:.1f} MB/s, {:.2f}M tokens/s)", cache.summary(),
            f.bytes / 1e6 / std::max(1e-9, cache.stats().build_seconds),
            cache.stats().tokens / 1e6 / std::max(1e-9, cache.stats().build_seconds));
  return cache;
}

}  // namespace bert::data
