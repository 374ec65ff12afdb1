// `bert evaluate` and `bert predict` on a fine-tuned checkpoint directory (ours or Hugging
// Face's): read the data the way finetune read it, run the model, report metrics or write
// predictions.
#pragma once

#include "bert/tasks/task_data.h"

#include <optional>
#include <string>
#include <vector>

namespace bert::tasks {

struct InferenceOptions {
  std::string model_dir;
  TaskDataOptions data;  // task is taken from the model
  int64_t batch_size = 64;
  std::string precision = "fp32";
  std::string device = "cpu";
  std::string scheme = "bio";
  double threshold = 0.5;  // multilabel: probability from which a label is predicted
  // predict with a pre-trained model (no task head): candidates per [MASK] (0: 5) and, when given,
  // the only words ranked.
  int64_t top_k = 0;
  std::vector<std::string> targets;
};

// Prints the report to stdout; writes flat metrics JSON to `output` when given. Returns the metrics.
std::map<std::string, double> run_evaluate(const InferenceOptions& options, const std::string& data_file,
                                           const std::string& output);

struct PredictInput {
  std::string file;                      // a data file (no label column needed), or
  std::vector<std::string> texts;        // texts given directly (--text or stdin lines)
  std::vector<std::string> text_pairs;   // empty or one per text
  std::vector<std::string> choices;      // multiple choice: the candidates, the same for every text
  std::string source = "--text";         // where the texts came from, for errors ("stdin:3: ...")
  std::vector<size_t> lines;             // each text's line number (stdin skips blank lines); empty: 1, 2, ...
};

// Writes the predictions in input order. A pre-trained model (no task head) predicts the tokens at
// each [MASK] of the texts instead (fill_mask.h): JSON {input columns..., "masks": [[{"score",
// "token", "token_str", "sequence"}, ...top-k], ...per mask]}, or a CSV/TSV row per candidate
// (mask, rank, token, token_str, score, sequence).
// Otherwise it writes the predictions in input order to `output` (stdout when empty or "-"), in the format its
// extension names: .csv / .tsv → the input text columns plus `prediction` and `prob_<label>`
// (classify; multilabel: the predicted labels joined by the label separator, in JSON a list) or
// `score` (regress); .tsv/.txt for tagging → CoNLL layout (word TAB tag); anything
// else (and stdout) → JSON lines with the same fields (tagging: "words", "tags").
// Returns the number of predictions.
size_t run_predict(const InferenceOptions& options, const PredictInput& input, const std::string& output);

}  // namespace bert::tasks
