#include "bert/train/finetune.h"

#include "bert/io/checkpoint.h"
#include "bert/tasks/task_model.h"
#include "bert/tokenizer/load.h"
#include "bert/train/checkpointing.h"
#include "bert/train/loss_scaler.h"
#include "bert/train/optimizer.h"
#include "bert/train/run_log.h"
#include "bert/train/schedule.h"
#include "bert/util/checks.h"
#include "bert/util/device.h"
#include "bert/util/error.h"
#include "bert/util/files.h"
#include "bert/util/log.h"
#include "bert/util/text.h"

#include <torch/torch.h>

#include <algorithm>
#include <filesystem>

namespace bert::train {

namespace fs = std::filesystem;

namespace {

std::string default_metric(tasks::Task task) {
  switch (task) {
    case tasks::Task::classify: return "accuracy";
    case tasks::Task::multilabel: return "micro_f1";
    case tasks::Task::regress: return "pearson";
    case tasks::Task::tag: return "entity_f1";
    case tasks::Task::qa: return "f1";
    case tasks::Task::choice: return "accuracy";
  }
  return "accuracy";
}

// Inverse-frequency weights (n / (C * count_c)), as scikit-learn's "balanced".
torch::Tensor balanced_class_weights(const std::vector<tasks::TaskExample>& examples, int64_t num_classes,
                                     bool per_token) {
  std::vector<double> counts(static_cast<size_t>(num_classes), 0.0);
  double n = 0;
  for (const auto& ex : examples) {
    if (per_token) {
      for (auto l : ex.token_labels)
        if (l >= 0) counts[static_cast<size_t>(l)] += 1, n += 1;
    } else if (ex.label >= 0) {
      counts[static_cast<size_t>(ex.label)] += 1, n += 1;
    }
  }
  auto w = torch::empty({num_classes}, torch::kFloat);
  for (int64_t c = 0; c < num_classes; ++c)
    w[c] = counts[static_cast<size_t>(c)] > 0 ? n / (num_classes * counts[static_cast<size_t>(c)]) : 0.0;
  return w;
}

// Multi-label: BCE's weight on each label's positive examples, negatives / positives (1 for a
// label without positives), so that rare labels are not learnt as "never".
torch::Tensor positive_label_weights(const std::vector<tasks::TaskExample>& examples, int64_t num_labels) {
  std::vector<double> positives(static_cast<size_t>(num_labels), 0.0);
  for (const auto& ex : examples)
    for (auto id : ex.label_set) positives[static_cast<size_t>(id)] += 1;
  const double n = static_cast<double>(examples.size());
  auto w = torch::empty({num_labels}, torch::kFloat);
  for (int64_t c = 0; c < num_labels; ++c) {
    const double pos = positives[static_cast<size_t>(c)];
    w[c] = pos > 0 && pos < n ? (n - pos) / pos : 1.0;  // a label in every row keeps weight 1, not 0
  }
  return w;
}

AdamWSettings adamw_settings(const FinetuneOptions& o) {
  AdamWSettings adam;
  adam.lr = o.lr;
  adam.weight_decay = o.weight_decay;
  adam.eps = o.adam_eps;
  adam.beta2 = o.adam_beta2;
  return adam;
}

void validate(const FinetuneOptions& o) {
  if (o.init_dir.empty()) throw Error("--init: a pre-trained checkpoint directory is required");
  if (o.train_file.empty()) throw Error("--train: a training file is required");
  if (o.out_dir.empty()) throw Error("--out: a run directory is required");
  require_directory("--init", o.init_dir);
  require_directory_if_present("--out", o.out_dir);
  io::require_config_json(o.init_dir);
  require_non_negative("--max-steps", o.max_steps);
  if (o.max_steps == 0) require_positive("--epochs", o.epochs);  // --max-steps overrides it
  require_positive("--batch-size", o.batch_size);
  require_positive("--grad-accum", o.grad_accum);
  require_positive("--log-every", o.log_every);
  require_positive("--max-bad-steps", o.max_bad_steps);
  require_non_negative("--warmup-steps", o.warmup_steps);
  require_in_range("--warmup-ratio", o.warmup_ratio, 0, 1);
  require_non_negative("--eval-every", o.eval_every);
  require_non_negative("--save-every", o.save_every);
  require_positive("--keep-last", o.keep_last);
  require_non_negative("--early-stopping", o.early_stopping);
  if (o.dropout) require_in_range("--dropout", *o.dropout, 0, 1, /*below_hi=*/true);
  if (o.classifier_dropout) require_in_range("--classifier-dropout", *o.classifier_dropout, 0, 1, /*below_hi=*/true);
  check_optimizer_flags(adamw_settings(o), o.clip_norm);
}

// What to do with --init's task head (classifier.* / qa_outputs.*), decided once the training
// labels are known.
struct InitHead {
  bool keep = false;
  std::string why_not;                   // for the log, when a head is there but not kept
  std::optional<data::LabelMap> labels;  // the head's own label order, where the labels are names it knows
};

bool uses_label_names(tasks::Task t) {
  return t == tasks::Task::classify || t == tasks::Task::multilabel || t == tasks::Task::tag;
}

// A head is kept when it was trained for this task and knows every training label: then its
// rows keep their names in its own order (the sorted training labels would give them others, and
// a model continued from a fine-tuned classifier would predict the wrong names). transformers'
// placeholder names LABEL_0, LABEL_1, ... stand for the sorted labels, as in run_glue.py.
InitHead decide_init_head(const model::BertConfig& init, tasks::Task task, const data::LabelMap& data_labels) {
  InitHead h;
  const auto head_task = tasks::task_of_config(init);
  if (!head_task) return h;  // an encoder without a task head: nothing to keep
  // A single-label head serves a multi-label task and back: one output per label either way.
  auto per_sequence_labels = [](tasks::Task t) { return t == tasks::Task::classify || t == tasks::Task::multilabel; };
  if (*head_task != task && !(per_sequence_labels(*head_task) && per_sequence_labels(task))) {
    h.why_not = std::string("was trained for ") + tasks::task_name(*head_task);
    return h;
  }
  if (!uses_label_names(task)) {
    h.keep = true;
    return h;
  }
  std::vector<std::string> names;
  for (int64_t i = 0; i < init.num_labels; ++i) {
    auto it = init.id2label.find(i);
    names.push_back(it != init.id2label.end() ? it->second : "LABEL_" + std::to_string(i));
  }
  data::LabelMap head_labels;
  try {
    head_labels = data::LabelMap::from_names(names);
  } catch (const Error&) {
    h.why_not = "names a label twice";
    return h;
  }
  if (head_labels.has_placeholder_names()) {
    h.keep = names.size() == data_labels.size();
    if (!h.keep)
      h.why_not = "has " + std::to_string(names.size()) + " labels and the data " + std::to_string(data_labels.size());
    return h;
  }
  for (const auto& name : data_labels.names())
    if (!head_labels.find(name)) {
      h.why_not = "does not know the label \"" + name + "\"";
      return h;
    }
  h.keep = true;
  h.labels = std::move(head_labels);
  return h;
}

// Re-encodes `data`'s labels from `from`'s ids to `to`'s (which knows every name of `from`).
void relabel(tasks::TaskDataset& data, const data::LabelMap& from, const data::LabelMap& to) {
  std::vector<int64_t> new_id;
  for (const auto& name : from.names()) new_id.push_back(*to.find(name));
  auto map = [&](int64_t& id) {
    if (id >= 0) id = new_id[static_cast<size_t>(id)];
  };
  for (auto& ex : data.examples) {
    map(ex.label);
    for (auto& id : ex.label_set) map(id);
    std::sort(ex.label_set.begin(), ex.label_set.end());
    for (auto& id : ex.token_labels) map(id);
  }
}

// `metric` in a dev evaluation's metrics, or an error listing those there are.
double metric_value(const std::map<std::string, double>& metrics, const std::string& metric, tasks::Task task) {
  auto it = metrics.find(metric);
  if (it != metrics.end()) return it->second;
  std::string keys;
  for (const auto& [k, v] : metrics) keys += (keys.empty() ? "" : ", ") + k;
  throw Error("--metric " + metric + " is not reported for task " + tasks::task_name(task) + " (available: " + keys + ")");
}

// Errors and losses: lower is better. They are compared negated, so the best is always the maximum.
bool lower_is_better(const std::string& metric) { return metric == "mse" || metric == "hamming_loss"; }

nlohmann::json column_json(const std::optional<data::ColumnRef>& c) {
  if (!c) return nullptr;
  return c->is_index() ? nlohmann::json(c->index()) : nlohmann::json(c->name());
}

nlohmann::json options_json(const FinetuneOptions& o) {
  const auto& d = o.data;
  return {{"command", "finetune"},
          {"init", o.init_dir},
          {"train", o.train_file},
          {"dev", o.dev_file},
          {"task", o.task},
          {"format", d.conll ? "conll" : "table"},
          {"text_column", column_json(d.table.text)},
          {"text_pair_column", column_json(d.table.text_pair)},
          {"label_column", column_json(d.table.label)},
          {"label_columns", [&] {
             auto columns = nlohmann::json::array();
             for (const auto& c : d.table.indicator_labels) columns.push_back(column_json(c));
             return columns;
           }()},
          {"tag_column", d.conll_options.tag_column ? nlohmann::json(*d.conll_options.tag_column) : nlohmann::json()},
          {"max_seq_len", d.max_seq_len},
          {"label_all_subtokens", d.label_all_subtokens},
          {"doc_stride", d.qa.doc_stride},
          {"max_query_len", d.qa.max_query_len},
          {"max_answer_len", d.qa.max_answer_len},
          {"n_best", d.qa.n_best},
          {"null_threshold", d.qa.null_threshold},
          {"allow_no_answer", d.qa.allow_no_answer},
          {"label_separator", std::string(1, d.label_separator)},
          {"threshold", o.threshold},
          {"skip_bad_rows", d.table.skip_bad_rows},
          {"epochs", o.epochs},
          {"max_steps", o.max_steps},
          {"batch_size", o.batch_size},
          {"grad_accum", o.grad_accum},
          {"lr", o.lr},
          {"weight_decay", o.weight_decay},
          {"adam_eps", o.adam_eps},
          {"adam_beta2", o.adam_beta2},
          {"warmup_ratio", o.warmup_ratio},
          {"warmup_steps", o.warmup_steps},
          {"schedule", o.schedule},
          {"clip_norm", o.clip_norm},
          {"dropout", o.dropout ? nlohmann::json(*o.dropout) : nlohmann::json()},
          {"classifier_dropout", o.classifier_dropout ? nlohmann::json(*o.classifier_dropout) : nlohmann::json()},
          {"precision", o.precision},
          {"gradient_checkpointing", o.gradient_checkpointing},
          {"group_by_length", o.group_by_length},
          {"in_order", o.in_order},
          {"split_by_length", o.split_by_length},
          {"device", o.device},
          {"seed", o.seed},
          {"class_weights", o.class_weights},
          {"metric", o.metric},
          {"eval_every", o.eval_every},
          {"early_stopping", o.early_stopping},
          {"log_every", o.log_every},
          {"save_every", o.save_every},
          {"keep_last", o.keep_last},
          {"max_bad_steps", o.max_bad_steps},
          {"scheme", o.scheme}};
}

// What a fine-tuning run trains on; resuming with other values would mix two runs.
nlohmann::json identity_of(const nlohmann::json& options) {
  nlohmann::json id;
  for (const char* key : {"init", "train", "dev", "task", "format", "text_column", "text_pair_column", "label_column",
                          "label_columns", "tag_column", "max_seq_len", "label_all_subtokens", "label_separator",
                          "doc_stride", "max_query_len",
                          "epochs", "max_steps", "batch_size", "grad_accum", "lr", "seed", "metric", "threshold",
                          "workers", "group_by_length", "in_order"})
    id[key] = options[key];
  id["command"] = options["command"];
  return id;
}

// The denominator of the batch's mean loss: labelled examples (or tokens, for tagging), each
// counted with its class weight (`weight`, per label; empty: 1 each).
double loss_denominator(const std::vector<tasks::TaskExample>& examples, const std::vector<size_t>& indices,
                        tasks::Task task, const std::vector<double>& weight) {
  auto count = [&](int64_t label) { return label < 0 ? 0.0 : weight.empty() ? 1.0 : weight[static_cast<size_t>(label)]; };
  double total = 0;
  for (size_t i : indices) {
    const auto& ex = examples[i];
    if (task == tasks::Task::regress || task == tasks::Task::multilabel || task == tasks::Task::qa)
      total += 1;  // each row (qa: each window) counts once
    else if (task == tasks::Task::classify || task == tasks::Task::choice) total += count(ex.label);
    else for (auto l : ex.token_labels) total += count(l);
  }
  return total;
}

// A batch's rows as passes of similar length (tasks::split_by_length), each with its share of the
// batch's loss denominator: their weighted losses sum to the batch's loss. Passes whose rows carry
// no label (all ignored) are left out, unless every pass is such.
struct SubBatch {
  std::vector<size_t> rows;
  double share;
};

std::vector<SubBatch> sub_batches(const std::vector<tasks::TaskExample>& examples, const std::vector<size_t>& rows,
                                  tasks::Task task, const std::vector<double>& label_weight) {
  // What one more forward and backward pass costs besides its tokens, in padded token positions.
  // CoNLL-2003 NER on MiniLM, uniformly shuffled batches of 32, 2 threads (stop 21): 16 -> 198 s,
  // 64 -> 172 s, 256 -> 177 s for the whole run (one pass per batch: 249 s).
  constexpr double kPassCost = 64;
  auto chunks = tasks::split_by_length(examples, rows, kPassCost);
  if (chunks.size() == 1) return {{rows, 1.0}};
  const double whole = loss_denominator(examples, rows, task, label_weight);
  if (whole <= 0) return {{rows, 1.0}};
  std::vector<SubBatch> passes;
  for (auto& chunk : chunks) {
    const double part = loss_denominator(examples, chunk, task, label_weight);
    if (part > 0) passes.push_back({std::move(chunk), part / whole});
  }
  return passes;
}

}  // namespace

std::string run_finetuning(const FinetuneOptions& o) {
  dist::ProcessGroup single(dist::WorkerEnvironment{}, std::chrono::milliseconds(0));
  return run_finetuning(o, single);
}

std::string run_finetuning(const FinetuneOptions& o, dist::ProcessGroup& group) {
  const bool main_rank = group.is_main();
  const int world = group.world_size();
  validate(o);
  const torch::Device device = parse_device(o.device, group.local_rank());
  const Precision precision = parse_precision(o.precision);
  check_precision_supported(precision, device);

  CheckpointManager checkpoints(o.out_dir, o.keep_last);
  auto run_options = options_json(o);
  run_options["workers"] = world;  // the global batch is workers x batch_size
  auto latest = checkpoint_to_resume(checkpoints, o.resume);
  if (latest) check_resume_compatible(o.out_dir, identity_of(run_options));

  auto config = model::BertConfig::load((fs::path(o.init_dir) / "config.json").string());
  auto tokenizer = tokenizer::load_tokenizer(o.init_dir, config.vocab_size);

  // Task: explicit, or inferred from the training labels.
  auto data_options = o.data;
  tasks::Task task;
  if (o.task == "auto") {
    if (data_options.conll) {
      task = tasks::Task::tag;
    } else if (data::is_squad_path(o.train_file)) {
      task = tasks::Task::qa;  // SQuAD JSON or JSON lines
    } else if (!data_options.table.indicator_labels.empty()) {
      task = tasks::Task::multilabel;  // one 0/1 column per label
    } else if (!data_options.table.choices.empty()) {
      task = tasks::Task::choice;  // one column per candidate
    } else {
      auto probe = data::read_labelled_table(o.train_file, data_options.table);
      std::vector<std::string> labels;
      for (const auto& r : probe.rows) labels.push_back(r.label);
      auto inferred = [&] {
        try {
          return data::infer_task(labels);
        } catch (const Error& e) {
          throw Error(o.train_file + ": " + e.what());
        }
      }();
      if (inferred.stray_label) {
        const auto row = std::find_if(probe.rows.begin(), probe.rows.end(),
                                      [&](const auto& r) { return r.label == *inferred.stray_label; });
        throw Error(o.train_file + ":" + std::to_string(row->line) + ": label " + quote_snippet(row->label) +
                    " is not a number, but the other labels read as regression targets, so --task auto will not "
                    "guess: fix the row (or drop it with --task regress --skip-bad-rows), or give --task classify "
                    "to make every distinct label a class");
      }
      task = inferred.kind == data::TaskKind::kRegression ? tasks::Task::regress : tasks::Task::classify;
      log::info("[finetune] --task auto: {} ({})", tasks::task_name(task), inferred.reason);
      const auto sep = data_options.label_separator;
      if (task == tasks::Task::classify &&
          std::any_of(labels.begin(), labels.end(), [&](const auto& l) { return l.find(sep) != std::string::npos; }))
        log::info("[finetune] some labels contain '{}': if they are sets of labels, use --task multilabel", sep);
    }
  } else {
    task = tasks::parse_task(o.task);
  }
  data_options.task = task;
  data_options.model_vocab_size = config.vocab_size;
  data_options.max_seq_len = tasks::fit_max_seq_len(tasks::resolve_max_seq_len(data_options.max_seq_len, task),
                                                    config.max_position_embeddings);
  if (task == tasks::Task::tag) data_options.conll = true;

  data::LabelMap labels;
  auto train = tasks::load_task_data(o.train_file, data_options, *tokenizer, labels, /*build_labels=*/true);
  log::info("[data] {}{}", train.read_summary,
            train.truncated ? fmt::format(" ({} examples truncated to {} tokens)", train.truncated, data_options.max_seq_len) : "");
  if (task == tasks::Task::qa && train.squad.unanswerable > 0 && !data_options.qa.allow_no_answer) {
    data_options.qa.allow_no_answer = train.qa.allow_no_answer = true;  // SQuAD v2.0 data: "no answer" is learnt
    log::info("[finetune] the training data has unanswerable questions: answers may be \"none\" (SQuAD v2.0)");
  }
  const auto init_head = decide_init_head(config, task, labels);
  if (init_head.labels && init_head.labels->names() != labels.names()) {
    relabel(train, labels, *init_head.labels);
    labels = *init_head.labels;
    std::string order;
    for (const auto& name : labels.names()) order += (order.empty() ? "" : ", ") + name;
    log::info("[finetune] labels in the order of --init's head: {}", order);
  }
  if (!init_head.why_not.empty())
    log::info("[finetune] --init's {} head {}: a new head is trained", config.architecture, init_head.why_not);
  std::optional<tasks::TaskDataset> dev;
  if (!o.dev_file.empty()) {
    dev = tasks::load_task_data(o.dev_file, data_options, *tokenizer, labels, /*build_labels=*/false);
    log::info("[data] {}", dev->read_summary);
    // As `bert evaluate` on the same file: unanswerable questions there make "none" an answer.
    if (task == tasks::Task::qa && dev->squad.unanswerable > 0) dev->qa.allow_no_answer = true;
  }
  if (train.examples.empty()) throw Error(o.train_file + ": no examples");
  if ((task == tasks::Task::classify || task == tasks::Task::tag) && labels.size() < 2)
    throw Error(o.train_file + ": every " + (task == tasks::Task::tag ? "tag is " : "label is ") +
                (labels.size() ? "\"" + labels.names()[0] + "\"" : "missing") +
                ": a classifier needs examples of at least two classes");

  // The model: encoder from --init, a fresh head; how it read its data, for evaluate and predict.
  config.extra[tasks::kFinetuneInputsKey] = tasks::finetune_inputs(data_options);
  if (task == tasks::Task::qa) {
    config.extra[tasks::kAllowNoAnswerKey] = data_options.qa.allow_no_answer;  // predict's default
  } else if (task != tasks::Task::regress && task != tasks::Task::choice) {
    config.num_labels = static_cast<int64_t>(labels.size());
    config.id2label.clear();
    for (size_t i = 0; i < labels.size(); ++i) config.id2label[static_cast<int64_t>(i)] = labels.names()[i];
  }
  if (o.dropout) config.hidden_dropout_prob = config.attention_probs_dropout_prob = *o.dropout;
  if (o.classifier_dropout) config.classifier_dropout = *o.classifier_dropout;
  torch::manual_seed(o.seed);
  tasks::TaskModel model(task, config);
  if (dev && !o.metric.empty())  // a misspelt --metric fails now rather than after the first epoch
    metric_value(tasks::evaluate_predictions(model, *dev, tasks::gold_predictions(*dev, task), o.scheme).metrics,
                 o.metric, task);
  if (!dev && !o.metric.empty()) log::warn("[finetune] --metric {} has no effect without --dev", o.metric);
  auto init_weights = io::read_weights(o.init_dir);
  if (!init_head.keep)  // a fresh head: the checkpoint's (another task's, other labels) is left out
    init_weights.erase(std::remove_if(init_weights.begin(), init_weights.end(),
                                      [](const auto& w) {
                                        return w.first.rfind("classifier.", 0) == 0 || w.first.rfind("qa_outputs.", 0) == 0;
                                      }),
                       init_weights.end());
  auto report = io::load_weights(model.module(), std::move(init_weights), o.init_dir);
  // A new head is what fine-tuning expects; any other tensor drawn fresh still gets a warning.
  std::string new_head;
  auto& fresh = report.initialised;
  fresh.erase(std::remove_if(fresh.begin(), fresh.end(),
                             [&](const std::string& k) {
                               if (k.rfind("classifier.", 0) != 0 && k.rfind("qa_outputs.", 0) != 0) return false;
                               new_head += (new_head.empty() ? "" : ", ") + k;
                               return true;
                             }),
              fresh.end());
  if (!new_head.empty()) log::info("[finetune] a new {} head, drawn at random: {}", tasks::task_name(task), new_head);
  io::log_load_report(report, o.init_dir);
  model.module().to(device);
  model::set_gradient_checkpointing(model.module(), o.gradient_checkpointing);

  auto optimizer = make_adamw(model.module(), adamw_settings(o));
  const int64_t global_batch = o.batch_size * world;  // every worker takes its rows of each global batch
  const int64_t batches_per_epoch = (static_cast<int64_t>(train.examples.size()) + global_batch - 1) / global_batch;
  const int64_t steps_per_epoch = (batches_per_epoch + o.grad_accum - 1) / o.grad_accum;
  // --max-steps: that many steps, over as many (possibly partial) epochs as it takes.
  const int64_t total_steps = o.max_steps > 0 ? o.max_steps : steps_per_epoch * o.epochs;
  const int64_t epochs = o.max_steps > 0 ? (o.max_steps + steps_per_epoch - 1) / steps_per_epoch : o.epochs;
  Schedule schedule{parse_schedule(o.schedule), o.lr, resolve_warmup_steps(o.warmup_steps, o.warmup_ratio, total_steps),
                    total_steps};
  torch::Tensor class_weights;
  std::vector<double> label_weight;  // the same on the host, for the workers' loss shares
  if (o.class_weights == "auto" && (task == tasks::Task::qa || task == tasks::Task::choice)) {
    throw Error(std::string("--class-weights auto: ") +
                (task == tasks::Task::qa ? "question answering" : "multiple choice") + " has no classes to weigh");
  } else if (o.class_weights == "auto" && task == tasks::Task::multilabel) {
    class_weights = positive_label_weights(train.examples, config.num_labels).to(device);  // rows stay equal
  } else if (o.class_weights == "auto" && task != tasks::Task::regress) {
    auto weights = balanced_class_weights(train.examples, config.num_labels, task == tasks::Task::tag);
    auto w = weights.to(torch::kDouble).contiguous();
    label_weight.assign(w.data_ptr<double>(), w.data_ptr<double>() + w.numel());
    class_weights = weights.to(device);
  } else if (o.class_weights != "none" && o.class_weights != "auto") {
    throw Error("--class-weights: expected auto or none, found \"" + o.class_weights + "\"");
  }
  const std::string metric = o.metric.empty() ? default_metric(task) : o.metric;
  const double orientation = lower_is_better(metric) ? -1.0 : 1.0;

  TrainingState state;
  if (latest) state = checkpoints.load_newest(model.module(), *optimizer);
  // Every worker starts from rank 0's weights (the new head is random); dropout differs per worker.
  group.broadcast_from_main(model.module().parameters());
  if (group.rank() > 0) torch::manual_seed(o.seed + 1000003ULL * group.rank() + 7919ULL * state.step);
  if (main_rank) write_run_json(o.out_dir, run_options);
  NonFiniteSteps non_finite(o.max_bad_steps, "try a lower --lr or --precision fp32",
                            state.extra.value("skipped_steps", int64_t{0}));
  LossScaler scaler(precision == Precision::fp16);
  scaler.restore(state.extra);
  int64_t epoch = state.data.value("epoch", int64_t{0});
  int64_t batch_in_epoch = state.data.value("batch", int64_t{0});
  // No evaluation yet (or only NaN metrics): -infinity, which JSON writes as null.
  const auto& saved_best = state.extra.value("best_metric", nlohmann::json());
  double best = saved_best.is_number() ? saved_best.get<double>() : -std::numeric_limits<double>::infinity();
  int64_t evals_without_improvement = state.extra.value("evals_without_improvement", int64_t{0});

  std::optional<MetricsLog> metrics;  // rank 0 writes the run directory
  if (main_rank) metrics.emplace(o.out_dir);
  const std::string best_dir = (fs::path(o.out_dir) / "best").string();
  const int64_t pad_id = tokenizer->pad_id();
  suggest_bf16_where_native(precision, device);  // once the run is set up: after every usage error
  const auto what =
      task == tasks::Task::qa       ? fmt::format("{} questions in {} windows", train.squad.questions.size(),
                                                  train.examples.size())
      : task == tasks::Task::choice ? fmt::format("{} candidates, {} train examples",
                                                  train.examples[0].choice_ids.size(), train.examples.size())
      : task == tasks::Task::regress ? fmt::format("one score, {} train examples", train.examples.size())
                                    : fmt::format("{} labels, {} train examples", model.config().num_labels,
                                                  train.examples.size());
  log::info("[finetune] task {} ({}), {} ({}), metric {}, {}", tasks::task_name(task), what,
            counted(total_steps, "step"), counted(epochs, "epoch"), metric,
            o.in_order          ? "batches in the file's order"
            : o.group_by_length ? "length-grouped batches"
                                : "uniformly shuffled batches");

  // Dev evaluation on rank 0; saves RUN/best when the metric improves. Returns false to stop
  // early (the decision reaches every worker).
  auto evaluate_dev = [&]() -> bool {
    if (!dev) return true;
    if (!main_rank) return group.sum({0.0})[0] == 0;
    auto predictions = tasks::predict_dataset(model, *dev, o.batch_size * 2, precision, device, pad_id, o.threshold);
    if (predictions.non_finite)
      log::warn("[eval] {} of {} dev examples got NaN or infinite outputs", predictions.non_finite, dev->examples.size());
    model.module().train();
    auto result = tasks::evaluate_predictions(model, *dev, predictions, o.scheme);
    const double reported = metric_value(result.metrics, metric, task);
    nlohmann::json rec = {{"step", state.step}, {"epoch", epoch}};
    for (const auto& [k, v] : result.metrics) rec["dev_" + k] = v;
    metrics->write(rec);
    const double value = std::isnan(reported) ? -std::numeric_limits<double>::infinity() : orientation * reported;
    log::info("[eval] step {} dev {} {:.4f} (best {:.4f})", state.step, metric, reported,
              orientation * std::max(best, value));
    if (value > best) {
      best = value;
      evals_without_improvement = 0;
      io::save_model(best_dir, model.config(), model.module());
      io::copy_tokenizer_files(o.init_dir, best_dir);
      log::info("[finetune] new best {} {:.4f}: saved {}", metric, reported, best_dir);
    } else {
      ++evals_without_improvement;
    }
    const bool stop_early = o.early_stopping > 0 && evals_without_improvement >= o.early_stopping;
    return group.sum({stop_early ? 1.0 : 0.0})[0] == 0;
  };
  auto save_checkpoint = [&]() {
    if (!main_rank) return;
    state.data = {{"epoch", epoch}, {"batch", batch_in_epoch}};
    state.extra["best_metric"] = best;
    state.extra["evals_without_improvement"] = evals_without_improvement;
    state.extra["skipped_steps"] = non_finite.skipped_total();
    state.extra.update(scaler.state());
    checkpoints.save(state, model.config(), model.module(), *optimizer, o.init_dir);
  };

  // Question answering pads to the whole batch's longest window (workers too, and no split by
  // length): HF's loss takes its softmax over the padded positions, so padding is part of the result.
  // No other task's loss sees padding.
  const bool padding_matters = task == tasks::Task::qa;
  model.module().train();
  dist::GradientAverager averager(group, model.module().parameters());
  ProgressReporter progress("[finetune]", total_steps, o.log_every, state.step);
  std::optional<StopOnSignal> stop_on_signal(std::in_place);
  int64_t tokens = 0;
  // A run that already stopped early (its last checkpoint says so) stays stopped when run again.
  bool keep_going = !(o.early_stopping > 0 && evals_without_improvement >= o.early_stopping), interrupted = false;
  for (; epoch < epochs && keep_going && !interrupted && state.step < total_steps; ++epoch, batch_in_epoch = 0) {
    std::mt19937_64 rng(o.seed * 1000003ULL + static_cast<uint64_t>(epoch));  // the epoch's order, reproducible
    auto batches = o.in_order          ? tasks::in_order_batches(train.examples.size(), global_batch)
                   : o.group_by_length ? tasks::length_grouped_batches(train.examples, global_batch, &rng)
                                       : tasks::shuffled_batches(train.examples.size(), global_batch, rng);
    double loss_sum = 0;
    int64_t micro = 0;
    for (size_t b = static_cast<size_t>(batch_in_epoch); b < batches.size(); ++b) {
      if (micro == 0) {
        set_learning_rate(*optimizer, schedule.lr_at(state.step));
        optimizer->zero_grad();
        loss_sum = 0;
      }
      std::vector<size_t> rows = batches[b];
      double share = 1;  // this worker's share of the global batch's loss denominator, x workers
      int64_t pad_to = 0;
      if (group.active()) {
        auto [begin, end] = dist::shard_range(static_cast<int64_t>(rows.size()), group.rank(), world);
        rows.assign(batches[b].begin() + begin, batches[b].begin() + end);
        const double whole = loss_denominator(train.examples, batches[b], task, label_weight);
        share = whole > 0 ? world * loss_denominator(train.examples, rows, task, label_weight) / whole : 0.0;
        for (size_t i : batches[b]) {
          tokens += static_cast<int64_t>(train.examples[i].tokens());
          if (padding_matters) pad_to = std::max<int64_t>(pad_to, static_cast<int64_t>(train.examples[i].length()));
        }
      }
      const bool completes_step = micro + 1 == o.grad_accum || b + 1 == batches.size();
      if (share > 0) {  // a worker with no labelled rows in this batch adds zero gradients
        const auto passes = o.split_by_length && !padding_matters
                                ? sub_batches(train.examples, rows, task, label_weight)
                                : std::vector<SubBatch>{{rows, 1.0}};
        for (size_t p = 0; p < passes.size(); ++p) {
          if (completes_step && p + 1 == passes.size()) averager.final_backward_next();
          auto batch = tasks::collate_task_batch(train.examples, passes[p].rows, task, pad_id, device,
                                                 config.num_labels, pad_to);
          if (!group.active()) tokens += batch.real_tokens;
          torch::Tensor loss;
          {
            AutocastGuard autocast(precision, device);
            loss = model.loss(model.forward(batch), batch, class_weights);
          }
          const double weight = share * passes[p].share;
          if (weight != 1.0) loss = loss * weight;
          (scaler.scale_loss(loss) / static_cast<double>(o.grad_accum)).backward();
          loss_sum += loss.item<double>();
        }
      } else if (completes_step) {
        averager.final_backward_next();  // no backward here: finish() counts this worker's gradients as zeros
      }
      ++micro;
      batch_in_epoch = static_cast<int64_t>(b) + 1;
      if (micro < o.grad_accum && b + 1 < batches.size()) continue;
      averager.finish();
      const auto sums = group.sum({loss_sum, StopOnSignal::requested() ? 1.0 : 0.0});  // every worker stops together
      const double mean_loss = sums[0] / static_cast<double>(micro * world);
      const bool stop_requested = sums[1] > 0;
      const bool finite = scaler.unscale(model.module().parameters());
      const double grad_norm = clip_gradient_norm(model.module().parameters(), o.clip_norm);
      const double lr = schedule.lr_at(state.step);
      if (apply_step(finite, scaler, non_finite, state.step + 1, mean_loss, grad_norm)) adamw_step(*optimizer);
      scaler.update(finite);
      ++state.step;
      micro = 0;
      interrupted = stop_requested && state.step < total_steps;  // at the last step the run just finishes
      const auto numbers =
          fmt::format("epoch {} loss {:.4f} lr {:.3e} grad {:.3f}", epoch + 1, mean_loss, lr, grad_norm);
      if (auto rate = progress.step(state.step, tokens, numbers)) {
        if (metrics) metrics->write({{"step", state.step}, {"epoch", epoch}, {"loss", mean_loss}, {"lr", lr}, {"grad_norm", grad_norm},
                       {"tokens_per_s", rate->tokens_per_s}, {"skipped_steps", non_finite.skipped_total()}});
      }
      tokens = 0;
      if (o.eval_every > 0 && state.step % o.eval_every == 0) {
        keep_going = evaluate_dev();
        save_checkpoint();
        progress.restart_clock(state.step);
        if (!keep_going) break;
      } else if (interrupted || (o.save_every > 0 && state.step % o.save_every == 0 && state.step < total_steps &&
                                 (o.eval_every > 0 || b + 1 < batches.size()))) {
        // Resumed from, the run continues with this epoch's next batch. (The end of an epoch that is
        // evaluated, and the last step, save below.)
        save_checkpoint();
        progress.restart_clock(state.step);
      }
      if (interrupted) break;
      if (state.step >= total_steps) break;  // --max-steps reached mid-epoch
    }
    if (interrupted) break;
    const bool evaluated_now = o.eval_every > 0 && state.step % o.eval_every == 0;
    if (keep_going && (o.eval_every == 0 || (state.step >= total_steps && !evaluated_now))) {
      batch_in_epoch = static_cast<int64_t>(batches.size());
      keep_going = evaluate_dev();
      ++epoch;  // the checkpoint records the next epoch to run
      batch_in_epoch = 0;
      save_checkpoint();
      --epoch;
      progress.restart_clock(state.step);
    }
  }
  progress.finish();
  stop_on_signal.reset();
  if (interrupted && keep_going) {
    log::info("[finetune] stop requested: checkpoint saved at step {}", state.step);
    throw Error("interrupted at step " + std::to_string(state.step) + "; run the same command again to continue");
  }
  if (!keep_going) log::info("[finetune] early stopping: no improvement in {} evaluations", o.early_stopping);
  if (!dev && main_rank) {  // nothing to select on: the last model is the result
    io::save_model(best_dir, model.config(), model.module());
    io::copy_tokenizer_files(o.init_dir, best_dir);
  }
  log::info("[finetune] done: {} (a Hugging Face {} directory)", best_dir, model.config().architecture);
  return best_dir;
}

}  // namespace bert::train
