// A whole training job: validate the config, load the data, build the model,
// the loss, the optimizer and the callbacks, train, evaluate, save.
#include "joule/run.hpp"
#include "joule/util.hpp"

namespace joule {
namespace {

// The callbacks a config asks for, in RunJob's documented order. Constructing
// them validates their options, so ValidateJobConfig builds them too.
struct JobCallbacks {
  std::unique_ptr<Callback> schedule;
  std::unique_ptr<HuberDeltaSchedule> huber_delta;
  std::unique_ptr<Budget> budget;
  std::unique_ptr<PredictCost> prediction;
  std::unique_ptr<TargetStop> target;
  std::unique_ptr<EarlyStopping> early_stopping;
  std::unique_ptr<AdaptiveBatch> adaptive_batch;

  std::vector<Callback*> List() const {
    std::vector<Callback*> list;
    for (Callback* c : std::initializer_list<Callback*>{
             schedule.get(), huber_delta.get(), budget.get(), prediction.get(), target.get(),
             early_stopping.get(), adaptive_batch.get()}) {
      if (c != nullptr) list.push_back(c);
    }
    return list;
  }
};

// `annealed` is null while only validating.
JobCallbacks MakeJobCallbacks(const JobConfig& c, AnnealedHuberLoss* annealed) {
  JobCallbacks cb;
  cb.schedule = MakeLrSchedule(c.lr_schedule, c.lr_schedule_options);
  if (c.loss == "annealed-huber") {
    if (annealed != nullptr) {
      cb.huber_delta = std::make_unique<HuberDeltaSchedule>(*annealed, c.annealed_huber);
    } else {
      std::unique_ptr<AnnealedHuberLoss> probe = MakeAnnealedHuber(1.0);
      HuberDeltaSchedule check(*probe, c.annealed_huber);
    }
  }
  if (c.budget.energy_j || c.budget.co2_g) cb.budget = std::make_unique<Budget>(c.budget);
  if (c.prediction.after_epochs != 0 || c.prediction.max_energy_j) {
    cb.prediction = std::make_unique<PredictCost>(c.prediction);
  }
  if (c.target_metric.value) cb.target = std::make_unique<TargetStop>(c.target_metric);
  if (c.early_stopping.enabled)
    cb.early_stopping = std::make_unique<EarlyStopping>(c.early_stopping);
  if (c.adaptive_batch.enabled)
    cb.adaptive_batch = std::make_unique<AdaptiveBatch>(c.adaptive_batch);
  return cb;
}

}  // namespace

void ValidateJobConfig(const JobConfig& c) {
  if (std::optional<ConfigProblem> problem = FindConfigProblem(c)) {
    throw Error(problem->Message());
  }
}

std::optional<ConfigProblem> TrainLayerProblem(const JobConfig& c) {
  // The train layer's own checks, for what the schema cannot see; the schema
  // has caught every range before, so these rarely speak.
  try {
    ParsePrecision(c.precision);
    CheckModelName(c.model);
    MakeOptimizer(c.optimizer);
    MakeJobCallbacks(c, nullptr);
  } catch (const Error& e) {
    return ConfigProblem{"", "", e.what()};
  }
  return std::nullopt;
}

JobResult RunJob(const JobConfig& config, const std::function<void(const EpochStats&)>& on_epoch,
                 const std::vector<Callback*>& extra_callbacks, const PreparedData* given,
                 bool validated, const FitAdapter& adapt) {
  // Validating resolves the carbon model; the meter then uses that one.
  MeteringOptions metering = config.metering;
  if (!validated) {
    JobConfig checked = config;
    if (std::optional<ConfigProblem> problem = ResolveJobConfig(checked)) {
      throw Error(problem->Message());
    }
    metering = checked.metering;
  }
  Precision precision = ParsePrecision(config.precision);
  std::unique_ptr<Optimizer> optimizer = MakeOptimizer(config.optimizer);
  SetNumThreads(config.threads);

  PreparedData loaded;
  if (given == nullptr) {
    loaded = PrepareData(config.data, config.target, config.task, config.seed,
                         config.validation_fraction);
  }
  const PreparedData& data = given != nullptr ? *given : loaded;
  const bool classification = data.train.task == Task::kClassification;
  std::string loss_name = config.loss;
  if (loss_name.empty()) loss_name = classification ? "cross-entropy" : "mse";
  if (classification && loss_name != "cross-entropy") {
    throw Error("loss = \"" + loss_name +
                "\": a regression loss; classification uses cross-entropy");
  }
  if (!classification && loss_name == "cross-entropy") {
    throw Error(
        "loss = \"cross-entropy\": a classification loss; regression uses mse, mae, huber, "
        "log-cosh or annealed-huber");
  }
  std::unique_ptr<Loss> loss = MakeLoss(loss_name, config.huber_delta);
  JobCallbacks callbacks = MakeJobCallbacks(config, dynamic_cast<AnnealedHuberLoss*>(loss.get()));

  Rng rng(config.seed);
  std::int64_t outputs = classification ? data.train.num_classes : 1;
  Sequential model = MakeModel(config.model, data.train.x.shape(), outputs, rng);
  model.SetPrecision(precision);

  FitOptions options;
  options.epochs = config.epochs;
  options.batch_size = config.batch_size;
  options.seed = config.seed;
  options.callbacks = callbacks.List();
  for (Callback* c : extra_callbacks) options.callbacks.push_back(c);
  options.metering = &metering;
  options.checkpoint = config.checkpoint;
  options.on_epoch = on_epoch;
  if (adapt) adapt(model, *loss, data, options);

  JobResult result;
  result.parameters = model.ParameterCount();
  result.flops_per_inference = ForwardFlops(model, data.train.x.shape());
  result.task = data.train.task;
  result.eval_name = data.eval_name;
  double start = MonotonicSeconds();
  FitResult fit = Fit(model, *loss, *optimizer, data, options);
  result.seconds = MonotonicSeconds() - start;

  // The monitored set was the test / holdout set itself when there is no
  // validation split; its last evaluation can be reused if it saw these weights.
  if (data.validation.rows() == 0 && fit.final_weights_evaluated) {
    result.final_eval = fit.history.back().eval;
  } else {
    result.final_eval = Evaluate(model, *loss, data.eval, data.target_scaler);
  }
  result.history = std::move(fit.history);
  result.epochs = static_cast<int>(result.history.size());
  result.steps = fit.steps;
  result.samples_seen = static_cast<std::int64_t>(result.history.size()) * data.train.rows();
  result.energy = std::move(fit.energy);
  result.stop_reason = fit.stop_reason;
  result.stop_message = fit.stop_message;
  result.resumed_from_epoch = fit.resumed_from_epoch;
  result.notes = std::move(fit.notes);
  if (callbacks.target) {
    result.target_reached = callbacks.target->reached();
    result.target_epoch = callbacks.target->reached_epoch();
    if (!callbacks.target->reached()) {
      int epochs_run = result.history.empty() ? 0 : result.history.back().epoch;
      result.notes.push_back("target: " + callbacks.target->Summary(data.train.task, epochs_run) +
                             "; the run stopped at " +
                             (result.stop_reason == StopReason::kEpochLimit ? "the epoch limit"
                                                                            : result.stop_message));
    }
  }
  if (callbacks.prediction) result.prediction = callbacks.prediction->prediction();
  if (callbacks.early_stopping) result.best_epoch = callbacks.early_stopping->best_epoch();
  bool monitors = callbacks.target || callbacks.early_stopping || callbacks.adaptive_batch ||
                  config.lr_schedule == "reduce-on-plateau";
  if (monitors && data.validation.rows() == 0) {
    result.notes.push_back("the callbacks monitored the " + data.eval_name +
                           " set: set validation_fraction (e.g. 0.1) to hold out a validation "
                           "split and keep the " +
                           data.eval_name + " set unseen");
  }

  if (!config.save_dir.empty()) {
    ModelMetadata meta;
    meta.data = config.data;
    meta.target = config.target;
    meta.task = config.task;
    meta.model = config.model;
    meta.loss = loss_name;
    meta.precision = config.precision;
    meta.epochs = result.epochs;
    meta.seed = config.seed;
    meta.eval_name = data.eval_name;
    if (!classification) meta.target_scaler = data.target_scaler;
    meta.SetNormalizer(data.normalizer);
    SaveModel(model, config.save_dir, meta.ToJson());
  }
  return result;
}

}  // namespace joule
