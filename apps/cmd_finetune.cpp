// `bert finetune`: flags → bert::train::FinetuneOptions → run_finetuning.
#include "apps/commands.h"
#include "apps/common.h"
#include "apps/data_flags.h"
#include "bert/train/finetune.h"
#include "bert/util/memory.h"

#include <memory>

namespace bert::app {

struct FinetuneCommandOptions {
  CommonOptions common;
  DistributedFlags dist;
  DataFlags data;
  train::FinetuneOptions run;
  double dropout = 0, classifier_dropout = 0;  // used only when given
};

void setup_finetune(CLI::App& app) {
  auto o = std::make_shared<FinetuneCommandOptions>();
  auto& r = o->run;
  auto* cmd = app.add_subcommand("finetune", "Fine-tune a pre-trained BERT on labelled CSV/TSV, CoNLL or SQuAD JSON data");
  cmd->add_option("--init", r.init_dir, "pre-trained checkpoint directory, ours or Hugging Face's (required)")->required();
  cmd->add_option("--train", r.train_file, "training file (required)")->required();
  cmd->add_option("--dev", r.dev_file, "development file, evaluated each epoch; the best model is kept (default: none)");
  cmd->add_option("--out", r.out_dir, "run directory: best/, checkpoints/, metrics.jsonl (required)")->required();
  cmd->add_option("--task", r.task,
                  "classify | multilabel (a set of labels per row, see --label-separator) | regress | tag | qa "
                  "(extractive question answering on SQuAD JSON / JSON lines) | choice (multiple choice, see "
                  "--choice-columns) | auto (classify or regress from the labels; conll → tag; .json/.jsonl → qa; "
                  "--choice-columns → choice) (default: auto)")
      ->check(CLI::IsMember({"classify", "multilabel", "regress", "tag", "qa", "choice", "auto"}));
  add_data_flags(cmd, o->data, /*with_labels=*/true);
  add_label_separator_flag(cmd, o->data);
  add_qa_flags(cmd, o->data);
  add_choice_flags(cmd, o->data);
  add_run_control_options(cmd, r.resume, r.max_bad_steps);
  cmd->add_option("--epochs", r.epochs, "passes over the training data (default: 3)");
  cmd->add_option("--max-steps", r.max_steps,
                  "stop after this many optimizer steps, over as many epochs as that takes; overrides --epochs "
                  "(default: 0 = --epochs decides)");
  cmd->add_option("--batch-size", r.batch_size, "examples per micro-batch (default: 32)");
  cmd->add_option("--grad-accum", r.grad_accum, "micro-batches per optimizer step (default: 1)");
  cmd->add_option("--lr", r.lr, "peak learning rate (default: 2e-5)");
  cmd->add_option("--weight-decay", r.weight_decay, "AdamW decoupled weight decay, not on biases/LayerNorm (default: 0.01)");
  cmd->add_option("--adam-eps", r.adam_eps, "AdamW epsilon (default: 1e-8)");
  cmd->add_option("--adam-beta2", r.adam_beta2, "AdamW beta2 (default: 0.999)");
  cmd->add_option("--warmup-ratio", r.warmup_ratio, "warmup as a share of all steps (default: 0.1)");
  cmd->add_option("--warmup-steps", r.warmup_steps, "warmup steps; overrides --warmup-ratio when > 0 (default: 0)");
  cmd->add_option("--schedule", r.schedule, "linear | cosine | constant (default: linear)")
      ->check(CLI::IsMember({"linear", "cosine", "constant"}));
  cmd->add_option("--clip-norm", r.clip_norm, "global gradient-norm clipping (default: 1.0)");
  cmd->add_option("--dropout", o->dropout, "hidden and attention dropout (default: the checkpoint's config)");
  cmd->add_option("--classifier-dropout", o->classifier_dropout, "dropout before the head (default: the config's, else --dropout)");
  cmd->add_option("--precision", r.precision, "fp32 | bf16 | fp16 (CUDA) autocast (default: fp32)")
      ->check(CLI::IsMember({"fp32", "bf16", "fp16"}));
  cmd->add_option("--device", r.device, "cpu | cuda | cuda:N (default: cpu)");
  cmd->add_flag("--gradient-checkpointing", r.gradient_checkpointing,
                "keep only each layer's input and recompute the layer in backward: less memory, ~1/3 more compute "
                "(default: off)");
  cmd->add_option("--seed", r.seed, "seed for the head's initialisation, dropout and batch order (default: 42)")
      ->check(non_negative_number());
  auto* grouping = cmd->add_flag("--group-by-length,!--no-group-by-length", r.group_by_length,
                "batches of examples of similar length, shuffled within windows of 50 batches: the least padding, "
                "but less varied batches (CoNLL NER: 0.7 points of entity F1 lower); --no-group-by-length: uniformly "
                "shuffled batches, as the Trainer's default sampler (default: off)");
  cmd->add_flag("--in-order", r.in_order,
                "batches of consecutive rows in the training file's order, the same every epoch (the Trainer's "
                "train_sampling_strategy=\"sequential\"): for data already in the order wanted, or to replay "
                "another tool's run step by step (default: off)")
      ->excludes(grouping);
  cmd->add_flag("--split-by-length,!--no-split-by-length", r.split_by_length,
                "run a batch of mixed lengths as a few passes of similar length, each loss weighted by its share "
                "of the batch: the batch's gradient (to float rounding) with little padding; question answering "
                "always runs whole batches (its loss sees the padding) (default: on)");
  cmd->add_option("--class-weights", r.class_weights,
                  "auto (inverse frequency; multilabel: each label's positives weighted negatives/positives) | none "
                  "(default: none)")
      ->check(CLI::IsMember({"auto", "none"}));
  cmd->add_option("--metric", r.metric,
                  "dev metric that picks the best model: accuracy, f1, macro_f1, mcc, micro_f1, samples_f1, "
                  "subset_accuracy, pearson, spearman, entity_f1, exact_match (default: accuracy / micro_f1 / pearson / "
                  "entity_f1 / f1 (qa) by task)");
  cmd->add_option("--threshold", r.threshold, "multilabel: probability from which a label is predicted at dev evaluation (default: 0.5)")
      ->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--eval-every", r.eval_every, "steps between dev evaluations; 0 = each epoch (default: 0)");
  cmd->add_option("--early-stopping", r.early_stopping, "stop after N evaluations without improvement; 0 = off (default: 0)");
  cmd->add_option("--log-every", r.log_every, "steps between log lines (default: 20)");
  cmd->add_option("--save-every", r.save_every,
                  "steps between checkpoints in RUN/checkpoints, to resume from, besides the one written at each dev "
                  "evaluation and epoch end; 0 = only those (default: 0)");
  cmd->add_option("--keep-last,--keep-checkpoints", r.keep_last, "newest checkpoints kept (default: 1)");
  cmd->add_option("--scheme", r.scheme, "tagging: bio (also called iob2) | iob1 (default: bio)")->check(CLI::IsMember({"bio", "iob1", "iob2"}));
  add_distributed_options(cmd, o->dist);
  add_common_options(cmd, o->common);
  cmd->callback([o, cmd] {
    apply_common_options(o->common);
    keep_freed_memory_for_reuse();
    if (launched_workers(o->dist, o->run.device)) return;
    o->run.data = to_task_data_options(o->data, true, cmd);
    if (cmd->count("--dropout")) o->run.dropout = o->dropout;
    if (cmd->count("--classifier-dropout")) o->run.classifier_dropout = o->classifier_dropout;
    train::run_finetuning(o->run, *join_workers(o->dist, o->run.device));
  });
}

}  // namespace bert::app
