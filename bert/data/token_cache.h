// The on-disk, memory-mapped cache of a tokenized corpus. Tokenizing gigabytes of text takes
// minutes and every pre-training run would otherwise redo it, so the first run streams the
// corpus through the tokenizer once (all cores, bounded memory) into three flat files in the
// TokenizedCorpusView layout, and later runs map them in milliseconds. The cache is keyed by a
// fingerprint of everything that determines its content, and is rebuilt when that changes:
//
//  - each input file's absolute path, size, modification time (ns) and a hash of its first and
//    last 64 KiB. Not the full content: that would read the whole corpus on every start. An edit
//    that keeps both size and mtime and only touches the middle goes unnoticed (editors and
//    copies update mtime); use force_rebuild then;
//  - the reader options (layout, paragraphs_per_document, Gutenberg stripping) and the
//    sentence splitter's and this format's version numbers;
//  - the full content of the tokenizer's files (vocab.txt, spm.model, spm.vocab,
//    tokenizer_config.json, special_tokens_map.json, tokenizer.json: those present), not their
//    directory, so a copied tokenizer reuses the cache.
//
// Files in cache_dir (little-endian, as written by this machine; each begins with a 64-byte
// header: magic "BERTTOKC", format version, kind, fingerprint, element count, element size,
// byte-order mark, and a random build id shared by the three files and meta.json):
//   tokens.u32      uint32 token ids, sentence after sentence, no special tokens
//   sentences.u64   num_sentences + 1 offsets into the tokens
//   documents.u64   num_documents + 1 offsets into the sentences
//   meta.json       fingerprints, inputs, counts, build time (human-readable; written last)
// A build writes "<name>.tmp.<pid>" files, renames them into place, and writes meta.json last,
// after deleting the old one first: an interrupted build never looks complete. On open, the
// headers, file sizes and offsets (monotonic, in range) are checked, so a truncated or mixed-up
// cache is rebuilt with a warning instead of crashing the trainer. Token values themselves are
// not checksummed (that would read the whole cache on every start). A lock file serialises
// processes that open the same cache_dir at once, so only one of them builds.
//
// Files below cache_dir are never part of the corpus (a cache inside the corpus directory is
// fine). Sentences that tokenize to nothing are dropped, and documents left without sentences too; a
// corpus with no tokens at all is a bert::Error.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "bert/data/corpus_reader.h"
#include "bert/data/tokenized_corpus.h"
#include "bert/tokenizer/tokenizer.h"

namespace bert::data {

inline constexpr uint32_t kTokenCacheFormatVersion = 1;

struct TokenCacheOptions {
  std::vector<std::string> inputs;  // files, directories, globs: see expand_corpus_inputs()
  CorpusReaderOptions reader;
  std::string tokenizer_dir;  // required: fingerprinted, and loaded when a build needs it
  std::string cache_dir;      // created if missing
  // Tokenizer threads for a build; <= 0: every core. With more than one, reading and sentence
  // splitting overlap tokenization on one more thread; 1 keeps the whole build on the caller's.
  int threads = 0;
  bool force_rebuild = false;
  bool show_progress = true;  // progress on stderr during a build
  // Text handed to the tokenizer threads at once; also the bound on the build's buffers.
  size_t batch_bytes = size_t{1} << 20;
};

struct TokenCacheStats {
  size_t files = 0;
  uint64_t bytes = 0;  // input bytes
  size_t documents = 0;
  size_t sentences = 0;
  size_t tokens = 0;
  double build_seconds = 0;  // of the build that made the cache (also when reused)
  bool reused = false;       // true: an existing cache was mapped; false: built now
  std::string fingerprint;   // 16 hex digits
  std::string cache_dir;
};

class TokenCache {
 public:
  // Maps the cache in options.cache_dir, building it first when it is missing, stale, corrupt,
  // or options.force_rebuild is set. `tokenizer` is used for the build when given (it must be
  // the one in options.tokenizer_dir); otherwise load_tokenizer(options.tokenizer_dir) is called,
  // and only if a build is needed. Throws bert::Error for bad inputs, invalid UTF-8, an empty
  // corpus, or an unwritable cache_dir.
  static TokenCache open(const TokenCacheOptions& options,
                         const tokenizer::Tokenizer* tokenizer = nullptr);

  TokenCache(TokenCache&&) noexcept;
  TokenCache& operator=(TokenCache&&) noexcept;
  ~TokenCache();

  // Valid while this object lives.
  TokenizedCorpusView view() const;
  const TokenCacheStats& stats() const;
  // One line for logs: counts, sizes, reused or built and how long it took.
  std::string summary() const;

 private:
  struct Impl;
  explicit TokenCache(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace bert::data
