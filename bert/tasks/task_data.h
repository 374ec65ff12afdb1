// Labelled data for fine-tuning, evaluation and prediction: CSV/TSV rows (classification,
// multi-label classification, regression, multiple choice), CoNLL sentences (token tagging) or SQuAD questions
// (extractive question answering, see question_answering.h) → tokenized examples → dynamically padded,
// length-grouped batches. Shared by `bert finetune`, `bert evaluate` and `bert predict` so the
// three read a file the same way.
//
// Tagging aligns word labels to word pieces by byte offsets: the words are joined with single
// spaces, tokenized once, and each piece is assigned to the word whose bytes contain it; the
// first piece of a word carries its label, the others -100 (or the same label with
// label_all_subtokens), as Hugging Face's token-classification examples do.
#pragma once

#include "bert/data/conll_reader.h"
#include "bert/data/squad_reader.h"
#include "bert/data/table_reader.h"
#include "bert/tokenizer/tokenizer.h"

#include <nlohmann/json.hpp>
#include <torch/types.h>

#include <random>
#include <string>
#include <vector>

namespace bert::tasks {

// multilabel: each row has a set of labels (possibly empty), each a yes/no decision of its own.
// qa: extractive question answering: the answer is a span of the context.
// choice: multiple choice (SWAG): which of a row's K candidate texts follows from its context.
enum class Task { classify, multilabel, regress, tag, qa, choice };
// classify | multilabel | regress | tag | qa | choice (auto: resolved by the caller)
Task parse_task(const std::string& name);
std::string task_name(Task task);

// Question answering: how a question and its context become windows, and how answers are read back
// (the defaults are transformers' run_qa.py's).
struct QaOptions {
  int64_t doc_stride = -1;      // context tokens shared by consecutive windows of a long context;
                                // -1: max_seq_len / 3 (128 at the default 384, run_qa.py's)
  int64_t max_query_len = 64;   // question tokens kept
  int64_t max_answer_len = 30;  // longest answer, in tokens
  int64_t n_best = 20;          // start and end candidates considered per window
  double null_threshold = 0.0;  // "no answer" when its score beats the best span's by more than this
  bool allow_no_answer = false; // SQuAD v2.0: a question may have no answer in its context
};

struct TaskDataOptions {
  Task task = Task::classify;
  bool conll = false;  // CoNLL column file instead of CSV/TSV (tagging)
  data::TableOptions table;
  data::ConllOptions conll_options;
  int64_t max_seq_len = 128;
  bool label_all_subtokens = false;
  char label_separator = ',';  // multilabel: between the names of a row's label set
  bool has_labels = true;  // false for prediction input
  // Prediction input: a .txt file is one text per line, no header (unless the command was given
  // the file's layout: --delimiter, --quoting, --no-header, --text-pair-column).
  bool txt_is_lines = true;
  // Which settings the command line gave; evaluate and predict take the others from a model's
  // finetune_inputs (below). max_seq_len 0 and qa.doc_stride -1 say "not given" themselves.
  bool columns_given = true, max_query_len_given = true, label_separator_given = true;
  int64_t model_vocab_size = 0;  // > 0: a token id from it on is an error naming the example
  QaOptions qa;
};

struct TaskExample {
  std::vector<int64_t> ids, type_ids;
  int64_t label = -100;              // classify
  std::vector<int64_t> label_set;    // multilabel: label ids, possibly none
  float target = 0.0f;               // regress
  std::vector<int64_t> token_labels; // tag: per piece, -100 where not scored
  std::vector<int64_t> word_of_piece;  // tag: word index per piece, -1 for specials/extra pieces
  // qa: one example per window of a question's context. Tokens [context_position, context_position +
  // context_tokens) are the context's tokens from context_token_begin on; start/end_position are
  // the answer's first and last token (0, [CLS], when the window does not hold it).
  int64_t question = -1;
  int64_t context_position = 0, context_token_begin = 0, context_tokens = 0;
  int64_t start_position = 0, end_position = 0;
  // choice: one sequence per candidate, [CLS] context [SEP] candidate [SEP] (ids and type_ids unused);
  // label is the right candidate's index.
  std::vector<std::vector<int64_t>> choice_ids, choice_type_ids;
  size_t line = 0;

  size_t length() const;  // the longest sequence: what a batch pads to
  size_t tokens() const;  // all of its sequences' tokens
};

struct TaskDataset {
  std::string path;
  std::vector<TaskExample> examples;
  std::vector<data::LabelledRow> rows;           // CSV/TSV source rows (for predict output)
  std::vector<std::string> header;               // CSV/TSV column names; empty without a header
  std::vector<data::TaggedSentence> sentences;   // CoNLL source sentences
  data::SquadFile squad;                         // qa: questions and contexts
  std::vector<std::vector<std::pair<size_t, size_t>>> context_offsets;  // qa: byte span of each context token
  QaOptions qa;                                  // qa: the settings the windows were made with
  size_t truncated = 0;                          // examples cut to max_seq_len
  size_t words_lost_to_truncation = 0;           // tag: words with no piece left
  std::string read_summary;
};

// --max-seq-len capped at what the model's position embeddings allow (a model with 64 positions
// cannot read 128 tokens); says so once when it lowers it.
int64_t fit_max_seq_len(int64_t requested, int64_t max_position_embeddings);
// --max-seq-len not given (0): 384 for question answering (contexts are long; run_qa.py's default), else 128.
int64_t resolve_max_seq_len(int64_t requested, Task task);

// config.json key under which a question-answering model records that it was trained to answer
// "none" (SQuAD v2.0 data), so that predict does the same by default.
inline constexpr const char* kAllowNoAnswerKey = "qa_allow_no_answer";

// config.json key under which finetune records how the model read its data: the columns (names or
// indexes), the sequence length, question answering's windows, multi-label's separator. evaluate
// and predict default to them where their command line says nothing, so that a model trained on
// STS-B's sentence1/sentence2 reads those columns again rather than column 0.
inline constexpr const char* kFinetuneInputsKey = "finetune_inputs";
nlohmann::json finetune_inputs(const TaskDataOptions& options);
// The sequence length, windows and separator of `inputs` where `options` has none given.
void apply_finetune_settings(const nlohmann::json& inputs, TaskDataOptions& options);
// The columns of `inputs` when no column was given and `path`'s header has every named one (a log
// line says so); a warning when the header lacks them and the defaults are read instead.
void apply_finetune_columns(const nlohmann::json& inputs, const std::string& path, TaskDataOptions& options);

// Reads and tokenizes `path`. Labels map through `labels` (classify/multilabel/tag); a label missing from
// it is an error naming file:line, unless `labels` is empty and `build_labels` is set, in which
// case it is built from this file (training data) in sorted order.
TaskDataset load_task_data(const std::string& path, const TaskDataOptions& options,
                           const tokenizer::Tokenizer& tokenizer, data::LabelMap& labels, bool build_labels);

// One CSV/TSV row → an example (no label set; the caller maps it). `truncated` counts cuts.
TaskExample encode_row(const data::LabelledRow& row, const TaskDataOptions& options, const tokenizer::Tokenizer& tok,
                       size_t& truncated);
// One multiple-choice row → an example with one sequence per candidate: [CLS] text [SEP]
// (text_pair + " ") candidate [SEP], as transformers' run_swag.py reads SWAG. `truncated` counts
// rows with a candidate cut.
TaskExample encode_choices(const data::LabelledRow& row, const TaskDataOptions& options,
                           const tokenizer::Tokenizer& tok, size_t& truncated);
// One CoNLL sentence → an example with word labels (empty: unlabelled) aligned to pieces.
TaskExample encode_sentence(const data::TaggedSentence& sentence, const std::vector<int64_t>& word_labels,
                            const TaskDataOptions& options, const tokenizer::Tokenizer& tok, size_t& truncated,
                            size_t& words_lost);

struct TaskBatch {
  torch::Tensor input_ids, token_type_ids, attention_mask;  // (B, S); choice: (B, K, S)
  torch::Tensor labels;         // classify (B) int64, multilabel (B, num_labels) float 0/1, regress (B) float,
                                // tag (B, S) int64, qa (B, 2) int64 answer start and end, choice (B) int64
  std::vector<size_t> indices;  // example indices in the dataset
  int64_t real_tokens = 0;
};

// Batches of example indices: shuffled, then grouped by length within windows of 50 batches so
// that each batch pads little (dynamic padding) while the order stays random.
std::vector<std::vector<size_t>> length_grouped_batches(const std::vector<TaskExample>& examples, int64_t batch_size,
                                                        std::mt19937_64* rng);

// Batches of a uniformly shuffled order, as PyTorch's RandomSampler gives (Trainer's default):
// more padding, but batch composition independent of length.
std::vector<std::vector<size_t>> shuffled_batches(size_t count, int64_t batch_size, std::mt19937_64& rng);

// Batches of consecutive examples in the data's own order (PyTorch's SequentialSampler).
std::vector<std::vector<size_t>> in_order_batches(size_t count, int64_t batch_size);

// A batch's rows as sub-batches of similar length, to be run one after another with each loss
// weighted by its share of the batch: the gradient of the whole padded batch (to float rounding)
// with less padding. The rows, longest first, are cut where the padding saved outweighs one more
// pass; chunk_cost is what a pass costs besides its tokens, counted in padded token positions
// (the cuts minimise padded positions + chunk_cost per sub-batch). Sub-batches longest first.
std::vector<std::vector<size_t>> split_by_length(const std::vector<TaskExample>& examples,
                                                 const std::vector<size_t>& rows, double chunk_cost);

// Pads to the longest example of the batch, or to pad_to if that is longer. num_labels: the width
// of multilabel targets.
TaskBatch collate_task_batch(const std::vector<TaskExample>& examples, const std::vector<size_t>& indices, Task task,
                             int64_t pad_id, const torch::Device& device, int64_t num_labels = 0, int64_t pad_to = 0);

}  // namespace bert::tasks
