// `bert pretrain`: flags → bert::train::PretrainOptions → run_pretraining.
#include "apps/commands.h"
#include "apps/common.h"
#include "bert/train/pretrain.h"
#include "bert/util/error.h"
#include "bert/util/memory.h"

#include <memory>

namespace bert::app {

struct PretrainCommandOptions {
  CommonOptions common;
  DistributedFlags dist;
  train::PretrainOptions run;
  std::vector<double> mask_ratios = {0.8, 0.1, 0.1};
  bool no_nsp = false;
};

void run_pretrain(PretrainCommandOptions& o) {
  apply_common_options(o.common);
  keep_freed_memory_for_reuse();
  if (o.mask_ratios.size() != 3)
    throw Error("--mask-ratios: expected three numbers ([MASK], random, unchanged), found " +
                std::to_string(o.mask_ratios.size()));
  if (std::abs(o.mask_ratios[0] + o.mask_ratios[1] + o.mask_ratios[2] - 1.0) > 1e-6)
    throw Error("--mask-ratios: the three shares must sum to 1");
  o.run.mask_ratio = o.mask_ratios[0];
  o.run.random_ratio = o.mask_ratios[1];
  o.run.nsp = !o.no_nsp;
  o.run.threads = o.common.threads;
  if (o.run.tokenizer_dir.empty()) o.run.tokenizer_dir = o.run.init_dir;  // a checkpoint carries its tokenizer
  if (launched_workers(o.dist, o.run.device)) return;
  train::run_pretraining(o.run, *join_workers(o.dist, o.run.device));
}

void setup_pretrain(CLI::App& app) {
  auto o = std::make_shared<PretrainCommandOptions>();
  auto& r = o->run;
  auto* cmd = app.add_subcommand("pretrain", "Pre-train BERT (MLM + NSP) on a text corpus");
  cmd->add_option("--corpus", r.corpus, "text files, directories or globs (required)")->required();
  cmd->add_option("--layout", r.layout, "corpus layout: prose (paragraphs, sentences split by rule) | google (one "
                                        "sentence per line, blank line between documents) (default: prose)")
      ->check(CLI::IsMember({"prose", "google"}));
  cmd->add_option("--paragraphs-per-document", r.paragraphs_per_document,
                  "prose: start a new document every N paragraphs; 0 = one document per file (default: 20)");
  cmd->add_option("--eval-corpus", r.eval_corpus, "held-out text (default: none, use --eval-fraction)");
  cmd->add_option("--eval-fraction", r.eval_fraction, "share of documents held out when no --eval-corpus (default: 0.01)");
  cmd->add_option("--tokenizer", r.tokenizer_dir,
                  "tokenizer directory: vocab.txt (WordPiece) or spm.model (default: --init's; required with "
                  "--model-config)");
  cmd->add_option("--cache-dir", r.cache_dir, "token cache directory (default: OUT/cache)");
  cmd->add_option("--model-config", r.model_config, "config.json of a fresh model, e.g. configs/bert-mini.json (this or --init is required)");
  cmd->add_option("--init", r.init_dir, "continue pre-training from this checkpoint directory, ours or Hugging Face's (this or --model-config is required)");
  cmd->add_option("--out", r.out_dir, "run directory: checkpoints/, metrics.jsonl, final/ (required)")->required();
  add_run_control_options(cmd, r.resume, r.max_bad_steps);
  cmd->add_option("--max-steps", r.max_steps, "optimizer steps (default: 1000)");
  cmd->add_option("--batch-size", r.batch_size, "sequences per micro-batch (default: 32)");
  cmd->add_option("--seq-len,--max-seq-len", r.seq_len, "maximum sequence length in tokens (default: 128)");
  cmd->add_option("--grad-accum", r.grad_accum, "micro-batches per optimizer step (default: 1)");
  cmd->add_option("--seed", r.seed, "seed of every random choice (default: 42)")
      ->check(non_negative_number());
  cmd->add_flag("--no-nsp", o->no_nsp, "pack full sentences (RoBERTa style), no next-sentence loss (default: off)");
  cmd->add_option("--short-seq-prob", r.short_seq_prob, "chance of a shorter target length (default: 0.1)");
  cmd->add_option("--mlm-prob", r.mlm_prob, "share of tokens predicted (default: 0.15)");
  cmd->add_option("--mask-ratios", o->mask_ratios, "of those: [MASK], random, unchanged (default: 0.8,0.1,0.1)")
      ->delimiter(',');
  cmd->add_option("--max-predictions", r.max_predictions,
                  "cap of predictions per sequence, Google style; 0 = uncapped, HF style (default: 20)");
  cmd->add_flag("--whole-word-mask", r.whole_word_mask, "mask whole words (default: off)");
  cmd->add_option("--lr", r.lr, "peak learning rate (default: 1e-4)");
  cmd->add_option("--weight-decay", r.weight_decay, "AdamW decoupled weight decay, not on biases/LayerNorm (default: 0.01)");
  cmd->add_option("--adam-eps", r.adam_eps, "AdamW epsilon (default: 1e-6)");
  cmd->add_option("--adam-beta2", r.beta2, "AdamW beta2 (default: 0.999)");
  cmd->add_option("--warmup-steps", r.warmup_steps, "linear warmup steps; 0 = use --warmup-ratio (default: 0)");
  cmd->add_option("--warmup-ratio", r.warmup_ratio, "warmup as a share of --max-steps (default: 0.01)");
  cmd->add_option("--schedule", r.schedule, "linear | cosine | constant (default: linear)")
      ->check(CLI::IsMember({"linear", "cosine", "constant"}));
  cmd->add_option("--clip-norm", r.clip_norm, "global gradient-norm clipping (default: 1.0)");
  cmd->add_option("--precision", r.precision, "fp32 | bf16 | fp16 autocast; fp16 on CUDA only (default: fp32)")
      ->check(CLI::IsMember({"fp32", "bf16", "fp16"}));
  cmd->add_option("--device", r.device, "cpu | cuda | cuda:N (default: cpu)");
  cmd->add_flag("--gradient-checkpointing", r.gradient_checkpointing,
                "keep only each layer's input and recompute the layer in backward: less memory, ~1/3 more compute "
                "(default: off)");
  cmd->add_flag("--cuda-graphs", r.cuda_graphs,
                "GPU, one process: capture a step's forward + backward once as a CUDA graph and replay it; batches "
                "are padded to --batch-size x --seq-len (default: off)");
  cmd->add_option("--log-every", r.log_every, "steps between log lines (default: 10)");
  cmd->add_option("--eval-every", r.eval_every, "steps between held-out evaluations (default: 200)");
  cmd->add_option("--eval-batches", r.eval_batches, "batches in the held-out evaluation (default: 20)");
  cmd->add_option("--save-every", r.save_every, "steps between checkpoints (default: 200)");
  cmd->add_option("--keep-last,--keep-checkpoints", r.keep_last,
                  "newest checkpoints kept; the best held-out one is kept too (default: 2)");
  add_distributed_options(cmd, o->dist);
  add_common_options(cmd, o->common);
  cmd->callback([o] { run_pretrain(*o); });
}

}  // namespace bert::app
