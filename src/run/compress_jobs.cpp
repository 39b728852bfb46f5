// The compression jobs behind `joule compress quantize`, `prune`, `distill`
// and `early-exit`: load, compress or train, evaluate, save with
// ModelMetadata. The command line only parses their flags and prints what
// these return.
#include <algorithm>
#include <cmath>
#include <filesystem>

#include "joule/run.hpp"
#include "joule/util.hpp"

namespace joule {
namespace {

// The data a saved model is compressed on. A model joule trained was fitted
// on PrepareData's normalisation, which PrepareData refits identically. A
// model imported from ONNX (its metadata has "onnx") was trained elsewhere:
// it gets exactly the normalisation its metadata records (none unless
// `joule import` was given one), so that calibration and fine-tuning see the
// inputs the model was exported for, as eval and bench-infer do.
PreparedData PrepareDataForModel(const ModelMetadata& meta, const std::string& data,
                                 const std::string& task, std::uint64_t seed) {
  if (!meta.extra.contains("onnx")) return PrepareData(data, meta.target, task, seed);
  RawData raw = LoadRawData(data, meta.target, task, seed);
  PreparedData out;
  out.train = std::move(raw.train);
  out.eval = std::move(raw.eval);
  out.eval_name = raw.eval_name;
  out.normalizer = meta.FeatureNormalizer(out.train.features());
  if (!out.normalizer.mean.empty()) {
    out.normalizer.Apply(out.train);
    out.normalizer.Apply(out.eval);
  }
  if (out.train.task == Task::kRegression) {
    throw Error("an imported ONNX model is compressed as a classifier; this data is regression");
  }
  return out;
}

bool IsCsv(const std::string& path) {
  return path.size() > 4 && path.substr(path.size() - 4) == ".csv";
}

// Fine-tunes a PrepareQat model on the training split; metered, so that the
// extra cost of QAT over PTQ is on record.
EnergyReport TrainQat(Sequential& qat, const PreparedData& data, const QuantizeJob& job) {
  std::unique_ptr<Loss> loss = MakeSoftmaxCrossEntropy();
  OptimizerConfig oc;
  oc.kind = "sgd";
  oc.lr = job.lr;
  std::unique_ptr<Optimizer> optimizer = MakeOptimizer(oc);
  FitOptions fo;
  fo.epochs = job.epochs;
  fo.seed = job.seed;
  fo.metering = &job.metering;
  fo.on_epoch = job.on_epoch;
  return Fit(qat, *loss, *optimizer, data, fo).energy;
}

// Bytes of the model's two files (what a deployment copies).
std::int64_t ModelBytes(const std::string& dir) {
  std::int64_t total = 0;
  for (const char* name : {"model.json", "model.safetensors"}) {
    std::error_code ec;
    const auto size = std::filesystem::file_size(std::filesystem::path(dir) / name, ec);
    if (!ec) total += static_cast<std::int64_t>(size);
  }
  return total;
}

// Accuracy of the early-exit model as it routes (its threshold set) on `set`.
double RoutedAccuracy(EarlyExitModel& model, const Dataset& set) {
  std::int64_t correct = 0;
  for (std::int64_t begin = 0; begin < set.rows(); begin += 1000) {
    std::vector<std::int64_t> rows;
    for (std::int64_t r = begin; r < std::min(begin + 1000, set.rows()); ++r) rows.push_back(r);
    Dataset batch = Subset(set, rows);
    const Tensor& scores = model.Predict(batch.x);
    for (std::size_t i = 0; i < rows.size(); ++i) {
      const float* z = scores.f32() + static_cast<std::int64_t>(i) * scores.dim(1);
      const std::int64_t best = std::max_element(z, z + scores.dim(1)) - z;
      correct += static_cast<float>(best) == batch.y.f32()[i] ? 1 : 0;
    }
  }
  return static_cast<double>(correct) / static_cast<double>(set.rows());
}

}  // namespace

PruneJobReport RunPruneJob(const PruneJob& job) {
  nlohmann::json source_json;
  Sequential model = LoadModel(job.model_dir, &source_json);
  ModelMetadata meta = ModelMetadata::FromJson(source_json);
  PruneJobOptions o = job.options;
  o.seed = meta.seed;
  o.metering = &job.metering;
  // The same split and normalisation as the training run: the same data,
  // task, target and seed.
  PreparedData data = PrepareDataForModel(meta, job.data, meta.task, o.seed);
  RunRecorder recorder(job.ledger, RunHeader("compress.prune", job.out_dir,
                                             {{"model", job.model_dir},
                                              {"data", job.data},
                                              {"sparsity", o.sparsity},
                                              {"structured", o.structured},
                                              {"scope", job.scope_name},
                                              {"schedule", o.schedule},
                                              {"epochs", o.epochs},
                                              {"lr", o.lr}}));
  PruneJobReport report;
  report.size_bytes_before = ModelBytes(job.model_dir);
  report.result = PruneAndFineTune(std::move(model), data, o);
  const PruneJobResult& r = report.result;
  // What was done and how well it went; sizes and the full figures are the
  // command's output, not worth a second copy in every header.
  meta.compression = {
      {"method", "prune"},
      {"source", job.model_dir},
      {"sparsity", o.sparsity},
      {"structured", o.structured},
      {"scope", job.scope_name},
      {"schedule", o.schedule},
      {"epochs", o.epochs},
      {"lr", o.lr},
      {"accuracy_before", r.accuracy_before},
      {"accuracy_pruned",
       std::isnan(r.accuracy_pruned) ? nlohmann::json() : nlohmann::json(r.accuracy_pruned)},
      {"accuracy_after", r.accuracy_after},
      {"weight_sparsity", r.weight_sparsity},
      {"unit_sparsity", r.unit_sparsity},
      {"architecture", r.architecture}};
  SaveModel(report.result.model, job.out_dir, meta.ToJson());
  report.size_bytes_after = ModelBytes(job.out_dir);
  recorder.Finish(RunStatus::kCompleted, "", r.fit.energy,
                  {{"accuracy_before", r.accuracy_before},
                   {"accuracy", r.accuracy_after},
                   {"weight_sparsity", r.weight_sparsity},
                   {"size_bytes", report.size_bytes_after}});
  return report;
}

EarlyExitJobResult RunEarlyExitJob(const EarlyExitJob& job) {
  RunRecorder recorder(job.ledger, RunHeader("compress.early-exit", job.out_dir,
                                             {{"data", job.data},
                                              {"model", job.model},
                                              {"epochs", job.epochs},
                                              {"lr", job.lr},
                                              {"max_drop", job.max_drop},
                                              {"validation", job.validation},
                                              {"seed", job.seed}}));
  PreparedData data = PrepareData(job.data, "", "classification", job.seed, job.validation);
  Rng rng(job.seed);
  EarlyExitModel model =
      MakeEarlyExitModel(job.model, data.train.x.shape(), data.train.num_classes, rng);
  std::vector<double> weights = job.exit_weights;
  if (weights.empty()) {
    weights.assign(model.num_exits(), 0.3);
    weights.back() = 1.0;
  }
  CompressTrainOptions options;
  options.epochs = job.epochs;
  options.optimizer.lr = job.lr;
  options.seed = job.seed;
  options.metering = &job.metering;
  options.on_epoch = job.on_epoch;
  EarlyExitJobResult r;
  r.trained = TrainEarlyExit(model, weights, data, options);

  // A given threshold skips the sweep: both tables then hold that one.
  const std::vector<double> thresholds =
      job.threshold >= 0 ? std::vector<double>{job.threshold} : DefaultThresholds();
  r.validation = SweepThresholds(model, data.validation, thresholds, job.max_drop);
  r.test = SweepThresholds(model, data.eval, thresholds, job.max_drop);
  model.set_threshold(r.validation.points[r.validation.chosen].threshold);
  r.threshold = model.threshold();

  // The routed model itself on the test set: the figures bench-infer will see.
  model.ResetCost();
  r.routed_accuracy = RoutedAccuracy(model, data.eval);
  r.routed_macs = model.MacsPerSample();

  ModelMetadata meta;
  meta.data = job.data;
  meta.model = job.model;
  meta.epochs = job.epochs;
  meta.seed = job.seed;
  meta.eval_name = data.eval_name;
  meta.SetNormalizer(data.normalizer);
  meta.extra = {{"exit_weights", weights}, {"max_drop_points", job.max_drop}};
  model.Save(job.out_dir, meta.ToJson());

  r.parameters = model.ParameterCount();
  r.plain_macs = model.FullMacsPerSample();
  r.worst_macs = model.MacsToExit(model.num_exits() - 1);
  recorder.Finish(RunStatus::kCompleted, "", r.trained.energy,
                  {{"accuracy", r.routed_accuracy},
                   {"threshold", r.threshold},
                   {"macs_per_sample", r.routed_macs},
                   {"plain_macs_per_sample", r.plain_macs}});
  return r;
}

QuantizeJobResult RunQuantizeJob(const QuantizeJob& job) {
  ValidateQuantizeOptions(job.options);
  if (job.qat && (job.epochs < 1 || !(job.lr > 0))) {
    throw Error("qat needs epochs >= 1 and lr > 0, got " + std::to_string(job.epochs) + " and " +
                std::to_string(job.lr));
  }
  if (IsCsv(job.data)) {
    throw Error("data = " + job.data +
                ": quantize supports image classification data (mnist or an IDX directory)");
  }
  RunRecorder recorder(job.ledger, RunHeader("compress.quantize", job.out_dir,
                                             {{"model", job.model_dir},
                                              {"data", job.data},
                                              {"qat", job.qat},
                                              {"calibration", job.options.calibration},
                                              {"samples", job.options.samples},
                                              {"epochs", job.epochs},
                                              {"lr", job.lr}}));
  nlohmann::json source_json;
  Sequential f32_model = LoadModel(job.model_dir, &source_json);
  PreparedData data = PrepareDataForModel(ModelMetadata::FromJson(source_json), job.data,
                                          "classification", job.seed);
  std::unique_ptr<Loss> ce = MakeSoftmaxCrossEntropy();
  QuantizeJobResult r;
  r.eval_name = data.eval_name;
  r.calibration_rows = std::min(job.options.samples, data.train.rows());
  r.f32_accuracy = Evaluate(f32_model, *ce, data.eval, data.target_scaler).accuracy;

  Sequential int8;
  if (job.qat) {
    Sequential qat = PrepareQat(f32_model, data.train, job.options);
    r.qat_energy = TrainQat(qat, data, job);
    int8 = ConvertQat(qat);
  } else {
    int8 = QuantizeModel(f32_model, data.train, job.options);
  }
  r.int8_accuracy = Evaluate(int8, *ce, data.eval, data.target_scaler).accuracy;
  r.drop_points = 100 * (r.f32_accuracy - r.int8_accuracy);

  const char* method = job.qat ? "int8-qat" : "int8-ptq";
  r.quantization = {{"method", method},
                    {"weights", "s8 symmetric per output channel"},
                    {"activations", "u8 asymmetric per tensor"},
                    {"calibration", job.options.calibration},
                    {"samples", job.options.samples},
                    {"source_model", job.model_dir},
                    {"f32_accuracy", r.f32_accuracy},
                    {"int8_accuracy", r.int8_accuracy}};
  if (job.options.calibration == "percentile")
    r.quantization["percentile"] = job.options.percentile;
  if (job.qat) {
    r.quantization["qat_epochs"] = job.epochs;
    r.quantization["qat_lr"] = job.lr;
  }
  ModelMetadata meta = ModelMetadata::FromJson(source_json);
  meta.compression = method;
  meta.extra["quantization"] = r.quantization;
  SaveModel(int8, job.out_dir, meta.ToJson());
  recorder.Finish(RunStatus::kCompleted, "", r.qat_energy,
                  {{"f32_accuracy", r.f32_accuracy},
                   {"accuracy", r.int8_accuracy},
                   {"drop_points", r.drop_points}});
  return r;
}

DistillJobResult RunDistillJob(const DistillJob& job) {
  // Rejects bad values before the data loads.
  DistillationLoss(job.distill.temperature, job.distill.alpha);
  RunRecorder recorder(job.ledger, RunHeader("compress.distill", job.out_dir,
                                             {{"teacher", job.teacher_dir},
                                              {"data", job.data},
                                              {"hidden", job.hidden},
                                              {"temperature", job.distill.temperature},
                                              {"alpha", job.distill.alpha},
                                              {"epochs", job.epochs},
                                              {"lr", job.lr},
                                              {"baseline", job.baseline}}));
  Sequential teacher = LoadModel(job.teacher_dir);
  PreparedData data = PrepareData(job.data, "", "classification", job.seed);
  std::unique_ptr<Loss> ce = MakeSoftmaxCrossEntropy();
  DistillJobResult r;
  r.eval_name = data.eval_name;
  r.teacher_eval = Evaluate(teacher, *ce, data.eval, data.target_scaler);

  CompressTrainOptions options;
  options.epochs = job.epochs;
  options.optimizer.lr = job.lr;
  options.seed = job.seed;
  options.metering = &job.metering;
  Rng rng(job.seed);
  Sequential student =
      MakeStudentMlp(data.train.x.shape(), job.hidden, data.train.num_classes, rng);
  // The baseline starts from the very same weights, so only the loss differs.
  Sequential alone = Sequential::FromArchitecture(student.Architecture());
  auto alone_tensors = alone.NamedTensors();
  auto student_tensors = student.NamedTensors();
  for (std::size_t i = 0; i < alone_tensors.size(); ++i) {
    alone_tensors[i].second->CopyFrom(*student_tensors[i].second);
  }
  auto progress = [&job](const char* what) -> std::function<void(const CompressEpochStats&)> {
    if (!job.on_epoch) return nullptr;
    return [&job, what](const CompressEpochStats& s) { job.on_epoch(what, s); };
  };
  options.on_epoch = progress("distill");
  r.distilled = TrainStudent(student, &teacher, job.distill, data, options);
  if (job.baseline) {
    options.on_epoch = progress("baseline");
    r.baseline = TrainStudent(alone, nullptr, job.distill, data, options);
  }

  ModelMetadata meta;
  meta.data = job.data;
  meta.model = "student-mlp";
  meta.epochs = job.epochs;
  meta.seed = job.seed;
  meta.eval_name = data.eval_name;
  meta.SetNormalizer(data.normalizer);
  std::string hidden;  // as the flag spells it: "64,32"
  for (std::int64_t w : job.hidden) {
    if (!hidden.empty()) hidden += ',';
    hidden += std::to_string(w);
  }
  meta.extra = {{"hidden", hidden},
                {"distilled_from", job.teacher_dir},
                {"temperature", job.distill.temperature},
                {"alpha", job.distill.alpha}};
  SaveModel(student, job.out_dir, meta.ToJson());
  r.teacher_parameters = teacher.ParameterCount();
  r.student_parameters = student.ParameterCount();
  const EnergyReport energy = r.baseline
                                  ? CombineEnergyReports(r.distilled.energy, r.baseline->energy)
                                  : r.distilled.energy;
  nlohmann::json metrics = {{"teacher_accuracy", r.teacher_eval.accuracy},
                            {"accuracy", r.distilled.history.back().eval.accuracy},
                            {"student_parameters", r.student_parameters}};
  if (r.baseline) metrics["baseline_accuracy"] = r.baseline->history.back().eval.accuracy;
  recorder.Finish(RunStatus::kCompleted, "", energy, metrics);
  return r;
}

}  // namespace joule
