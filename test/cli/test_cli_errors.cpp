// The `bert` binary on bad input: each case exits non-zero with one line on stderr that names
// the file and the problem. Runs the real binary (BERT_BINARY_PATH) in a shell.
#include "bert/dist/process_group.h"
#include "bert/io/safetensors.h"
#include "test/cli/cli_helpers.h"
#include "test/test_helpers.h"

#include <torch/torch.h>

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <tuple>

namespace fs = std::filesystem;

namespace {

using bert::test::Run;

Run run_bert(const std::string& args) { return bert::test::bert_cli(args); }

fs::path make_checkpoint_copy(const std::string& name) {
  auto dir = fs::temp_directory_path() / ("bert_cli_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  for (const char* f : {"config.json", "model.safetensors", "vocab.txt"})
    fs::copy_file(bert::test::data_path(std::string("hf-tiny/") + f), dir / f);
  return dir;
}

void require_one_line_error(const Run& r, const std::string& must_contain) {
  INFO("output: " << r.output);
  REQUIRE(r.status != 0);
  REQUIRE(r.output.rfind("error: ", 0) == 0);
  REQUIRE(std::count(r.output.begin(), r.output.end(), '\n') == 1);
  REQUIRE(r.output.find(must_contain) != std::string::npos);
}

}  // namespace

TEST_CASE("bert info on bad checkpoints", "[cli][errors]") {
  SECTION("missing config.json") {
    auto dir = make_checkpoint_copy("noconfig");
    fs::remove(dir / "config.json");
    require_one_line_error(run_bert("info " + dir.string()), "missing config.json");
    fs::remove_all(dir);
  }
  SECTION("unknown activation") {
    auto dir = make_checkpoint_copy("act");
    std::ofstream(dir / "config.json") << R"({"model_type": "bert", "hidden_act": "swishy"})";
    require_one_line_error(run_bert("info " + dir.string()), "unknown 'hidden_act' \"swishy\"");
    fs::remove_all(dir);
  }
  SECTION("truncated safetensors") {
    auto dir = make_checkpoint_copy("trunc");
    fs::resize_file(dir / "model.safetensors", fs::file_size(dir / "model.safetensors") / 2);
    require_one_line_error(run_bert("info " + dir.string()), "model.safetensors");
    fs::remove_all(dir);
  }
  SECTION("header that lies about sizes") {
    auto dir = make_checkpoint_copy("lie");
    std::fstream f(dir / "model.safetensors", std::ios::in | std::ios::out | std::ios::binary);
    uint64_t huge = 1ull << 40;
    f.write(reinterpret_cast<const char*>(&huge), 8);
    f.close();
    require_one_line_error(run_bert("info " + dir.string()), "model.safetensors");
    fs::remove_all(dir);
  }
}

TEST_CASE("bert convert rejects a wrong-shape tensor", "[cli][errors]") {
  auto dir = make_checkpoint_copy("shape");
  std::ofstream(dir / "config.json") << R"({"model_type": "bert", "architectures": ["BertForPreTraining"],
    "vocab_size": 30522, "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4,
    "intermediate_size": 48, "max_position_embeddings": 64})";
  auto out = dir / "out";
  require_one_line_error(run_bert("convert --input " + dir.string() + " --out " + out.string()),
                         "intermediate.dense.bias' has shape [64], the model expects [48]");
  REQUIRE_FALSE(fs::exists(out / "model.safetensors"));
  fs::remove_all(dir);
}

namespace {

// A short pre-training command on the fixture's tokenizer, writing to `out`.
std::string tiny_pretrain_command(const fs::path& out) {
  return "pretrain --corpus " + bert::test::data_path("corpus/alice-in-wonderland.txt") + " --tokenizer " +
         bert::test::data_path("hf-tiny") + " --model-config " + BERT_SOURCE_DIR +
         "/configs/bert-tiny.json --max-steps 2 --out " + out.string();
}

}  // namespace

TEST_CASE("bert pretrain --cuda-graphs where it cannot run", "[cli][errors]") {
  const auto out = fs::temp_directory_path() / ("bert_cli_graphs_" + std::to_string(::getpid()));
  require_one_line_error(run_bert(tiny_pretrain_command(out) + " --cuda-graphs --device cpu"),
                         "--cuda-graphs needs --device cuda, found cpu");
  REQUIRE_FALSE(fs::exists(out));  // refused before anything was written
}

TEST_CASE("bert pretrain --dist-backend nccl where it cannot run", "[cli][errors]") {
  const auto out = fs::temp_directory_path() / ("bert_cli_nccl_" + std::to_string(::getpid()));
  const std::string pretrain = tiny_pretrain_command(out) + " --nproc 2";
  // Refused by the launcher, before any worker starts or anything is written.
  if (bert::dist::nccl_available())
    require_one_line_error(run_bert(pretrain + " --dist-backend nccl --device cpu"),
                           "--dist-backend nccl needs --device cuda");
  else
    require_one_line_error(run_bert(pretrain + " --dist-backend nccl --device cuda"),
                           "--dist-backend nccl: this bert was built without c10d's NCCL backend");
  REQUIRE_FALSE(fs::exists(out));
  const auto unknown = run_bert(pretrain + " --dist-backend mpi");  // CLI11's own message
  CHECK(unknown.status != 0);
  CHECK(unknown.output.find("--dist-backend: mpi not in {auto,gloo,nccl}") != std::string::npos);
}

// Continued pre-training from a Hugging Face BertForPreTraining directory: every tensor of it is
// loaded (at lr 0 the final model is the file, heads included), and its own tokenizer is used.
TEST_CASE("pretrain --init continues from a Hugging Face checkpoint with its own tokenizer", "[cli][pretrain]") {
  const auto out = fs::temp_directory_path() / ("bert_cli_init_" + std::to_string(::getpid()));
  const auto init = fs::path(bert::test::data_path("hf-tiny"));
  bert::test::require_ok(run_bert("pretrain --corpus " + bert::test::data_path("corpus/alice-in-wonderland.txt") +
                                  " --init " + init.string() + " --max-steps 2 --batch-size 4 --seq-len 32 --lr 0 " +
                                  "--eval-fraction 0 --threads 1 --out " + out.string()));
  CHECK(fs::exists(out / "final" / "vocab.txt"));
  const auto theirs = bert::io::read_safetensors((init / "model.safetensors").string()).tensors;
  const auto ours = bert::io::read_safetensors((out / "final" / "model.safetensors").string()).tensors;
  size_t compared = 0;
  for (const auto& [name, tensor] : ours) {
    auto it = std::find_if(theirs.begin(), theirs.end(), [&](const auto& t) { return t.first == name; });
    if (it == theirs.end()) continue;
    INFO(name);
    CHECK(torch::equal(tensor, it->second));
    ++compared;
  }
  CHECK(compared + 1 >= theirs.size());  // all but (at most) a buffer such as position_ids
  require_one_line_error(run_bert("pretrain --corpus " + bert::test::data_path("corpus/alice-in-wonderland.txt") +
                                  " --model-config " + BERT_SOURCE_DIR + "/configs/bert-tiny.json --out " +
                                  (out / "fresh").string()),
                         "--tokenizer: a tokenizer directory is required with --model-config");
  // A run that cannot start (no corpus) leaves no run directory behind.
  require_one_line_error(run_bert("pretrain --corpus " + (out / "none" / "*.txt").string() + " --init " +
                                  init.string() + " --seq-len 32 --out " + (out / "empty").string()),
                         "the pattern matches no file");
  CHECK_FALSE(fs::exists(out / "empty"));
  fs::remove_all(out);
}

// Every subcommand takes a sequence length under either name, pretrain's or finetune's.
TEST_CASE("the corpus sequence length answers to --seq-len and --max-seq-len", "[cli][errors]") {
  const auto out = fs::temp_directory_path() / ("bert_cli_seqlen_" + std::to_string(::getpid()));
  require_one_line_error(run_bert(tiny_pretrain_command(out) + " --max-seq-len 4"),
                         "--seq-len: must be at least 8, found 4");
  REQUIRE_FALSE(fs::exists(out));
  const std::string evaluate = "evaluate --model " + bert::test::data_path("hf-tiny") + " --corpus " +
                               bert::test::data_path("corpus/alice-in-wonderland.txt");
  require_one_line_error(run_bert(evaluate + " --seq-len 4"), "--seq-len: must be at least 8, found 4");
  require_one_line_error(run_bert(evaluate + " --seq-len 4096"),
                         "--seq-len 4096 exceeds the model's max_position_embeddings 64");
  // tokenizer encode says --max-length, as transformers does, and takes --max-seq-len as the rest.
  for (const char* flag : {"--max-length", "--max-seq-len"}) {
    auto r = run_bert("tokenizer encode --tokenizer " + bert::test::data_path("hf-tiny") +
                      " --text \"one two three four five six\" " + flag + " 5");
    bert::test::require_ok(r);
    CHECK(r.output == "101 2028 2048 2093 102\n");
  }
}

TEST_CASE("bert convert and info on a real checkpoint", "[cli]") {
  auto out = fs::temp_directory_path() / ("bert_cli_convert_" + std::to_string(::getpid()));
  fs::remove_all(out);
  auto r = run_bert("convert --input " + bert::test::data_path("hf-tiny/pytorch_model.bin") + " --out " + out.string() +
                    " --dtype bf16");
  INFO(r.output);
  REQUIRE(r.status == 0);
  auto info = run_bert("info " + out.string());
  REQUIRE(info.status == 0);
  REQUIRE(info.output.find("BFloat16") != std::string::npos);
  REQUIRE(info.output.find("MLM NSP") != std::string::npos);
  REQUIRE(info.output.find("WordPiece") != std::string::npos);
  fs::remove_all(out);
}

// `--help` of every subcommand names each flag's default, or says that it is required.
TEST_CASE("every flag of every subcommand shows its default", "[cli][help]") {
  for (const char* command : {"info", "convert", "pretrain", "finetune", "evaluate", "predict", "embed",
                              "tokenizer train", "tokenizer encode", "tokenizer decode", "tokenizer info"}) {
    auto r = run_bert(std::string(command) + " --help");
    INFO(command << "\n" << r.output);
    REQUIRE(r.status == 0);
    // CLI11 prints an option as "  --flag ..." with its description on the same or the following
    // indented lines; gather each option's text and check it.
    std::vector<std::string> options;
    std::istringstream lines(r.output);
    for (std::string line; std::getline(lines, line);) {
      if (line.rfind("  -", 0) == 0) options.push_back(line);
      else if (!options.empty() && line.rfind("     ", 0) == 0) options.back() += line;
      else if (line.empty() || line.find("Subcommands:") != std::string::npos) options.push_back("");
    }
    int checked = 0;
    for (const auto& option : options) {
      if (option.empty() || option.find("--help") != std::string::npos) continue;
      INFO(option);
      CHECK(option.find("{false}") == std::string::npos);  // CLI11's marker of a negating name, left out
      const bool documented = option.find("default:") != std::string::npos ||
                              option.find("required") != std::string::npos || option.find("REQUIRED") != std::string::npos;
      CHECK(documented);
      ++checked;
    }
    REQUIRE(checked > 0);
  }
}

namespace {

// A scratch directory with the first rows of SST-2 (train.tsv, dev.tsv) for the cases below.
fs::path make_sst2_dir(const std::string& name) {
  auto dir = fs::temp_directory_path() / ("bert_cli_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  for (const auto& [from, to, rows] : {std::tuple<const char*, const char*, int>{"tasks/sst2_train_300.tsv", "train.tsv", 9},
                                       {"tasks/sst2_dev_100.tsv", "dev.tsv", 5}}) {
    std::ifstream in(bert::test::data_path(from));
    std::ofstream out(dir / to);
    std::string line;
    for (int i = 0; i < rows && std::getline(in, line); ++i) out << line << "\n";
  }
  return dir;
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace

// A value that cannot train (a 0 that would divide, a negative count, NaN, an unknown metric) is
// one error naming the flag before anything is loaded or written.
TEST_CASE("finetune checks its flag values before it starts", "[cli][errors]") {
  const auto dir = make_sst2_dir("flags");
  const std::string base = "finetune --threads 1 --init " + bert::test::data_path("hf-tiny") + " --train " +
                           (dir / "train.tsv").string() + " --dev " + (dir / "dev.tsv").string() + " --out " +
                           (dir / "run").string() + " --epochs 1 --batch-size 4 --log-level error ";
  for (const auto& [flags, message] : std::vector<std::pair<std::string, std::string>>{
           {"--grad-accum 0", "--grad-accum: must be > 0, found 0"},
           {"--log-every 0", "--log-every: must be > 0, found 0"},
           {"--lr -1", "--lr: must be a finite number >= 0, found -1"},
           {"--lr inf", "--lr: must be a finite number >= 0, found inf"},
           {"--adam-eps 0", "--adam-eps: must be a finite number > 0, found 0"},
           {"--clip-norm -1", "--clip-norm: must be a finite number >= 0, found -1"},
           {"--dropout -0.1", "--dropout: must be in [0, 1), found -0.1"},
           {"--warmup-steps -5", "--warmup-steps: must be >= 0, found -5"},
           {"--seed -1", "--seed: must be >= 0, found -1"},
           {"--threads -1", "--threads: must be >= 0, found -1"},
           {"--max-seq-len 2", "--max-seq-len: must be at least 4"},
           {"--seq-len 2", "--max-seq-len: must be at least 4"},  // pretrain's name for it
           {"--metric bogus", "--metric bogus is not reported for task classify (available: accuracy,"},
           {"--maxsteps 3", "unknown flag --maxsteps for bert finetune (did you mean --max-steps?) (see bert finetune --help)"},
           {"--epoch 1", "unknown flag --epoch for bert finetune (did you mean --epochs?)"},
           {"--max-seq-len 64 --seq-len 32", "--max-seq-len: given 2 times (under this or another of its names), expected once"}}) {
    INFO(flags);
    require_one_line_error(run_bert(base + flags), message);
    REQUIRE_FALSE(fs::exists(dir / "run"));
  }
  require_one_line_error(run_bert("frobnicate"), "unknown subcommand \"frobnicate\" (expected one of: info,");
  // A misspelt flag is named even when it leaves a required one missing.
  require_one_line_error(run_bert("finetune --init " + bert::test::data_path("hf-tiny") + " --trian x.tsv --out " +
                                  (dir / "run").string()),
                         "unknown flag --trian for bert finetune (did you mean --train?)");
  require_one_line_error(run_bert("predict --init " + bert::test::data_path("hf-tiny") + " --text hi"),
                         "--init is not a flag of bert predict: its model directory is --model");
  require_one_line_error(run_bert("predict --text hi"), "--model is required (see bert predict --help)");
  require_one_line_error(run_bert("pretrain --model x --corpus y --out z"),
                         "--model is not a flag of bert pretrain: a checkpoint to continue from is --init, a fresh "
                         "model's config.json --model-config");
  // Nested subcommands: the innermost one's flags and help.
  const std::string encode = "tokenizer encode --tokenizer " + bert::test::data_path("hf-tiny") + " --text hi";
  require_one_line_error(run_bert(encode + " --fromat ids"),
                         "unknown flag --fromat for bert tokenizer encode (did you mean --format?) (see bert "
                         "tokenizer encode --help)");
  require_one_line_error(run_bert(encode + " --format bogus"), "--format: bogus not in {ids,tokens,jsonl}");
  require_one_line_error(run_bert("tokenizer train --input " + (dir / "train.tsv").string()),
                         "--out is required (see bert tokenizer train --help)");
  fs::remove_all(dir);
}

TEST_CASE("finetune refuses labels it cannot learn from", "[cli][errors]") {
  const auto dir = make_sst2_dir("labels");
  const std::string base = "finetune --threads 1 --init " + bert::test::data_path("hf-tiny") + " --out " +
                           (dir / "run").string() + " --epochs 1 --log-level error --train ";
  std::ofstream(dir / "spelled.tsv") << "s\tlabel\nhello there\t1\nbye now\t1.0\nok then\t0\n";
  require_one_line_error(run_bert(base + (dir / "spelled.tsv").string()),
                         "spelled.tsv: labels \"1\" and \"1.0\" are the same number written two ways");
  // One word among scores: a bad row, not a 4-class problem; --task regress --skip-bad-rows drops it.
  {
    std::ofstream scores(dir / "scores.tsv");
    scores << "s\tscore\nhello there\t4.2\nbye now\tn/a\n";
    for (int i = 0; i < 30; ++i) scores << "row " << i << "\t" << i % 5 << ".5\n";
  }
  require_one_line_error(run_bert(base + (dir / "scores.tsv").string()),
                         "scores.tsv:3: label \"n/a\" is not a number, but the other labels read as regression targets");
  std::string verbose = base;
  verbose.replace(verbose.find("--log-level error"), 17, "--log-level info");
  const auto skipped = run_bert(verbose + (dir / "scores.tsv").string() + " --task regress --skip-bad-rows");
  bert::test::require_ok(skipped);
  CHECK(skipped.output.find("scores.tsv: 31 rows (tab-separated, quoting none, 2 columns, header); 1 bad row skipped, "
                            "first: ") != std::string::npos);
  fs::remove_all(dir / "run");
  std::ofstream(dir / "one.tsv") << "s\tlabel\nhello\t0\nbye\t0\n";
  require_one_line_error(run_bert(base + (dir / "one.tsv").string() + " --task classify"),
                         "one.tsv: every label is \"0\": a classifier needs examples of at least two classes");
  REQUIRE_FALSE(fs::exists(dir / "run"));
  fs::remove_all(dir);
}

// evaluate, predict, embed and convert never write over a file they read.
TEST_CASE("outputs are never written over inputs", "[cli][errors]") {
  const auto dir = make_sst2_dir("overwrite");
  bert::test::require_ok(run_bert("finetune --threads 1 --init " + bert::test::data_path("hf-tiny") + " --train " +
                                  (dir / "train.tsv").string() + " --out " + (dir / "run").string() +
                                  " --epochs 1 --batch-size 4"));
  const std::string model = (dir / "run" / "best").string(), data = (dir / "dev.tsv").string();
  const std::string data_before = slurp(data), config_before = slurp(dir / "run" / "best" / "config.json");
  const std::string common = " --threads 1 --model " + model;
  require_one_line_error(run_bert("evaluate" + common + " --data " + data + " --output " + data), "is an input of this command");
  require_one_line_error(run_bert("evaluate" + common + " --data " + data + " --output " + model + "/config.json"),
                         "is an input of this command");
  require_one_line_error(run_bert("predict" + common + " --input " + data + " --output " + (dir / "." / "dev.tsv").string()),
                         "is the input");
  require_one_line_error(run_bert("embed" + common + " --input " + data + " --output " + (dir / "e.txt").string()),
                         "expected a .safetensors, .npy or .jsonl file name");
  require_one_line_error(run_bert("convert --input " + model + " --out " + model + " --dtype float16"),
                         "is the directory of --input");
  require_one_line_error(run_bert("predict" + common + " --text hi --input " + data), "--input excludes --text");
  CHECK(slurp(data) == data_before);
  CHECK(slurp(dir / "run" / "best" / "config.json") == config_before);
  fs::remove_all(dir);
}

// A damaged config.json or vocabulary is one error at load time, not an allocation failure, NaN
// predictions or "index out of range" halfway through.
TEST_CASE("damaged model directories are refused at load time", "[cli][errors]") {
  auto edit_config = [](const fs::path& dir, const std::string& key, const nlohmann::json& value) {
    auto config = nlohmann::json::parse(std::ifstream(dir / "config.json"));
    config[key] = value;
    std::ofstream(dir / "config.json") << config.dump();
  };
  SECTION("a size that would need terabytes") {
    auto dir = make_checkpoint_copy("huge");
    edit_config(dir, "vocab_size", 1000000000000LL);
    require_one_line_error(run_bert("info " + dir.string()), "billion parameters, more than the 68.7 billion");
    fs::remove_all(dir);
  }
  SECTION("a layer count that would fill the memory") {
    auto dir = make_checkpoint_copy("layers");
    edit_config(dir, "num_hidden_layers", 100000000);
    require_one_line_error(run_bert("info " + dir.string()), "num_hidden_layers 100000000");
    fs::remove_all(dir);
  }
  SECTION("a layer_norm_eps that makes every output NaN") {
    auto dir = make_checkpoint_copy("eps");
    edit_config(dir, "layer_norm_eps", -1);
    require_one_line_error(run_bert("info " + dir.string()), "'layer_norm_eps' must be > 0");
    fs::remove_all(dir);
  }
  SECTION("a classifier whose id2label names a label twice") {
    auto dir = make_checkpoint_copy("twice");
    edit_config(dir, "architectures", {"BertForSequenceClassification"});
    edit_config(dir, "num_labels", 2);
    edit_config(dir, "id2label", {{"0", "a"}, {"1", "a"}});
    edit_config(dir, "label2id", {{"a", 0}});
    require_one_line_error(run_bert("predict --log-level error --model " + dir.string() + " --text hi"),
                           "config.json: 'id2label' names \"a\" twice");
    fs::remove_all(dir);
  }
  SECTION("a vocabulary larger than the embedding table") {
    // A warning at load (transformers loads such directories), an error naming the row that uses
    // a token beyond the table.
    auto dir = make_sst2_dir("vocab");
    auto model = make_checkpoint_copy("vocab_model");
    std::ofstream(model / "vocab.txt", std::ios::app) << "extra1\n";
    std::ofstream(dir / "train.tsv", std::ios::app) << "the extra1 word\t1\n";
    auto r = run_bert("finetune --threads 1 --init " + model.string() + " --train " + (dir / "train.tsv").string() +
                      " --out " + (dir / "run").string() + " --log-level warn");
    CHECK(r.output.find("the tokenizer has 30523 tokens but config.json's vocab_size is 30522") != std::string::npos);
    CHECK(r.output.find("train.tsv:10: token \"extra1\" has id 30522, beyond the model's vocab_size 30522") !=
          std::string::npos);
    CHECK(r.status == 1);
    fs::remove_all(dir);
    fs::remove_all(model);
  }
}

// Texts from stdin or --text are checked as a file's rows are.
TEST_CASE("predict checks texts from stdin", "[cli][errors]") {
  const auto dir = make_sst2_dir("stdin");
  bert::test::require_ok(run_bert("finetune --threads 1 --init " + bert::test::data_path("hf-tiny") + " --train " +
                                  (dir / "train.tsv").string() + " --out " + (dir / "run").string() +
                                  " --epochs 1 --batch-size 4"));
  const std::string predict = "predict --threads 1 --model " + (dir / "run" / "best").string() + " < ";
  std::ofstream(dir / "bad.txt") << "hel\xfflo\n";
  std::ofstream(dir / "blank.txt") << "hello\n\nworld\n";
  std::ofstream(dir / "blank_then_bad.txt") << "hello\n\r\nwor\xffld\n \n";
  std::ofstream(dir / "only_blank.txt") << "\n\n";
  require_one_line_error(run_bert(predict + (dir / "bad.txt").string() + " --log-level error"),
                         "stdin:1: invalid UTF-8 at byte column 4");
  // Blank lines are skipped, as in a .txt --input; the other lines keep their numbers in errors.
  auto blank = run_bert(predict + (dir / "blank.txt").string());
  bert::test::require_ok(blank);
  CHECK(blank.output.find("stdin: 2 texts; 1 blank line ignored") != std::string::npos);
  CHECK(blank.output.find("\"text\":\"hello\"}") != std::string::npos);
  CHECK(blank.output.find("\"text\":\"world\"}") != std::string::npos);
  require_one_line_error(run_bert(predict + (dir / "blank_then_bad.txt").string() + " --log-level error"),
                         "stdin:3: invalid UTF-8 at byte column 4");
  std::ofstream(dir / "blank_then_bad.txt") << "hello\n\n \n";
  require_one_line_error(run_bert(predict + (dir / "blank_then_bad.txt").string() + " --log-level error"),
                         "stdin:3: empty text");
  require_one_line_error(run_bert(predict + (dir / "only_blank.txt").string() + " --log-level error"),
                         "stdin: no text");
  std::ofstream(dir / "pairs.txt") << "a fine film\tand more\n";  // the model saw single sentences
  auto pairs = run_bert(predict + (dir / "pairs.txt").string());
  bert::test::require_ok(pairs);
  CHECK(pairs.output.find("the model was fine-tuned on single texts (config.json's finetune_inputs), but stdin gives "
                          "text pairs (a TAB in a line starts the pair)") != std::string::npos);
  require_one_line_error(run_bert("tokenizer encode --tokenizer " + bert::test::data_path("hf-tiny") + " --input " +
                                  (dir / "bad.txt").string()),
                         "bad.txt:1: invalid UTF-8 at byte column 4");
  fs::remove_all(dir);
}

TEST_CASE("a missing model directory is named by its flag", "[cli][errors]") {
  const auto dir = make_sst2_dir("nodir");
  require_one_line_error(run_bert("finetune --init " + (dir / "nope").string() + " --train " +
                                  (dir / "train.tsv").string() + " --out " + (dir / "run").string()),
                         "--init " + (dir / "nope").string() + ": no such directory");
  require_one_line_error(run_bert("predict --model " + (dir / "nope").string() + " --text hi"), ": no such directory");
  require_one_line_error(run_bert("convert --input " + (dir / "nope").string() + " --out " + (dir / "c").string()),
                         "--input " + (dir / "nope").string() + ": no such file or directory");
  const std::string finetune = "finetune --log-level error --init " + bert::test::data_path("hf-tiny");
  require_one_line_error(run_bert(finetune + " --train " + (dir / "train.tsv").string() + " --out " + (dir / "dev.tsv").string()),
                         "--out " + (dir / "dev.tsv").string() + ": is a file, expected a directory");
  require_one_line_error(run_bert(finetune + " --train " + dir.string() + " --out " + (dir / "run").string()),
                         dir.string() + ": is a directory, expected a file");
  // A run directory given where its model is meant: every model flag says which to give.
  fs::create_directories(dir / "run" / "checkpoints");
  fs::create_directories(dir / "run" / "final");
  const std::string run = (dir / "run").string();
  for (const auto& command : {"predict --model " + run + " --text \"a [MASK]\"",
                              "evaluate --model " + run + " --corpus " + bert::test::data_path("corpus"),
                              "evaluate --model " + run + " --data " + (dir / "dev.tsv").string(),
                              "embed --model " + run + " --input " + (dir / "dev.tsv").string() + " --output x.npy"})
    require_one_line_error(run_bert(command), run + ": missing config.json (a run directory: give " + run + "/final");
  fs::remove_all(dir);
}

// A checkpoint damaged after it was written (here its random state) is named; the run resumes
// from the one before it, and only when none loads is it an error.
TEST_CASE("a damaged newest checkpoint is named and the one before it resumed", "[cli][errors]") {
  const auto out = fs::temp_directory_path() / ("bert_cli_rng_" + std::to_string(::getpid()));
  fs::remove_all(out);
  const std::string command = tiny_pretrain_command(out) + " --save-every 1 --eval-every 1 --threads 1";
  bert::test::require_ok(run_bert(command));
  std::vector<fs::path> checkpoints;
  for (const auto& entry : fs::directory_iterator(out / "checkpoints")) checkpoints.push_back(entry.path());
  std::sort(checkpoints.begin(), checkpoints.end());
  REQUIRE(checkpoints.size() == 2);  // steps 1 and 2 (--keep-last 2)
  std::ofstream(checkpoints[1] / "rng.pt") << "not a zip archive";
  auto r = run_bert(command + " --log-level warn");
  INFO(r.output);
  REQUIRE(r.status == 0);
  CHECK(r.output.find((checkpoints[1] / "rng.pt").string() + ": cannot load the random state") != std::string::npos);
  CHECK(r.output.find("trying the checkpoint before it") != std::string::npos);
  // Step 2 trained again from step 1 and saved anew; now damage both.
  for (const auto& dir : checkpoints) std::ofstream(dir / "rng.pt") << "not a zip archive";
  require_one_line_error(run_bert(command + " --log-level error"),
                         (checkpoints[1] / "rng.pt").string() + ": cannot load the random state");
  fs::remove_all(out);
}

// A masked-LM decoder of its own (tie_word_embeddings false) is a weight like any other: kept
// through convert, not replaced by the word embeddings.
TEST_CASE("an untied masked-LM decoder is kept", "[cli][convert]") {
  auto dir = make_checkpoint_copy("untied");
  auto config = nlohmann::json::parse(std::ifstream(dir / "config.json"));
  config["tie_word_embeddings"] = false;
  std::ofstream(dir / "config.json") << config.dump();
  auto weights = bert::io::read_safetensors((dir / "model.safetensors").string()).tensors;
  torch::Tensor decoder;
  for (const auto& [name, t] : weights)
    if (name == "bert.embeddings.word_embeddings.weight") decoder = t * 2 + 1;
  weights.emplace_back("cls.predictions.decoder.weight", decoder);
  bert::io::write_safetensors((dir / "model.safetensors").string(), weights);
  bert::test::require_ok(run_bert("convert --input " + dir.string() + " --out " + (dir / "out").string()));
  bool found = false;
  for (const auto& [name, t] : bert::io::read_safetensors((dir / "out" / "model.safetensors").string()).tensors)
    if (name == "cls.predictions.decoder.weight") found = torch::equal(t, decoder);
  CHECK(found);
  fs::remove_all(dir);
}

TEST_CASE("convert says when the source has no tokenizer to copy", "[cli][convert]") {
  const auto dir = fs::temp_directory_path() / ("bert_cli_notok_" + std::to_string(::getpid()));
  fs::create_directories(dir / "weights");
  for (const char* name : {"config.json", "model.safetensors"})
    fs::copy_file(fs::path(bert::test::data_path("hf-tiny")) / name, dir / "weights" / name);
  auto r = run_bert("convert --input " + (dir / "weights").string() + " --out " + (dir / "out").string());
  bert::test::require_ok(r);
  CHECK(r.output.find("has no tokenizer files (vocab.txt, spm.model, tokenizer.json): copy the model's into") !=
        std::string::npos);
  auto with = run_bert("convert --input " + bert::test::data_path("hf-tiny") + " --out " + (dir / "out2").string());
  bert::test::require_ok(with);
  CHECK(with.output.find("has no tokenizer files") == std::string::npos);
  fs::remove_all(dir);
}

TEST_CASE("predict with a pre-trained model fills in each [MASK]", "[cli][fill_mask]") {
  const auto dir = make_checkpoint_copy("fill_mask");
  const std::string predict = "predict --threads 1 --model " + dir.string() + " ";
  std::ofstream(dir / "texts.txt") << "The cat sat on the [MASK].\n\n[MASK] went to [MASK].\n";
  auto run = run_bert(predict + "--input " + (dir / "texts.txt").string() + " --output " + (dir / "out.jsonl").string());
  bert::test::require_ok(run);
  const auto rows = bert::test::read_jsonl(dir / "out.jsonl");
  REQUIRE(rows.size() == 2);
  CHECK(rows[0]["text"] == "The cat sat on the [MASK].");
  REQUIRE(rows[0]["masks"].size() == 1);
  REQUIRE(rows[1]["masks"].size() == 2);
  for (const auto& row : rows)
    for (const auto& candidates : row["masks"]) {
      REQUIRE(candidates.size() == 5);  // the default top-k
      for (size_t r = 1; r < candidates.size(); ++r) CHECK(candidates[r - 1]["score"] >= candidates[r]["score"]);
    }
  // One mask: the sequence leaves the special tokens out; two: it keeps them, the other mask visible.
  for (const auto& c : rows[0]["masks"][0]) {
    const std::string word = c["token_str"];
    if (word.rfind("##", 0) != 0 && word.find('[') == std::string::npos)
      CHECK(c["sequence"] == "the cat sat on the " + word + ".");
  }
  const std::string second = rows[1]["masks"][1][0]["sequence"];
  CHECK(second.rfind("[CLS] [MASK] went to ", 0) == 0);

  // A table: a row per candidate; --target ranks only the words given.
  run = run_bert(predict + "--text \"The [MASK] sat.\" --top-k 2 --output " + (dir / "out.csv").string());
  bert::test::require_ok(run);
  auto table = slurp(dir / "out.csv");
  CHECK(table.rfind("text,mask,rank,token,token_str,score,sequence\n", 0) == 0);
  CHECK(std::count(table.begin(), table.end(), '\n') == 3);
  run = run_bert(predict + "--text \"The [MASK] sat.\" --target cat --target dog --target cat --log-level error");
  bert::test::require_ok(run);
  const auto targets = nlohmann::json::parse(run.output)["masks"][0];
  REQUIRE(targets.size() == 2);
  CHECK(std::set<std::string>{targets[0]["token_str"], targets[1]["token_str"]} == std::set<std::string>{"cat", "dog"});

  std::ofstream(dir / "no_mask.txt") << "The cat sat on the [MASK].\n\nno mask here\n";
  require_one_line_error(run_bert(predict + "--input " + (dir / "no_mask.txt").string() + " --log-level error"),
                         "no_mask.txt:3: no [MASK] in the text");
  require_one_line_error(run_bert(predict + "--text \"one two three four five six seven [MASK]\" --max-seq-len 8 "
                                            "--log-level error"),
                         "--text:1: every [MASK] lies past --max-seq-len 8");
  require_one_line_error(run_bert("predict --threads 1 --model " + bert::test::data_path("reference/bertmodel-legacy-keys") +
                                  " --text \"a [MASK]\""),
                         "has no masked-LM head (cls.predictions.*)");
  require_one_line_error(run_bert("predict --threads 1 --model " + bert::test::data_path("reference/seqcls-3labels") +
                                  " --text hi --top-k 3"),
                         "--top-k: only for a pre-trained model's [MASK] predictions");
  fs::remove_all(dir);
}
