#include "joule/train.hpp"
#include "joule/util.hpp"

namespace joule {
namespace {

void Validate(const JobConfig& c) {
  auto bad = [](const std::string& flag, const std::string& value, const std::string& want) {
    throw Error(flag + " " + value + ": " + want);
  };
  if (c.epochs < 1) bad("--epochs", std::to_string(c.epochs), "must be at least 1");
  if (c.batch_size < 1) bad("--batch", std::to_string(c.batch_size), "must be at least 1");
  if (!(c.optimizer.lr > 0)) bad("--lr", std::to_string(c.optimizer.lr), "must be positive");
  if (c.optimizer.momentum < 0 || c.optimizer.momentum >= 1) {
    bad("--momentum", std::to_string(c.optimizer.momentum), "must be in [0, 1)");
  }
  if (c.optimizer.weight_decay < 0) {
    bad("--weight-decay", std::to_string(c.optimizer.weight_decay), "must be >= 0");
  }
  if (!(c.huber_delta > 0)) bad("--huber-delta", std::to_string(c.huber_delta), "must be positive");
}

}  // namespace

JobResult RunJob(const JobConfig& config, const std::function<void(const EpochStats&)>& on_epoch) {
  Validate(config);
  Precision precision = ParsePrecision(config.precision);
  std::unique_ptr<Optimizer> optimizer = MakeOptimizer(config.optimizer);
  ScheduledLr(config.lr_schedule, config.optimizer.lr, 0, 1);  // rejects a bad name before loading data
  SetNumThreads(config.threads);

  PreparedData data = PrepareData(config.data, config.target, config.task, config.seed);
  std::string loss_name = config.loss;
  if (loss_name.empty()) loss_name = data.train.task == Task::kClassification ? "cross-entropy" : "mse";
  if (data.train.task == Task::kClassification && loss_name != "cross-entropy") {
    throw Error("--loss " + loss_name + " is a regression loss; classification uses cross-entropy");
  }
  std::unique_ptr<Loss> loss = MakeLoss(loss_name, config.huber_delta);

  Rng rng(config.seed);
  std::int64_t outputs = data.train.task == Task::kClassification ? data.train.num_classes : 1;
  Sequential model = MakeModel(config.model, data.train.x.shape(), outputs, rng);
  model.SetPrecision(precision);

  TrainOptions options;
  options.epochs = config.epochs;
  options.batch_size = config.batch_size;
  options.seed = config.seed;
  options.lr_schedule = config.lr_schedule;

  JobResult result;
  result.parameters = model.ParameterCount();
  result.task = data.train.task;
  result.eval_name = data.eval_name;
  double start = MonotonicSeconds();
  result.history = Fit(model, *loss, *optimizer, data, options, on_epoch);
  result.seconds = MonotonicSeconds() - start;
  result.epochs = static_cast<int>(result.history.size());
  result.final_eval = result.history.back().eval;

  if (!config.save_dir.empty()) {
    nlohmann::json meta = {{"data", config.data},       {"target", config.target},
                           {"task", config.task},       {"model", config.model},
                           {"loss", loss_name},         {"precision", config.precision},
                           {"epochs", result.epochs},   {"seed", config.seed},
                           {"eval_name", data.eval_name}};
    if (data.train.task == Task::kRegression) {
      meta["target_mean"] = data.target_scaler.mean;
      meta["target_stddev"] = data.target_scaler.stddev;
    }
    {
      meta["feature_mean"] = data.normalizer.mean;
      meta["feature_stddev"] = data.normalizer.stddev;
    }
    SaveModel(model, config.save_dir, meta);
  }
  return result;
}

}  // namespace joule
