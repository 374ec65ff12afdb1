#include "bert/data/tokenized_corpus.h"

namespace bert::data {

InMemoryCorpus::InMemoryCorpus(const std::vector<std::vector<std::vector<uint32_t>>>& documents) {
  sentence_starts_.push_back(0);
  document_starts_.push_back(0);
  for (const auto& doc : documents) {
    for (const auto& sentence : doc) {
      tokens_.insert(tokens_.end(), sentence.begin(), sentence.end());
      sentence_starts_.push_back(tokens_.size());
    }
    document_starts_.push_back(sentence_starts_.size() - 1);
  }
}

TokenizedCorpusView InMemoryCorpus::view() const {
  TokenizedCorpusView v;
  v.tokens = tokens_.data();
  v.num_tokens = tokens_.size();
  v.sentence_starts = sentence_starts_.data();
  v.num_sentences = sentence_starts_.size() - 1;
  v.document_starts = document_starts_.data();
  v.num_documents = document_starts_.size() - 1;
  return v;
}

}  // namespace bert::data
