#include "apps/data_flags.h"

#include "bert/util/checks.h"
#include "bert/util/error.h"

#include <sstream>

namespace bert::app {

void add_data_flags(CLI::App* cmd, DataFlags& f, bool with_labels) {
  cmd->add_option("--format", f.format, "table (CSV/TSV) | conll (word ... tag columns) (default: table)")
      ->check(CLI::IsMember({"table", "conll"}));
  cmd->add_option("--text-column", f.text_column, "text column: header name or 0-based index (default: 0)");
  cmd->add_option("--text-pair-column", f.text_pair_column, "second text of sentence pairs (default: none)");
  if (with_labels) {
    cmd->add_option("--label-column", f.label_column, "label column: name or index (default: 1)");
    cmd->add_option("--label-columns", f.label_columns,
                    "multi-label data with one 0/1 column per label: names or indexes, comma-separated, instead of "
                    "--label-column (default: none)");
  }
  cmd->add_option("--delimiter", f.delimiter, "field delimiter, e.g. , or tab (default: by extension: .csv , else tab)");
  cmd->add_option("--quoting", f.quoting, "auto | rfc4180 | none (none: quotes are literal, e.g. GLUE MRPC) (default: auto)")
      ->check(CLI::IsMember({"auto", "rfc4180", "none"}));
  cmd->add_flag("--no-header", f.no_header, "the first row is data, not column names (default: off)");
  if (with_labels) cmd->add_option("--tag-column", f.tag_column, "conll: 0-based column of the tag (default: 3)");
  cmd->add_flag("--skip-bad-rows", f.skip_bad_rows, "skip malformed rows and report their count instead of stopping (default: off)");
  cmd->add_option("--max-seq-len,--seq-len", f.max_seq_len,
                  "tokens per example, longer ones truncated (question answering: per window; evaluate --corpus: per "
                  "sequence, as pretrain's --seq-len) (default: 128; 384 for question answering)");
  if (with_labels)
    cmd->add_flag("--label-all-subtokens", f.label_all_subtokens, "tagging: label every word piece, not only the first (default: off)");
}

void add_label_separator_flag(CLI::App* cmd, DataFlags& f) {
  cmd->add_option("--label-separator", f.label_separator,
                  "multi-label data: the character between a row's labels, e.g. , | ; or tab (default: ,)");
}

void add_qa_flags(CLI::App* cmd, DataFlags& f) {
  auto& q = f.qa;
  cmd->add_option("--doc-stride", q.doc_stride,
                  "question answering: a context longer than a window is read in windows sharing this many tokens "
                  "(default: a third of --max-seq-len, 128 at 384)");
  cmd->add_option("--max-query-len", q.max_query_len, "question answering: question tokens kept (default: 64)");
  cmd->add_option("--max-answer-len", q.max_answer_len, "question answering: longest answer, in tokens (default: 30)");
  cmd->add_option("--n-best", q.n_best,
                  "question answering: start and end candidates paired per window (default: 20)");
  cmd->add_option("--null-threshold", q.null_threshold,
                  "question answering with unanswerable questions: answer \"none\" when its score beats the best "
                  "span's by more than this (default: 0)");
  cmd->add_flag("--allow-no-answer", f.allow_no_answer,
                "question answering: a question may have no answer (SQuAD v2.0) (default: when the training or "
                "evaluation data has unanswerable questions, or the model was trained on such data)");
}

void add_choice_flags(CLI::App* cmd, DataFlags& f) {
  cmd->add_option("--choice-columns", f.choice_columns,
                  "multiple choice: the candidate columns, comma-separated names or indexes, e.g. "
                  "ending0,ending1,ending2,ending3 (SWAG); --text-column is the context, --text-pair-column (optional) "
                  "the start every candidate shares, --label-column the right candidate's number from 0 (default: none)");
}

namespace {

// "a,b,3" → column references; `flag` names the flag in errors.
std::vector<data::ColumnRef> parse_column_list(const std::string& flag, const std::string& spec) {
  std::vector<data::ColumnRef> columns;
  std::stringstream in(spec);
  for (std::string c; std::getline(in, c, ',');) {
    if (c.find_first_not_of(" \t") == std::string::npos) throw Error(flag + ": empty column name in \"" + spec + "\"");
    columns.push_back(data::ColumnRef::parse(c));
  }
  return columns;
}

// Whether `cmd` has flag `name` and it was given (not every command has every data flag).
bool given(const CLI::App* cmd, const std::string& name) {
  const auto* option = cmd ? cmd->get_option_no_throw(name) : nullptr;
  return option && option->count() > 0;
}

}  // namespace

tasks::TaskDataOptions to_task_data_options(const DataFlags& f, bool with_labels, const CLI::App* cmd) {
  tasks::TaskDataOptions o;
  o.conll = f.format == "conll";
  if (!f.delimiter.empty() || given(cmd, "--delimiter")) {
    try {
      o.table.delimiter = data::parse_delimiter(f.delimiter);
    } catch (const Error& e) {
      throw Error(std::string("--delimiter: ") + e.what());
    }
  }
  o.table.quoting = data::parse_quoting(f.quoting);
  o.table.has_header = !f.no_header;
  o.table.text = data::ColumnRef::parse(f.text_column);
  if (!f.text_pair_column.empty()) o.table.text_pair = data::ColumnRef::parse(f.text_pair_column);
  if (with_labels && !f.label_columns.empty()) {
    if (!f.label_column.empty()) throw Error("give --label-column (one column) or --label-columns (0/1 columns), not both");
    o.table.indicator_labels = parse_column_list("--label-columns", f.label_columns);
  } else if (with_labels) {
    o.table.label = data::ColumnRef::parse(f.label_column.empty() ? "1" : f.label_column);
  }
  if (!f.choice_columns.empty()) o.table.choices = parse_column_list("--choice-columns", f.choice_columns);
  o.table.skip_bad_rows = f.skip_bad_rows;
  if (with_labels) o.conll_options.tag_column = f.tag_column;
  o.max_seq_len = cmd && !given(cmd, "--max-seq-len") ? 0 : f.max_seq_len;
  if (o.max_seq_len != 0 && o.max_seq_len < 4)
    throw Error("--max-seq-len: must be at least 4 ([CLS], [SEP] and a token of each text), found " +
                std::to_string(f.max_seq_len));
  o.qa = f.qa;
  o.qa.allow_no_answer = f.allow_no_answer;
  require_positive("--max-query-len", f.qa.max_query_len);
  require_positive("--max-answer-len", f.qa.max_answer_len);
  require_positive("--n-best", f.qa.n_best);
  require_finite("--null-threshold", f.qa.null_threshold);
  if (given(cmd, "--doc-stride")) require_non_negative("--doc-stride", f.qa.doc_stride);
  o.label_all_subtokens = f.label_all_subtokens;
  try {
    o.label_separator = data::parse_delimiter(f.label_separator);
  } catch (const Error& e) {
    throw Error(std::string("--label-separator: ") + e.what());
  }
  o.has_labels = with_labels;
  // Without a command line (a library caller), every setting counts as given.
  o.columns_given = !cmd || given(cmd, "--text-column") || given(cmd, "--text-pair-column") ||
                    given(cmd, "--label-column") || given(cmd, "--label-columns") || given(cmd, "--choice-columns");
  o.max_query_len_given = !cmd || given(cmd, "--max-query-len");
  o.label_separator_given = !cmd || given(cmd, "--label-separator");
  o.txt_is_lines = !(given(cmd, "--delimiter") || given(cmd, "--quoting") || given(cmd, "--no-header") ||
                     given(cmd, "--text-pair-column") || given(cmd, "--text-column"));
  return o;
}

}  // namespace bert::app
