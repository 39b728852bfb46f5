// joule train: one training run from flags, with a progress line per epoch.
#include <cstdio>
#include <memory>

#include "cli/commands.hpp"
#include "cli/progress.hpp"
#include "joule/train.hpp"

namespace joule::cli {

void AddJobFlags(CLI::App& cmd, JobConfig& c) {
  cmd.add_option("--data", c.data,
                 "mnist (bundled), a directory with the four MNIST-named IDX files "
                 "(Fashion-MNIST, KMNIST, EMNIST), or a FILE.csv with a header row")
      ->capture_default_str();
  cmd.add_option("--target", c.target, "CSV only: the column to predict");
  cmd.add_option("--task", c.task, "CSV only: classification or regression")
      ->check(CLI::IsMember({"classification", "regression"}))
      ->capture_default_str();
  cmd.add_option("--model", c.model, "mlp (784-256-128-10, ReLU) or cnn (2 conv + 2 pool + 2 linear)")
      ->check(CLI::IsMember({"mlp", "cnn"}))
      ->capture_default_str();
  cmd.add_option("--loss", c.loss,
                 "cross-entropy (classification); mse, mae, huber, log-cosh (regression)")
      ->check(CLI::IsMember({"cross-entropy", "mse", "mae", "huber", "log-cosh"}));
  cmd.add_option("--huber-delta", c.huber_delta, "delta of the Huber loss")->capture_default_str();
  cmd.add_option("--epochs", c.epochs, "passes over the training data")->capture_default_str();
  cmd.add_option("--batch", c.batch_size, "rows per optimizer step")->capture_default_str();
  cmd.add_option("--lr", c.optimizer.lr, "learning rate")->capture_default_str();
  cmd.add_option("--lr-schedule", c.lr_schedule,
                 "constant, or cosine: decays the lr to 0 over the run, step by step")
      ->check(CLI::IsMember({"constant", "cosine"}))
      ->capture_default_str();
  cmd.add_option("--optimizer", c.optimizer.kind, "sgd (momentum), adam or adamw")
      ->check(CLI::IsMember({"sgd", "adam", "adamw"}))
      ->capture_default_str();
  cmd.add_option("--momentum", c.optimizer.momentum, "SGD momentum")->capture_default_str();
  cmd.add_flag("--nesterov", c.optimizer.nesterov, "SGD with Nesterov momentum");
  cmd.add_option("--weight-decay", c.optimizer.weight_decay, "L2 (sgd, adam) or decoupled (adamw)")
      ->capture_default_str();
  cmd.add_option("--precision", c.precision,
                 "f32, or bf16: Linear and Conv2d compute in bf16 on oneDNN with f32 master "
                 "weights and f32 accumulation")
      ->check(CLI::IsMember({"f32", "bf16"}))
      ->capture_default_str();
  cmd.add_option("--threads", c.threads, "compute threads (0: all cores)")->capture_default_str();
  cmd.add_option("--seed", c.seed, "seeds weights, shuffling and splits: same seed, same run")
      ->capture_default_str();
}

void RegisterTrainCommand(CLI::App& app) {
  auto config = std::make_shared<JobConfig>();
  auto json = std::make_shared<bool>(false);
  CLI::App* cmd = app.add_subcommand("train", "Train a model and report its accuracy and time");
  AddJobFlags(*cmd, *config);
  cmd->add_option("--save", config->save_dir,
                  "directory to write the model to (model.safetensors + model.json)");
  cmd->add_flag("--json", *json, "print the final figures as one JSON object on stdout");
  cmd->callback([config, json] {
    EpochPrinter printer(*config);
    JobResult r = RunJob(*config, [&](const EpochStats& s) { printer.Print(s); });
    if (*json) {
      std::printf("%s\n", JobResultJson(*config, r).dump().c_str());
    } else {
      PrintFinal(*config, r);
    }
  });
}

}  // namespace joule::cli
