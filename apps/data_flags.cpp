#include "apps/data_flags.h"

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
  cmd->add_option("--max-seq-len", f.max_seq_len, "tokens per example, longer ones truncated (default: 128)");
  if (with_labels)
    cmd->add_flag("--label-all-subtokens", f.label_all_subtokens, "tagging: label every word piece, not only the first (default: off)");
}

void add_label_separator_flag(CLI::App* cmd, DataFlags& f) {
  cmd->add_option("--label-separator", f.label_separator,
                  "multi-label data: the character between a row's labels, e.g. , | ; or tab (default: ,)");
}

tasks::TaskDataOptions to_task_data_options(const DataFlags& f, bool with_labels) {
  tasks::TaskDataOptions o;
  o.conll = f.format == "conll";
  if (!f.delimiter.empty()) o.table.delimiter = data::parse_delimiter(f.delimiter);
  o.table.quoting = data::parse_quoting(f.quoting);
  o.table.has_header = !f.no_header;
  o.table.text = data::ColumnRef::parse(f.text_column);
  if (!f.text_pair_column.empty()) o.table.text_pair = data::ColumnRef::parse(f.text_pair_column);
  if (with_labels && !f.label_columns.empty()) {
    if (!f.label_column.empty()) throw Error("give --label-column (one column) or --label-columns (0/1 columns), not both");
    std::stringstream columns(f.label_columns);
    for (std::string c; std::getline(columns, c, ',');) {
      if (c.find_first_not_of(" \t") == std::string::npos)
        throw Error("--label-columns: empty column name in \"" + f.label_columns + "\"");
      o.table.indicator_labels.push_back(data::ColumnRef::parse(c));
    }
  } else if (with_labels) {
    o.table.label = data::ColumnRef::parse(f.label_column.empty() ? "1" : f.label_column);
  }
  o.table.skip_bad_rows = f.skip_bad_rows;
  if (with_labels) o.conll_options.tag_column = f.tag_column;
  o.max_seq_len = f.max_seq_len;
  o.label_all_subtokens = f.label_all_subtokens;
  try {
    o.label_separator = data::parse_delimiter(f.label_separator);
  } catch (const Error& e) {
    throw Error(std::string("--label-separator: ") + e.what());
  }
  o.has_labels = with_labels;
  return o;
}

}  // namespace bert::app
