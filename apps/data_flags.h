// The column/format flags that finetune, evaluate and predict share, and their translation to
// tasks::TaskDataOptions, so the three read a file the same way.
#pragma once

#include "bert/tasks/task_data.h"

#include <CLI/CLI.hpp>

#include <string>

namespace bert::app {

struct DataFlags {
  std::string format = "table";  // table | conll
  std::string text_column = "0", text_pair_column, label_column;  // label_column "": "1", unless label_columns
  std::string label_columns;  // multi-label: one 0/1 column per label, comma-separated names or indexes
  std::string choice_columns;  // multiple choice: one column per candidate, comma-separated names or indexes
  std::string delimiter, quoting = "auto";
  bool no_header = false;
  size_t tag_column = 3;
  bool skip_bad_rows = false;
  int64_t max_seq_len = 128;
  bool label_all_subtokens = false;
  std::string label_separator = ",";
  tasks::QaOptions qa;
  bool allow_no_answer = false;
};

void add_data_flags(CLI::App* cmd, DataFlags& flags, bool with_labels);
// Multi-label sets: finetune and evaluate read them, predict writes them.
void add_label_separator_flag(CLI::App* cmd, DataFlags& flags);
// Question answering: windows over long contexts and how answers are read back.
void add_qa_flags(CLI::App* cmd, DataFlags& flags);
// Multiple choice: the candidate columns.
void add_choice_flags(CLI::App* cmd, DataFlags& flags);
// `cmd`'s flags as TaskDataOptions; --max-seq-len left unset becomes 0 (the task's default).
tasks::TaskDataOptions to_task_data_options(const DataFlags& flags, bool with_labels, const CLI::App* cmd = nullptr);

}  // namespace bert::app
