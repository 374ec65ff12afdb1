// The tokenized pre-training corpus as the example builder sees it: one flat array of token ids,
// sentence boundaries into it, and document boundaries into the sentences. The on-disk cache
// (token_cache.h) memory-maps exactly this layout, so training reads it without copying and
// memory stays bounded whatever the corpus size; tests build it in memory.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace bert::data {

// A read-only view; the owner (TokenCache or an in-memory builder) keeps the memory alive.
struct TokenizedCorpusView {
  const uint32_t* tokens = nullptr;          // all token ids, sentence after sentence (no specials)
  size_t num_tokens = 0;
  const uint64_t* sentence_starts = nullptr;  // num_sentences + 1 offsets into tokens
  size_t num_sentences = 0;
  const uint64_t* document_starts = nullptr;  // num_documents + 1 offsets into sentences
  size_t num_documents = 0;

  size_t sentence_length(size_t s) const { return sentence_starts[s + 1] - sentence_starts[s]; }
  const uint32_t* sentence_tokens(size_t s) const { return tokens + sentence_starts[s]; }
  size_t document_first_sentence(size_t d) const { return document_starts[d]; }
  size_t document_num_sentences(size_t d) const { return document_starts[d + 1] - document_starts[d]; }
};

// An in-memory corpus (tests, small inputs): documents of sentences of token ids.
class InMemoryCorpus {
 public:
  explicit InMemoryCorpus(const std::vector<std::vector<std::vector<uint32_t>>>& documents);
  TokenizedCorpusView view() const;

 private:
  std::vector<uint32_t> tokens_;
  std::vector<uint64_t> sentence_starts_, document_starts_;
};

}  // namespace bert::data
