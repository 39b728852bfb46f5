// Loading any model directory for inference, counting its multiply-
// accumulates, and the inference benchmark behind `joule bench-infer`.
#include "joule/compress/inference.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <optional>
#include <set>
#include <system_error>

#include "joule/compress/early_exit.hpp"
#include "joule/meter_session.hpp"

namespace joule {
namespace {

// Shape of one sample: x's shape with the batch dimension set to 1.
Shape SampleShape(const Shape& batch_shape) {
  JOULE_ASSERT(!batch_shape.empty());
  Shape s = batch_shape;
  s[0] = 1;
  return s;
}

class SequentialInference final : public InferenceModel {
 public:
  // owned may be empty; then `model` is borrowed.
  SequentialInference(Sequential owned, Sequential* borrowed, Shape sample_shape)
      : owned_(std::move(owned)),
        model_(borrowed != nullptr ? borrowed : &owned_),
        sample_shape_(std::move(sample_shape)) {}

  std::string kind() const override { return "sequential"; }

  const Tensor& Predict(const Tensor& x) override {
    if (sample_shape_.empty() || SampleShape(x.shape()) != sample_shape_) {
      sample_shape_ = SampleShape(x.shape());
      macs_ = -1;
    }
    if (macs_ < 0) macs_ = CountMacs(*model_, sample_shape_);
    return model_->Forward(x, /*training=*/false);
  }
  double MacsPerSample() const override { return macs_ < 0 ? 0 : macs_; }
  double FullMacsPerSample() const override { return MacsPerSample(); }
  std::int64_t ParameterCount() override {
    // Quantized layers keep their weights as buffers, not parameters: count
    // every "weight" and "bias" element so that int8 and f32 models compare.
    std::int64_t n = 0;
    for (const auto& [name, tensor] : model_->NamedTensors()) {
      const bool weight_or_bias = name.ends_with(".weight") || name.ends_with(".bias") ||
                                  name.ends_with(".gamma") || name.ends_with(".beta");
      if (weight_or_bias) n += tensor->numel();
    }
    return n;
  }

 private:
  Sequential owned_;
  Sequential* model_;
  Shape sample_shape_;
  double macs_ = -1;
};

std::string ModelFormat(const std::string& dir) {
  const std::string path = (std::filesystem::path(dir) / "model.json").string();
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(ReadFile(path));
  } catch (const nlohmann::json::exception& e) {  // parse_error, or out_of_range for 1e400
    throw Error(path + ": not valid JSON: " + e.what());
  }
  if (!doc.is_object() || !doc.contains("format") || !doc["format"].is_string()) {
    throw Error(path + ": missing \"format\"; expected \"joule-model\" or \"joule-early-exit\"");
  }
  return doc["format"].get<std::string>();
}

double Percentile(std::vector<double> values, double p) {
  JOULE_ASSERT(!values.empty());
  std::sort(values.begin(), values.end());
  // Nearest rank: the smallest value with at least p of the samples at or below it.
  auto rank = static_cast<std::size_t>(std::ceil(p * static_cast<double>(values.size())));
  return values[std::clamp<std::size_t>(rank, 1, values.size()) - 1];
}

// Rows [begin, begin + count) of data.x as one batch tensor.
Tensor Rows(const Dataset& data, std::int64_t begin, std::int64_t count) {
  Shape shape = data.x.shape();
  const std::int64_t row = data.x.numel() / shape[0];
  shape[0] = count;
  Tensor batch(shape);
  std::memcpy(batch.f32(), data.x.f32() + begin * row,
              static_cast<std::size_t>(count * row) * sizeof(float));
  return batch;
}

std::int64_t Argmax(const float* row, std::int64_t n) {
  return std::max_element(row, row + n) - row;
}

double Accuracy(InferenceModel& model, const Dataset& data, std::int64_t batch) {
  std::int64_t correct = 0;
  for (std::int64_t begin = 0; begin < data.rows(); begin += batch) {
    const std::int64_t count = std::min(batch, data.rows() - begin);
    const Tensor& scores = model.Predict(Rows(data, begin, count));
    if (scores.rank() != 2 || scores.dim(0) != count) {
      throw Error("model output " + ShapeString(scores.shape()) + " is not [" +
                  std::to_string(count) + ", classes]; bench-infer needs a classifier");
    }
    const std::int64_t classes = scores.dim(1);
    for (std::int64_t i = 0; i < count; ++i) {
      const auto label = static_cast<std::int64_t>(data.y.f32()[begin + i]);
      correct += Argmax(scores.f32() + i * classes, classes) == label ? 1 : 0;
    }
  }
  return static_cast<double>(correct) / static_cast<double>(data.rows());
}

}  // namespace

std::unique_ptr<InferenceModel> LoadInferenceModel(const std::string& dir) {
  const std::string format = ModelFormat(dir);
  if (format == "joule-early-exit") return LoadEarlyExitModel(dir);
  return std::make_unique<SequentialInference>(LoadModel(dir), nullptr, Shape{});
}

std::unique_ptr<InferenceModel> WrapSequential(Sequential& model, const Shape& sample_shape) {
  return std::make_unique<SequentialInference>(Sequential(), &model, SampleShape(sample_shape));
}

double CountMacs(Sequential& model, const Shape& sample_shape) {
  Tensor x(SampleShape(sample_shape));
  const Tensor* in = &x;
  double macs = 0;
  for (std::size_t i = 0; i < model.size(); ++i) {
    Layer& layer = model.layer(i);
    const Tensor& out = layer.Forward(*in, /*training=*/false);
    const Tensor* weight = nullptr;
    for (Parameter* p : layer.Parameters()) {
      if (p->name == "weight") weight = &p->value;
    }
    for (const auto& [name, tensor] : layer.Buffers()) {
      if (name == "weight") weight = tensor;
    }
    if (weight != nullptr && out.rank() >= 2 && out.dim(1) > 0) {
      macs += static_cast<double>(weight->numel()) * static_cast<double>(out.numel() / out.dim(1));
    }
    in = &out;
  }
  return macs;
}

std::int64_t DirectorySize(const std::string& dir) {
  std::error_code ec;
  std::int64_t total = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (entry.is_regular_file(ec)) total += static_cast<std::int64_t>(entry.file_size(ec));
  }
  if (ec) throw Error(dir + ": cannot list the model directory: " + ec.message());
  return total;
}

InferenceBenchResult BenchInference(InferenceModel& model, const Dataset& data,
                                    const InferenceBenchOptions& options) {
  if (data.task != Task::kClassification || data.rows() == 0) {
    throw Error("bench-infer needs a classification dataset with rows");
  }
  using Clock = std::chrono::steady_clock;
  auto seconds_since = [](Clock::time_point t) {
    return std::chrono::duration<double>(Clock::now() - t).count();
  };
  InferenceBenchResult r;
  r.rows = data.rows();
  r.parameters = model.ParameterCount();

  model.ResetCost();
  r.accuracy = Accuracy(model, data, 1000);
  r.macs_per_sample = model.MacsPerSample();
  r.full_macs_per_sample = model.FullMacsPerSample();

  // Batch 1: each call timed alone, after a warm-up that creates the primitives.
  const std::int64_t latency_n = std::min(options.latency_samples, data.rows());
  std::vector<Tensor> singles;
  for (std::int64_t i = 0; i < latency_n; ++i) singles.push_back(Rows(data, i, 1));
  for (std::int64_t i = 0; i < std::min<std::int64_t>(20, latency_n); ++i)
    model.Predict(singles[i]);
  std::vector<double> latencies_ms;
  for (const Tensor& x : singles) {
    auto t0 = Clock::now();
    model.Predict(x);
    latencies_ms.push_back(1e3 * seconds_since(t0));
  }
  if (!latencies_ms.empty()) {
    r.latency_p50_ms = Percentile(latencies_ms, 0.50);
    r.latency_p99_ms = Percentile(latencies_ms, 0.99);
  }

  // Throughput: real batches cycled (an early-exit model's cost depends on
  // the samples), gathered beforehand so only the model is timed.
  const std::int64_t batch = std::min(options.throughput_batch, data.rows());
  std::vector<Tensor> batches;
  for (std::int64_t b = 0; b + batch <= data.rows() && batches.size() < 40; b += batch) {
    batches.push_back(Rows(data, b, batch));
  }
  for (const Tensor& x : batches) model.Predict(x);  // warm-up
  std::optional<MeterSession> meter;
  if (options.metering != nullptr && options.metering->enabled) {
    MeteringOptions metering = *options.metering;
    metering.interval_s = 0.1;  // a throughput run lasts seconds
    meter.emplace(metering);
    meter->Start();
  }
  std::int64_t inferences = 0;
  auto t0 = Clock::now();
  double elapsed_s = 0;
  for (std::size_t i = 0; elapsed_s < options.throughput_seconds; ++i) {
    model.Predict(batches[i % batches.size()]);
    inferences += batch;
    elapsed_s = seconds_since(t0);
  }
  r.throughput_per_s = static_cast<double>(inferences) / elapsed_s;
  if (meter) {
    meter->Stop();
    r.energy = meter->Report();
    r.j_per_1000 = r.energy.energy_j / (static_cast<double>(inferences) / 1000.0);
  }
  return r;
}

}  // namespace joule
