// `bert evaluate`, `bert predict` and `bert embed`: flags → bert::tasks::run_evaluate / run_predict / run_embed.
#include "apps/commands.h"
#include "apps/common.h"
#include "apps/data_flags.h"
#include "bert/tasks/embed.h"
#include "bert/tasks/inference.h"
#include "bert/train/pretraining_eval.h"
#include "bert/train/run_log.h"
#include "bert/util/error.h"
#include "bert/util/files.h"
#include "bert/util/log.h"
#include "bert/util/text.h"

#include <fmt/format.h>

#include <unistd.h>

#include <iostream>
#include <memory>

namespace bert::app {

namespace {

void add_inference_flags(CLI::App* cmd, tasks::InferenceOptions& o, const std::string& model_description) {
  cmd->add_option("--model", o.model_dir, model_description)->required();
  cmd->add_option("--batch-size", o.batch_size, "examples per batch (default: 64)");
  cmd->add_option("--precision", o.precision, "fp32 | bf16 | fp16 (CUDA) (default: fp32)")
      ->check(CLI::IsMember({"fp32", "bf16", "fp16"}));
  cmd->add_option("--device", o.device, "cpu | cuda | cuda:N (default: cpu)");
  cmd->add_option("--threshold", o.threshold, "multi-label models: a label is predicted from this probability on (default: 0.5)")
      ->check(CLI::Range(0.0, 1.0));
}

}  // namespace

struct EvaluateCommandOptions {
  CommonOptions common;
  DataFlags data;
  tasks::InferenceOptions run;
  std::string data_file, output;
  // --corpus: masked-LM evaluation of a pre-trained checkpoint
  train::PretrainOptions corpus;
  int64_t max_batches = 0;
  bool no_nsp = false;
};

namespace {

void evaluate_corpus(EvaluateCommandOptions& o, const CLI::App* cmd) {
  train::CorpusEvalOptions eval;
  eval.model_dir = o.run.model_dir;
  eval.objective = o.corpus;
  // Not given: 128, or the model's positions if fewer.
  eval.objective.seq_len = cmd->count("--max-seq-len") ? o.data.max_seq_len : 0;
  eval.objective.batch_size = o.run.batch_size;
  eval.objective.nsp = !o.no_nsp;
  eval.objective.threads = o.common.threads;
  eval.max_batches = o.max_batches;
  eval.precision = o.run.precision;
  eval.device = o.run.device;
  auto r = train::run_corpus_evaluation(eval);
  std::cout << fmt::format("masked-LM accuracy   {:.4f}\n", r["mlm_accuracy"].get<double>())
            << fmt::format("masked-LM loss       {:.4f}\n", r["mlm_loss"].get<double>())
            << fmt::format("perplexity           {:.2f}\n", r["perplexity"].get<double>());
  if (r.contains("nsp_accuracy"))
    std::cout << fmt::format("next-sentence acc.   {:.4f}\n", r["nsp_accuracy"].get<double>());
  std::cout << fmt::format("sequences {} masked tokens {} (seq len {}, masking seed {})\n", r["sequences"].get<int64_t>(),
                           r["masked_tokens"].get<int64_t>(), r["seq_len"].get<int64_t>(), r["seed"].get<uint64_t>());
  if (!o.output.empty()) train::write_metrics_file(o.output, r);
}

}  // namespace

void setup_evaluate(CLI::App& app) {
  auto o = std::make_shared<EvaluateCommandOptions>();
  auto* cmd = app.add_subcommand(
      "evaluate", "Metrics of a fine-tuned model on a labelled file (--data), or masked-LM accuracy and perplexity of a "
                  "pre-trained one on text (--corpus)");
  add_inference_flags(cmd, o->run,
                      "checkpoint directory: a fine-tuned model (or, for --corpus, a pre-trained one) (required)");
  auto* data = cmd->add_option("--data", o->data_file,
                               "labelled CSV/TSV, CoNLL or (question answering) SQuAD JSON / JSON lines file (this or "
                               "--corpus is required)");
  auto* corpus = cmd->add_option("--corpus", o->corpus.corpus, "text files, directories or globs, for a pre-trained model (this or --data is required)");
  data->excludes(corpus);
  cmd->add_option("--layout", o->corpus.layout, "--corpus layout: prose | google (default: prose)")
      ->check(CLI::IsMember({"prose", "google"}));
  cmd->add_option("--paragraphs-per-document", o->corpus.paragraphs_per_document,
                  "--corpus, prose: a new document every N paragraphs; 0 = one per file (default: 20)");
  cmd->add_option("--cache-dir", o->corpus.cache_dir, "--corpus token cache, kept for the next evaluation on the same corpus (default: a temporary one, removed at the end)");
  cmd->add_option("--max-batches", o->max_batches, "--corpus: batches evaluated; 0 = the whole corpus (default: 0)");
  cmd->add_option("--seed", o->corpus.seed, "--corpus: seed of the pairing and masking (default: 42)")
      ->check(non_negative_number());
  cmd->add_option("--mlm-prob", o->corpus.mlm_prob, "--corpus: share of tokens predicted (default: 0.15)");
  cmd->add_option("--max-predictions", o->corpus.max_predictions,
                  "--corpus: cap of predictions per sequence; 0 = uncapped (default: 20)");
  cmd->add_flag("--whole-word-mask", o->corpus.whole_word_mask, "--corpus: mask whole words (default: off)");
  cmd->add_flag("--no-nsp", o->no_nsp, "--corpus: no next-sentence pairs, packed sentences (default: off)");
  cmd->add_option("--output", o->output,
                  "write the metrics here: JSON, or for a .csv / .tsv file a metric,value table (default: none)");
  cmd->add_option("--scheme", o->run.scheme, "tagging: bio (also called iob2) | iob1 (default: bio)")
      ->check(CLI::IsMember({"bio", "iob1", "iob2"}));
  add_data_flags(cmd, o->data, /*with_labels=*/true);
  add_label_separator_flag(cmd, o->data);
  add_qa_flags(cmd, o->data);
  add_choice_flags(cmd, o->data);
  add_common_options(cmd, o->common);
  cmd->callback([o, cmd] {
    apply_common_options(o->common);
    if (!o->corpus.corpus.empty()) return evaluate_corpus(*o, cmd);
    if (o->data_file.empty()) throw Error("evaluate: give --data FILE (a fine-tuned model) or --corpus FILE (a pre-trained one)");
    o->run.data = to_task_data_options(o->data, true, cmd);
    tasks::run_evaluate(o->run, o->data_file, o->output);
  });
}

struct PredictCommandOptions {
  CommonOptions common;
  DataFlags data;
  tasks::InferenceOptions run;
  tasks::PredictInput input;
  std::string output;
};

void setup_predict(CLI::App& app) {
  auto o = std::make_shared<PredictCommandOptions>();
  auto* cmd = app.add_subcommand("predict", "Predictions of a fine-tuned model, or a pre-trained model's tokens at each [MASK] "
                                                 "(CSV/TSV, CoNLL or JSON lines, by --output extension)");
  add_inference_flags(cmd, o->run,
                      "checkpoint directory: a fine-tuned model, or a pre-trained one, whose predictions are the "
                      "tokens at each [MASK] of the input (required)");
  cmd->add_option("--top-k", o->run.top_k, "pre-trained model: candidates per [MASK] (default: 5)");
  cmd->add_option("--target", o->run.targets,
                  "pre-trained model: rank only this word at each [MASK], repeatable (default: the whole vocabulary)");
  auto* input = cmd->add_option("--input", o->input.file,
                  "CSV/TSV, CoNLL or (question answering) SQuAD JSON / JSON lines file (default: --text, else stdin, "
                  "one text per line, a TAB before a text pair)");
  auto* text = cmd->add_option("--text,--question", o->input.texts, "text to predict (question answering: the question), repeatable (default: none)");
  cmd->add_option("--text-pair,--context", o->input.text_pairs,
                  "second text of a pair (question answering: the context), one per --text (default: none)");
  input->excludes(text);
  cmd->add_option("--choice", o->input.choices,
                  "multiple choice: a candidate for every --text, repeatable, in order (default: none)");
  cmd->add_option("--output", o->output,
                  "output file; question answering: .json = SQuAD's {\"id\": \"answer\"} file, .csv/.tsv a table, else "
                  "JSON lines (default: stdout)");
  add_data_flags(cmd, o->data, /*with_labels=*/false);
  add_label_separator_flag(cmd, o->data);
  add_qa_flags(cmd, o->data);
  add_choice_flags(cmd, o->data);
  add_common_options(cmd, o->common);
  cmd->callback([o, cmd] {
    apply_common_options(o->common);
    o->run.data = to_task_data_options(o->data, false, cmd);
    auto input = o->input;
    if (input.file.empty() && input.texts.empty()) {
      if (isatty(STDIN_FILENO)) throw Error("predict: give --input FILE, --text T, or lines on stdin");
      input.source = "stdin";
      // Blank lines are skipped, as in a .txt --input; the rest keep their line numbers for errors.
      size_t line_number = 0, blank_lines = 0;
      for (std::string line; std::getline(std::cin, line);) {
        ++line_number;
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line.empty()) {
          ++blank_lines;
          continue;
        }
        input.lines.push_back(line_number);
        auto tab = line.find('\t');
        if (tab != std::string::npos) {
          input.text_pairs.push_back(line.substr(tab + 1));
          line.resize(tab);
        }
        input.texts.push_back(line);
      }
      if (!input.text_pairs.empty() && input.text_pairs.size() != input.texts.size())
        throw Error("stdin: either every line or none has a TAB-separated text pair");
      if (input.texts.empty()) throw Error("stdin: no text to predict on (expected one text per line)");
      if (blank_lines)
        log::info("[data] stdin: {}; {} ignored", counted(input.texts.size(), "text"), counted(blank_lines, "blank line"));
    }
    tasks::run_predict(o->run, input, o->output);
  });
}

}  // namespace bert::app

namespace bert::app {

struct EmbedCommandOptions {
  CommonOptions common;
  DataFlags data;
  tasks::EmbedOptions run;
  bool normalize = false;
};

void setup_embed(CLI::App& app) {
  auto o = std::make_shared<EmbedCommandOptions>();
  auto& r = o->run;
  auto* cmd = app.add_subcommand("embed", "One vector per input row, written as .safetensors ('embeddings' [rows, hidden]), .npy or .jsonl");
  cmd->add_option("--model", r.model_dir, "any BERT checkpoint directory (required)")->required();
  cmd->add_option("--input", r.input, "CSV/TSV file (required)")->required();
  cmd->add_option("--output", r.output,
                  "output file, by extension: .safetensors ('embeddings' [rows, hidden]), .npy (numpy.load) or "
                  ".jsonl (one {\"text\", \"embedding\"} per row) (required)")
      ->required();
  cmd->add_option("--pooling", r.pooling,
                  "auto (a sentence-transformers model's own, else mean) | cls | mean | max (over real tokens) | "
                  "mean_sqrt_len | pooler (default: auto)")
      ->check(CLI::IsMember({"auto", "cls", "mean", "max", "mean_sqrt_len", "pooler"}));
  cmd->add_flag("--normalize,!--no-normalize", o->normalize,
                "L2-normalize each vector (default: as a sentence-transformers model's modules.json says, else off)");
  cmd->add_option("--layer", r.layer, "hidden state to pool: 0 = embeddings ... L = last; -1 = last (default: -1)");
  cmd->add_option("--batch-size", r.batch_size, "rows per batch (default: 64)");
  cmd->add_option("--precision", r.precision, "fp32 | bf16 | fp16 (CUDA) (default: fp32)")
      ->check(CLI::IsMember({"fp32", "bf16", "fp16"}));
  cmd->add_option("--device", r.device, "cpu | cuda | cuda:N (default: cpu)");
  add_data_flags(cmd, o->data, /*with_labels=*/false);
  cmd->get_option("--max-seq-len")
      ->description("tokens per row, longer ones truncated (default: a sentence-transformers model's max_seq_length, "
                    "else 128)");
  add_common_options(cmd, o->common);
  cmd->callback([o, cmd] {
    apply_common_options(o->common);
    // Unset flags: the model's own settings (a sentence-transformers directory), see embed.h.
    o->run.data = to_task_data_options(o->data, false, cmd);
    if (cmd->count("--normalize") + cmd->count("--no-normalize") > 0) o->run.normalize = o->normalize;
    tasks::run_embed(o->run);
  });
}

}  // namespace bert::app
