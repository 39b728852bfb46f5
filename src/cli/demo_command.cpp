// joule demo: the main job. Trains the same MLP on the bundled MNIST two
// ways, plain (f32) and lean (bf16 on oneDNN), and prints what each scored
// and cost, side by side.
#include <cstdio>
#include <memory>

#include "cli/commands.hpp"
#include "cli/progress.hpp"
#include "joule/train.hpp"

namespace joule::cli {
namespace {

struct DemoFlags {
  int epochs = 10;
  int threads = 0;
  bool json = false;
};

void RunDemo(const DemoFlags& f) {
  struct Row {
    std::string name;
    JobConfig config;
    JobResult result;
  };
  std::vector<Row> rows(2);
  rows[0].name = "plain";
  rows[1].name = "bf16";
  for (Row& row : rows) {
    row.config.model = "mlp";
    row.config.epochs = f.epochs;
    row.config.threads = f.threads;
    row.config.optimizer.kind = "sgd";
    row.config.optimizer.lr = 0.05;
    row.config.optimizer.momentum = 0.9;
  }
  rows[1].config.precision = "bf16";
  for (Row& row : rows) {
    std::fprintf(stderr, "demo: training %s (%s, %d epochs, batch %lld)\n", row.name.c_str(),
                 row.config.precision.c_str(), row.config.epochs,
                 static_cast<long long>(row.config.batch_size));
    EpochPrinter printer(row.config);
    row.result = RunJob(row.config, [&](const EpochStats& s) { printer.Print(s); });
  }
  if (f.json) {
    nlohmann::json out;
    for (const Row& row : rows) out[row.name] = JobResultJson(row.config, row.result);
    std::printf("%s\n", out.dump(2).c_str());
    return;
  }
  std::printf("\n%-8s %-9s %-14s %-7s %-9s\n", "run", "precision", "test accuracy", "epochs",
              "seconds");
  for (const Row& row : rows) {
    std::printf("%-8s %-9s %13.2f%% %7d %9.1f\n", row.name.c_str(), row.config.precision.c_str(),
                100 * row.result.final_eval.accuracy, row.result.epochs, row.result.seconds);
  }
  double ratio = rows[1].result.seconds / rows[0].result.seconds;
  std::printf("\nbf16 took %.0f%% of the f32 run's time (%s)\n", 100 * ratio,
              "same model, data, seed and optimizer");
}

}  // namespace

void RegisterDemoCommand(CLI::App& app) {
  auto f = std::make_shared<DemoFlags>();
  CLI::App* cmd = app.add_subcommand(
      "demo", "The main job: train an MLP on the bundled MNIST the plain way and the lean way, "
              "and compare what each scored and cost (offline)");
  cmd->add_option("--epochs", f->epochs, "epochs per run")->capture_default_str();
  cmd->add_option("--threads", f->threads, "compute threads (0: all cores)");
  cmd->add_flag("--json", f->json, "print the figures as JSON on stdout");
  cmd->callback([f] { RunDemo(*f); });
}

}  // namespace joule::cli
