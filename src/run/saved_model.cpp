// A saved model put to work: its evaluation data prepared the way it was
// trained (ModelMetadata's standardisation), evaluated (`joule eval`) or
// benchmarked for inference (`joule bench-infer`).
#include <algorithm>

#include "joule/run.hpp"
#include "joule/util.hpp"

namespace joule {

Dataset LoadDataForModel(const ModelMetadata& meta, const std::string& data,
                         const std::string& target_override, TargetScaler* scaler) {
  const std::string target = target_override.empty() ? meta.target : target_override;
  // CSV models carry their feature and target standardisation; the whole
  // file is evaluated through the same transforms the model was trained with.
  Dataset d;
  if (data.size() > 4 && data.substr(data.size() - 4) == ".csv") {
    d = LoadCsv(data, target,
                meta.task == "regression" ? Task::kRegression : Task::kClassification);
    if (meta.target_scaler) {
      *scaler = *meta.target_scaler;
      scaler->Apply(d);
    }
  } else {
    d = data == "mnist" ? LoadMnist(false) : LoadIdxDir(data, false);
  }
  Normalizer n;
  try {
    n = meta.FeatureNormalizer(d.features());
  } catch (const Error& e) {
    throw Error(data + ": " + e.what());
  }
  if (!n.mean.empty()) n.Apply(d);
  return d;
}

SavedModelEval EvaluateSavedModel(const std::string& dir, const std::string& data,
                                  const std::string& target) {
  nlohmann::json json;
  Sequential model = LoadModel(dir, &json);
  const ModelMetadata meta = ModelMetadata::FromJson(json);
  TargetScaler scaler;
  Dataset d = LoadDataForModel(meta, data, target, &scaler);
  std::unique_ptr<Loss> loss = MakeLoss(meta.loss);
  SavedModelEval out;
  out.task = d.task;
  out.eval = Evaluate(model, *loss, d, scaler);
  return out;
}

Tensor SavedModelOutputs(const std::string& dir, const std::string& data, const std::string& target,
                         std::int64_t rows) {
  nlohmann::json json;
  Sequential model = LoadModel(dir, &json);
  const ModelMetadata meta = ModelMetadata::FromJson(json);
  TargetScaler scaler;
  Dataset d = LoadDataForModel(meta, data, target, &scaler);
  const std::int64_t n = rows > 0 ? std::min(rows, d.rows()) : d.rows();
  Tensor out;
  constexpr std::int64_t kBatch = 1000;
  for (std::int64_t begin = 0; begin < n; begin += kBatch) {
    std::vector<std::int64_t> idx;
    for (std::int64_t r = begin; r < std::min(n, begin + kBatch); ++r) idx.push_back(r);
    const Dataset batch = Subset(d, idx);
    const Tensor& y = model.Forward(batch.x, false);
    if (y.dtype() != DType::kF32 || y.rank() != 2) {
      throw Error(dir + ": the model's output is " + DTypeName(y.dtype()) + " " +
                  ShapeString(y.shape()) + ", expected f32 [rows, outputs]");
    }
    if (out.empty()) out = Tensor({n, y.dim(1)});
    std::copy(y.f32(), y.f32() + y.numel(), out.f32() + begin * y.dim(1));
  }
  return out;
}

void WriteNpy(const std::string& path, const Tensor& t) {
  JOULE_ASSERT(t.dtype() == DType::kF32);
  std::string shape;
  for (std::int64_t d : t.shape()) shape += std::to_string(d) + ", ";
  if (t.rank() > 1) shape.resize(shape.size() - 2);  // "(3, 4)" but "(3,)"
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + shape + "), }";
  // Magic, version 1.0, header length; the header is padded with spaces to
  // a multiple of 64 bytes (with its newline) so that the data is aligned.
  const std::size_t prefix = 10;
  while ((prefix + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  std::string bytes = "\x93NUMPY";
  bytes += '\x01';
  bytes += '\x00';
  bytes += static_cast<char>(header.size() & 0xff);
  bytes += static_cast<char>(header.size() >> 8);
  bytes += header;
  bytes.append(static_cast<const char*>(t.raw()), t.nbytes());
  WriteFileAtomic(path, bytes);
}

SavedModelBench BenchSavedModel(const std::string& dir, const std::string& data,
                                const InferenceBenchOptions& options,
                                const std::function<void(std::int64_t rows)>& on_loaded,
                                const LedgerTarget& ledger) {
  std::unique_ptr<InferenceModel> model = LoadInferenceModel(dir);
  // Recorded from here: a model that cannot be loaded is bad input, not a run.
  RunRecorder recorder(ledger, RunHeader("bench-infer", dir,
                                         {{"model", dir},
                                          {"data", data},
                                          {"latency_samples", options.latency_samples},
                                          {"throughput_batch", options.throughput_batch},
                                          {"throughput_seconds", options.throughput_seconds}}));
  SavedModelBench out;
  out.kind = model->kind();
  TargetScaler scaler;
  Dataset d = LoadDataForModel(ReadModelMetadata(dir), data, "", &scaler);
  if (d.task != Task::kClassification) {
    throw Error(dir + ": bench-infer measures classifiers; this model is a regressor");
  }
  if (on_loaded) on_loaded(d.rows());
  // The throughput run's samples go to the ledger (power over time).
  InferenceBenchOptions metered = options;
  MeteringOptions metering;
  if (options.metering != nullptr) {
    metering = *options.metering;
    metering.on_sample = recorder.SampleCallback();
    metered.metering = &metering;
  }
  out.bench = BenchInference(*model, d, metered);
  out.bench.size_bytes = DirectorySize(dir);
  recorder.Finish(RunStatus::kCompleted, "", out.bench.energy,
                  {{"accuracy", out.bench.accuracy},
                   {"latency_p50_ms", out.bench.latency_p50_ms},
                   {"latency_p99_ms", out.bench.latency_p99_ms},
                   {"throughput_per_s", out.bench.throughput_per_s},
                   {"j_per_1000", out.bench.j_per_1000},
                   {"size_bytes", out.bench.size_bytes}});
  return out;
}

}  // namespace joule
