#include "bert/tasks/question_answering.h"

#include "bert/util/error.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace bert::tasks {

namespace {

// The token pieces of an encoding without the [CLS] and [SEP] the tokenizer added.
struct Pieces {
  std::vector<int64_t> ids;
  std::vector<std::pair<size_t, size_t>> offsets;
};

Pieces strip_specials(const tokenizer::Encoding& e) {
  Pieces p;
  for (size_t i = 0; i < e.size(); ++i) {
    if (e.sequence_ids[i] < 0) continue;
    p.ids.push_back(e.ids[i]);
    p.offsets.push_back(e.offsets[i]);
  }
  return p;
}

// Labels a window over context tokens [first, last) with the answer's first and last token, as
// feature positions; (0, 0) = [CLS] when the window does not hold the whole answer.
std::pair<int64_t, int64_t> answer_positions(const data::Answer& answer, const std::vector<std::pair<size_t, size_t>>& offsets,
                                             size_t first, size_t last, int64_t context_position) {
  if (first == last || offsets[first].first > answer.begin || offsets[last - 1].second < answer.end) return {0, 0};
  size_t start = first;
  while (start + 1 < last && offsets[start + 1].first <= answer.begin) ++start;
  size_t end = start;
  while (end + 1 < last && offsets[end].second < answer.end) ++end;
  return {context_position + static_cast<int64_t>(start - first), context_position + static_cast<int64_t>(end - first)};
}

// Indexes of the n largest values, largest first.
std::vector<int64_t> top_indexes(const std::vector<float>& values, int64_t n) {
  std::vector<int64_t> order(values.size());
  std::iota(order.begin(), order.end(), 0);
  const auto k = std::min<size_t>(static_cast<size_t>(std::max<int64_t>(n, 0)), order.size());
  std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(k), order.end(),
                    [&](int64_t a, int64_t b) { return values[static_cast<size_t>(a)] > values[static_cast<size_t>(b)]; });
  order.resize(k);
  return order;
}

// Softmax over [CLS] and the window's context tokens, at one position.
double window_probability(const std::vector<float>& logits, const TaskExample& ex, int64_t position) {
  const auto first = static_cast<size_t>(ex.context_position), last = first + static_cast<size_t>(ex.context_tokens);
  double top = logits[0];
  for (size_t i = first; i < last; ++i) top = std::max<double>(top, logits[i]);
  double sum = std::exp(logits[0] - top);
  for (size_t i = first; i < last; ++i) sum += std::exp(logits[i] - top);
  return std::exp(logits[static_cast<size_t>(position)] - top) / sum;
}

}  // namespace

void build_qa_features(const TaskDataOptions& o, const tokenizer::Tokenizer& tok, TaskDataset& d) {
  auto q = o.qa;
  if (q.doc_stride < 0) q.doc_stride = o.max_seq_len / 3;
  if (q.max_query_len <= 0) throw Error("--max-query-len: must be > 0, found " + std::to_string(q.max_query_len));
  d.qa = q;
  std::vector<std::string> questions;
  questions.reserve(d.squad.questions.size());
  for (const auto& question : d.squad.questions) questions.push_back(question.question);
  auto question_encodings = tok.encode_batch(questions);
  auto context_encodings = tok.encode_batch(d.squad.contexts);
  std::vector<Pieces> contexts;
  contexts.reserve(context_encodings.size());
  for (const auto& e : context_encodings) contexts.push_back(strip_specials(e));
  context_encodings.clear();
  d.context_offsets.clear();
  for (auto& c : contexts) d.context_offsets.push_back(c.offsets);

  for (size_t qi = 0; qi < d.squad.questions.size(); ++qi) {
    const auto& question = d.squad.questions[qi];
    auto query = strip_specials(question_encodings[qi]).ids;
    if (static_cast<int64_t>(query.size()) > q.max_query_len) {
      query.resize(static_cast<size_t>(q.max_query_len));
      ++d.truncated;
    }
    const auto& context = contexts[question.context];
    const int64_t width = o.max_seq_len - static_cast<int64_t>(query.size()) - 3;  // context tokens per window
    if (width <= q.doc_stride)
      throw Error(fmt::format("{}: the question's {} tokens leave {} context tokens per window at --max-seq-len {}, "
                              "which must be more than --doc-stride {} (raise --max-seq-len, lower --doc-stride or "
                              "--max-query-len)", question.where, query.size(), std::max<int64_t>(width, 0),
                              o.max_seq_len, q.doc_stride));
    const size_t n = context.ids.size();
    const int64_t context_position = static_cast<int64_t>(query.size()) + 2;
    for (size_t first = 0;; first += static_cast<size_t>(width - q.doc_stride)) {
      const size_t last = std::min(n, first + static_cast<size_t>(width));
      TaskExample ex;
      ex.question = static_cast<int64_t>(qi);
      ex.context_position = context_position;
      ex.context_token_begin = static_cast<int64_t>(first);
      ex.context_tokens = static_cast<int64_t>(last - first);
      ex.ids.reserve(static_cast<size_t>(context_position) + (last - first) + 1);
      ex.ids.push_back(tok.cls_id());
      ex.ids.insert(ex.ids.end(), query.begin(), query.end());
      ex.ids.push_back(tok.sep_id());
      ex.type_ids.assign(ex.ids.size(), 0);
      ex.ids.insert(ex.ids.end(), context.ids.begin() + static_cast<std::ptrdiff_t>(first),
                    context.ids.begin() + static_cast<std::ptrdiff_t>(last));
      ex.ids.push_back(tok.sep_id());
      ex.type_ids.resize(ex.ids.size(), 1);
      if (!question.answers.empty())
        std::tie(ex.start_position, ex.end_position) =
            answer_positions(question.answers.front(), context.offsets, first, last, context_position);
      d.examples.push_back(std::move(ex));
      if (last >= n) break;
    }
  }
}

std::vector<QaAnswer> answer_questions(const TaskDataset& d, const std::vector<std::vector<float>>& start_logits,
                                       const std::vector<std::vector<float>>& end_logits) {
  const auto& o = d.qa;
  std::vector<QaAnswer> answers(d.squad.questions.size());
  size_t f = 0;
  for (size_t qi = 0; qi < answers.size(); ++qi) {
    struct Span {
      size_t feature;
      int64_t start, end;
      double score;
    };
    std::optional<Span> best;
    Span null{0, 0, 0, std::numeric_limits<double>::infinity()};
    for (; f < d.examples.size() && d.examples[f].question == static_cast<int64_t>(qi); ++f) {
      const auto& ex = d.examples[f];
      const auto& sl = start_logits[f];
      const auto& el = end_logits[f];
      const double null_score = static_cast<double>(sl[0]) + el[0];
      if (null_score < null.score) null = {f, 0, 0, null_score};
      const int64_t first = ex.context_position, last = first + ex.context_tokens;  // context tokens [first, last)
      for (int64_t s : top_indexes(sl, o.n_best)) {
        for (int64_t e : top_indexes(el, o.n_best)) {
          if (s < first || s >= last || e < first || e >= last || e < s || e - s + 1 > o.max_answer_len) continue;
          const double score = static_cast<double>(sl[static_cast<size_t>(s)]) + el[static_cast<size_t>(e)];
          if (!best || score > best->score) best = Span{f, s, e, score};
        }
      }
    }
    auto& answer = answers[qi];
    const bool no_answer = !best || (o.allow_no_answer && null.score - best->score > o.null_threshold);
    const Span chosen = no_answer ? null : *best;
    const auto& ex = d.examples[chosen.feature];
    answer.score = window_probability(start_logits[chosen.feature], ex, chosen.start) *
                   window_probability(end_logits[chosen.feature], ex, chosen.end);
    if (no_answer) continue;
    const auto& question = d.squad.questions[qi];
    const auto& context = d.squad.contexts[question.context];
    const auto& offsets = d.context_offsets[question.context];
    auto token = [&](int64_t position) { return static_cast<size_t>(ex.context_token_begin + position - ex.context_position); };
    const size_t begin = offsets[token(chosen.start)].first, end = offsets[token(chosen.end)].second;
    answer.text = context.substr(begin, end - begin);
    answer.start = data::code_point_count(context, begin);
    answer.end = *answer.start + data::code_point_count(answer.text, answer.text.size());
  }
  return answers;
}

std::vector<std::vector<std::string>> gold_answers(const TaskDataset& d) {
  std::vector<std::vector<std::string>> gold;
  gold.reserve(d.squad.questions.size());
  for (const auto& q : d.squad.questions) {
    std::vector<std::string> texts;
    for (const auto& a : q.answers) texts.push_back(a.text);
    gold.push_back(std::move(texts));
  }
  return gold;
}

}  // namespace bert::tasks
