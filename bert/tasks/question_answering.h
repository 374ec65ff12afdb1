// Extractive question answering as transformers' BertForQuestionAnswering and its run_qa.py example
// do it. A question and its context become one or more windows
//     [CLS] question [SEP] context tokens [i, i + L) [SEP]
// (L = max_seq_len - question tokens - 3; consecutive windows share doc_stride context tokens),
// so a context longer than the model reads is still searched end to end. Training labels each
// window with the answer's first and last token, or [CLS] when the window does not hold the whole
// answer. Reading answers back: in each window, the n_best highest start and end logits are paired
// into spans that lie in the context, end after they start and have at most max_answer_len
// tokens; the best span of all windows by start + end logit wins. With allow_no_answer (SQuAD
// v2.0) the question gets no answer when the lowest [CLS] score over its windows beats that span's
// score by more than null_threshold.
#pragma once

#include "bert/tasks/task_data.h"

#include <optional>
#include <string>
#include <vector>

namespace bert::tasks {

// Tokenizes every question and context of d.squad (contexts once each) and appends the windows
// to d.examples (with answer positions when the questions have answers). Records the options in d.qa.
void build_qa_features(const TaskDataOptions& options, const tokenizer::Tokenizer& tokenizer, TaskDataset& d);

struct QaAnswer {
  std::string text;                         // "" for no answer
  std::optional<size_t> start, end;         // character (code point) offsets in the context, end exclusive
  double score = 0;                         // probability of the span (see answer_questions)
  bool no_answer() const { return !start.has_value(); }
};

// One answer per question of d.squad, in order, from each window's start and end logits
// (start_logits[i] and end_logits[i] cover d.examples[i]'s tokens). The score is the probability
// transformers' question-answering pipeline gives a span: in the span's window, the softmax of the
// start logits over [CLS] and the context tokens at its start times the same for the end logits
// at its end; for no answer, the same at [CLS] in the window with the lowest [CLS] score.
std::vector<QaAnswer> answer_questions(const TaskDataset& d, const std::vector<std::vector<float>>& start_logits,
                                       const std::vector<std::vector<float>>& end_logits);

// The gold answer texts of each question ({} for an unanswerable one), for eval::squad_report.
std::vector<std::vector<std::string>> gold_answers(const TaskDataset& d);

}  // namespace bert::tasks
