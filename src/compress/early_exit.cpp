// Early-exit models: routing by softmax entropy, training on the weighted sum
// of the exits' losses, the threshold sweep and the model directory.
//
// Routing is exact, not an approximation of the plain network: in inference
// mode every layer here treats rows independently (BatchNorm uses its running
// statistics), so a sample that reaches the last exit gets the same scores as
// from the network without exits, whichever other samples shared its batch.
// The sweep relies on the same fact: it runs every exit on every row once and
// then replays the routing for each threshold without re-running the network.
#include "joule/compress/early_exit.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>
#include <map>
#include <numeric>
#include <system_error>

#include "compress/compress_fit.hpp"

namespace joule {
namespace {

constexpr const char* kFormat = "joule-early-exit";
constexpr int kVersion = 1;

void CheckThreshold(double threshold) {
  if (!(threshold >= 0)) {
    throw Error("early-exit threshold = " + std::to_string(threshold) +
                ": expected an entropy in nats >= 0 (0: every sample takes the whole network)");
  }
}

// dL/dx of the whole Sequential for dL/dy = dy (its layers' grads are set
// too). Sequential::Backward does not return dx, and the trunk needs it.
const Tensor& BackwardThrough(Sequential& model, const Tensor& dy) {
  const Tensor* d = &dy;
  for (std::size_t i = model.size(); i-- > 0;) d = &model.layer(i).Backward(*d);
  return *d;
}

// Copies rows `rows` of x (any rank, [B, ...]) into out [rows.size(), ...].
void GatherRows(const Tensor& x, const std::vector<std::int64_t>& rows, Tensor& out) {
  Shape shape = x.shape();
  const std::int64_t row_floats = x.numel() / shape[0];
  shape[0] = static_cast<std::int64_t>(rows.size());
  out.Resize(shape);
  for (std::size_t i = 0; i < rows.size(); ++i) {
    std::memcpy(out.f32() + static_cast<std::int64_t>(i) * row_floats,
                x.f32() + rows[i] * row_floats, static_cast<std::size_t>(row_floats) * 4);
  }
}

// A slice [begin, end) of `full`'s layers as a Sequential with the same weights.
Sequential Slice(Sequential& full, std::size_t begin, std::size_t end) {
  nlohmann::json layers = nlohmann::json::array();
  const nlohmann::json all = full.Architecture()["layers"];
  for (std::size_t i = begin; i < end; ++i) layers.push_back(all[i]);
  Sequential piece = Sequential::FromArchitecture({{"layers", layers}});
  std::map<std::string, Tensor*> source;
  for (auto& [name, tensor] : full.NamedTensors()) source[name] = tensor;
  for (auto& [name, tensor] : piece.NamedTensors()) {
    const std::size_t dot = name.find('.');
    const std::size_t local = std::stoul(name.substr(0, dot));
    tensor->CopyFrom(*source.at(std::to_string(local + begin) + name.substr(dot)));
  }
  return piece;
}

}  // namespace

void SoftmaxEntropy(const Tensor& logits, std::vector<double>& entropy) {
  const std::int64_t rows = logits.dim(0), classes = logits.dim(1);
  entropy.resize(static_cast<std::size_t>(rows));
  for (std::int64_t r = 0; r < rows; ++r) {
    const float* z = logits.f32() + r * classes;
    const double max = *std::max_element(z, z + classes);
    // H = log(sum e^(z - m)) - sum p (z - m): no log of a tiny p is taken.
    double sum = 0, weighted = 0;
    for (std::int64_t c = 0; c < classes; ++c) {
      const double e = std::exp(z[c] - max);
      sum += e;
      weighted += e * (z[c] - max);
    }
    entropy[static_cast<std::size_t>(r)] = std::max(0.0, std::log(sum) - weighted / sum);
  }
}

EarlyExitModel::EarlyExitModel(std::vector<Sequential> segments, std::vector<Sequential> exits,
                               Shape sample_shape, double threshold)
    : segments_(std::move(segments)),
      exits_(std::move(exits)),
      sample_shape_(std::move(sample_shape)),
      threshold_(threshold) {
  CheckThreshold(threshold);
  if (segments_.empty() || segments_.size() != exits_.size()) {
    throw Error("early-exit model: " + std::to_string(segments_.size()) + " segments and " +
                std::to_string(exits_.size()) +
                " exits; expected one exit after each segment, at least one of each");
  }
  if (sample_shape_.empty() || sample_shape_[0] != 1) {
    throw Error("early-exit model: sample shape " + ShapeString(sample_shape_) +
                " should be one sample's shape with a leading 1, e.g. [1, 1, 28, 28]");
  }
  // The pieces' shapes, found by running one zero sample through them.
  Shape shape = sample_shape_;
  double cumulative = 0;
  for (std::size_t i = 0; i < segments_.size(); ++i) {
    if (segments_[i].size() == 0 || exits_[i].size() == 0) {
      throw Error("early-exit model: segment or exit " + std::to_string(i) + " has no layers");
    }
    // Only segment 0's input gradient is never needed: every later piece
    // passes dL/dx back into the trunk.
    if (i > 0) segments_[i].layer(0).set_input_grad_needed(true);
    exits_[i].layer(0).set_input_grad_needed(true);
    const double segment_macs = CountMacs(segments_[i], shape);
    shape = segments_[i].Forward(Tensor(shape), false).shape();
    const double exit_macs = CountMacs(exits_[i], shape);
    const Tensor& out = exits_[i].Forward(Tensor(shape), false);
    if (out.rank() != 2 || out.dim(1) < 2) {
      throw Error("early-exit model: exit " + std::to_string(i) + " gives " +
                  ShapeString(out.shape()) + "; expected class scores [1, classes >= 2]");
    }
    cumulative += segment_macs + exit_macs;
    macs_to_exit_.push_back(cumulative);
    plain_macs_ += segment_macs + (i + 1 == segments_.size() ? exit_macs : 0.0);
  }
}

void EarlyExitModel::set_threshold(double threshold) {
  CheckThreshold(threshold);
  threshold_ = threshold;
}

double EarlyExitModel::MacsPerSample() const {
  if (routed_samples_ == 0) return macs_to_exit_.back();
  return routed_macs_ / static_cast<double>(routed_samples_);
}

void EarlyExitModel::ResetCost() {
  routed_macs_ = 0;
  routed_samples_ = 0;
}

std::int64_t EarlyExitModel::ParameterCount() {
  std::int64_t n = 0;
  for (Parameter* p : Parameters()) n += p->value.numel();
  return n;
}

std::vector<Parameter*> EarlyExitModel::Parameters() {
  std::vector<Parameter*> params;
  for (std::size_t i = 0; i < segments_.size(); ++i) {
    for (Parameter* p : segments_[i].Parameters()) params.push_back(p);
    for (Parameter* p : exits_[i].Parameters()) params.push_back(p);
  }
  return params;
}

const Tensor& EarlyExitModel::Predict(const Tensor& x) {
  const std::int64_t batch = x.dim(0);
  rows_.resize(static_cast<std::size_t>(batch));
  std::iota(rows_.begin(), rows_.end(), 0);
  routed_samples_ += batch;
  Tensor current = x;  // the rows still in the network (aliases, no copy)
  for (std::size_t i = 0; i < segments_.size(); ++i) {
    const Tensor& h = segments_[i].Forward(current, false);
    const Tensor& logits = exits_[i].Forward(h, false);
    const std::int64_t classes = logits.dim(1);
    if (i == 0) output_.Resize({batch, classes});
    const double stage_macs = macs_to_exit_[i] - (i > 0 ? macs_to_exit_[i - 1] : 0.0);
    routed_macs_ += stage_macs * static_cast<double>(rows_.size());
    const bool last = i + 1 == segments_.size();
    if (!last) SoftmaxEntropy(logits, entropy_);
    keep_.clear();
    for (std::size_t r = 0; r < rows_.size(); ++r) {
      if (!last && !(entropy_[r] < threshold_)) {
        keep_.push_back(static_cast<std::int64_t>(r));
        continue;
      }
      std::memcpy(output_.f32() + rows_[r] * classes,
                  logits.f32() + static_cast<std::int64_t>(r) * classes,
                  static_cast<std::size_t>(classes) * sizeof(float));
    }
    if (keep_.empty()) break;
    if (keep_.size() == rows_.size()) {
      current = h;  // nobody left: continue on the segment's own output
      continue;
    }
    // Alternate buffers: `current` may alias the other one.
    Tensor& next = gathered_[i % 2];
    GatherRows(h, keep_, next);
    for (std::size_t k = 0; k < keep_.size(); ++k) {
      rows_[k] = rows_[static_cast<std::size_t>(keep_[k])];
    }
    rows_.resize(keep_.size());
    current = next;
  }
  return output_;
}

const std::vector<Tensor>& EarlyExitModel::ForwardAll(const Tensor& x, bool training) {
  exit_logits_.resize(segments_.size());
  const Tensor* h = &x;
  for (std::size_t i = 0; i < segments_.size(); ++i) {
    h = &segments_[i].Forward(*h, training);
    // Aliases the exit's output buffer, which only the next Forward changes.
    exit_logits_[i] = exits_[i].Forward(*h, training);
  }
  return exit_logits_;
}

void EarlyExitModel::BackwardAll(const std::vector<Tensor>& exit_grads) {
  JOULE_ASSERT(exit_grads.size() == segments_.size());
  // dL/d(output of segment i) = exit i's dx + segment i+1's dx.
  const Tensor* d = &BackwardThrough(exits_.back(), exit_grads.back());
  for (std::size_t i = segments_.size(); i-- > 0;) {
    if (i == 0) {
      segments_[0].Backward(*d);
      break;
    }
    const Tensor& from_trunk = BackwardThrough(segments_[i], *d);
    Tensor& sum = grad_sum_[i % 2];  // *d may alias the other one
    sum.Resize(from_trunk.shape());
    sum.CopyFrom(from_trunk);
    const Tensor& from_exit = BackwardThrough(exits_[i - 1], exit_grads[i - 1]);
    JOULE_ASSERT(from_exit.shape() == sum.shape());
    float* g = sum.f32();
    for (std::int64_t k = 0; k < sum.numel(); ++k) g[k] += from_exit.f32()[k];
    d = &sum;
  }
}

void EarlyExitModel::Save(const std::string& dir, const nlohmann::json& metadata) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec || !std::filesystem::is_directory(dir)) {
    throw Error(dir + ": cannot create the model directory: " +
                (ec ? ec.message() : std::string("a file of that name exists")));
  }
  std::vector<std::pair<std::string, const Tensor*>> tensors;
  nlohmann::json segments = nlohmann::json::array(), exits = nlohmann::json::array();
  for (std::size_t i = 0; i < segments_.size(); ++i) {
    const std::string n = std::to_string(i);
    for (const auto& [name, t] : segments_[i].NamedTensors()) {
      tensors.emplace_back("segment" + n + "." + name, t);
    }
    for (const auto& [name, t] : exits_[i].NamedTensors()) {
      tensors.emplace_back("exit" + n + "." + name, t);
    }
    segments.push_back(segments_[i].Architecture());
    exits.push_back(exits_[i].Architecture());
  }
  // Weights first, model.json last: a complete model.json means complete weights.
  WriteSafetensors((std::filesystem::path(dir) / "model.safetensors").string(), tensors,
                   metadata.is_object() ? metadata : nlohmann::json());
  nlohmann::ordered_json doc = nlohmann::ordered_json::object();
  doc["format"] = kFormat;
  doc["version"] = kVersion;
  doc["sample_shape"] = sample_shape_;
  doc["segments"] = segments;
  doc["exits"] = exits;
  doc["threshold"] = threshold_;
  doc["metadata"] = metadata.is_object() ? metadata : nlohmann::json::object();
  WriteFileAtomic((std::filesystem::path(dir) / "model.json").string(), doc.dump(2) + "\n");
}

namespace {

nlohmann::json ReadEarlyExitJson(const std::string& path) {
  nlohmann::json doc = ReadJouleJson(path, kFormat, kVersion, "an early-exit model",
                                     "write one with 'joule compress early-exit --out DIR'");
  auto need = [&](const char* key, bool ok, const char* expected) {
    if (!doc.contains(key) || !ok) {
      throw Error(path + ": \"" + key + "\" is " +
                  (doc.contains(key) ? doc[key].dump() : "missing") + "; expected " + expected +
                  " (the file is damaged or incomplete)");
    }
  };
  need("segments", doc.contains("segments") && doc["segments"].is_array(),
       "an array of architectures");
  need("exits", doc.contains("exits") && doc["exits"].is_array(), "an array of architectures");
  need("threshold", doc.contains("threshold") && doc["threshold"].is_number(),
       "an entropy in nats");
  // Loading runs one sample of this shape through the model, so its size is
  // bounded (2^24 values: 16 million, far beyond any image joule trains on)
  // lest a damaged file ask for terabytes of activations.
  constexpr std::int64_t kMaxSampleElements = std::int64_t{1} << 24;
  bool shape_ok = doc.contains("sample_shape") && doc["sample_shape"].is_array();
  std::int64_t sample_elements = 1;
  for (const auto& d : shape_ok ? doc["sample_shape"] : nlohmann::json::array()) {
    shape_ok = shape_ok && d.is_number_integer() && d.get<std::int64_t>() > 0 &&
               d.get<std::int64_t>() <= kMaxSampleElements / sample_elements;
    if (shape_ok) sample_elements *= d.get<std::int64_t>();
  }
  need("sample_shape", shape_ok, "one sample's shape of at most 2^24 values, e.g. [1, 1, 28, 28]");
  return doc;
}

// Copies the stored tensors "<prefix><name>" into `model`, erasing them from `stored`.
void TakeTensors(Sequential& model, const std::string& prefix,
                 std::map<std::string, Tensor>& stored, const std::string& weights_path) {
  for (auto& [name, tensor] : model.NamedTensors()) {
    auto it = stored.find(prefix + name);
    if (it == stored.end()) {
      throw Error(weights_path + ": tensor '" + prefix + name +
                  "' is missing; model.json's architecture needs it");
    }
    if (it->second.shape() != tensor->shape() || it->second.dtype() != tensor->dtype()) {
      throw Error(weights_path + ": tensor '" + prefix + name + "' is " +
                  DTypeName(it->second.dtype()) + " " + ShapeString(it->second.shape()) +
                  " but model.json's architecture needs " + DTypeName(tensor->dtype()) + " " +
                  ShapeString(tensor->shape()));
    }
    tensor->CopyFrom(it->second);
    stored.erase(it);
  }
}

}  // namespace

std::unique_ptr<EarlyExitModel> EarlyExitModel::Load(const std::string& dir,
                                                     nlohmann::json* metadata) {
  const std::string json_path = (std::filesystem::path(dir) / "model.json").string();
  const std::string weights_path = (std::filesystem::path(dir) / "model.safetensors").string();
  nlohmann::json doc = ReadEarlyExitJson(json_path);
  // The weights first: their file bounds what each piece may declare (see LoadModel).
  std::map<std::string, Tensor> stored;
  for (auto& [name, tensor] : ReadSafetensors(weights_path))
    stored.emplace(name, std::move(tensor));
  const double max_weights = MaxDeclaredWeights(weights_path);
  std::vector<Sequential> segments, exits;
  try {
    for (const auto& a : doc["segments"])
      segments.push_back(Sequential::FromArchitecture(a, max_weights));
    for (const auto& a : doc["exits"])
      exits.push_back(Sequential::FromArchitecture(a, max_weights));
  } catch (const Error& e) {
    throw Error(json_path + ": " + e.what());
  }
  for (std::size_t i = 0; i < segments.size(); ++i) {
    TakeTensors(segments[i], "segment" + std::to_string(i) + ".", stored, weights_path);
  }
  for (std::size_t i = 0; i < exits.size(); ++i) {
    TakeTensors(exits[i], "exit" + std::to_string(i) + ".", stored, weights_path);
  }
  if (!stored.empty()) {
    throw Error(weights_path + ": tensor '" + stored.begin()->first +
                "' is not part of model.json's architecture; the two files do not belong together");
  }
  std::unique_ptr<EarlyExitModel> model;
  try {
    model = std::make_unique<EarlyExitModel>(std::move(segments), std::move(exits),
                                             doc["sample_shape"].get<Shape>(),
                                             doc["threshold"].get<double>());
  } catch (const Error& e) {
    throw Error(json_path + ": " + e.what());
  }
  if (metadata != nullptr) *metadata = doc.value("metadata", nlohmann::json::object());
  return model;
}

std::unique_ptr<InferenceModel> LoadEarlyExitModel(const std::string& dir) {
  return EarlyExitModel::Load(dir);
}

EarlyExitModel MakeEarlyExitModel(const std::string& name, const Shape& input_shape,
                                  std::int64_t classes, Rng& rng) {
  Sequential full = MakeModel(name, input_shape, classes, rng);
  Shape sample = input_shape;
  sample[0] = 1;
  std::vector<Sequential> segments, exits;
  if (name == "cnn") {
    // The cut points follow MakeModel's layout: conv-BN-ReLU-pool twice, then
    // flatten-fc-ReLU, then the last fc.
    JOULE_ASSERT(full.size() == 12);
    const std::int64_t h = input_shape[2], w = input_shape[3];
    segments.push_back(Slice(full, 0, 4));
    segments.push_back(Slice(full, 4, 8));
    segments.push_back(Slice(full, 8, 11));
    // Exit 0 sees 16 x h/2 x w/2 features, too many for one cheap linear
    // layer: a pool halves each side first, and a small hidden layer buys
    // the accuracy that lets most samples leave here.
    Sequential exit0;
    exit0.Add(MakeMaxPool2d(2, 2));
    exit0.Add(MakeFlatten());
    exit0.Add(MakeLinear(16 * (h / 4) * (w / 4), 64, rng));
    exit0.Add(MakeReLU());
    exit0.Add(MakeLinear(64, classes, rng));
    Sequential exit1;
    exit1.Add(MakeFlatten());
    exit1.Add(MakeLinear(32 * (h / 4) * (w / 4), classes, rng));
    exits.push_back(std::move(exit0));
    exits.push_back(std::move(exit1));
    exits.push_back(Slice(full, 11, 12));
  } else if (name == "mlp") {
    JOULE_ASSERT(full.size() == 5);
    segments.push_back(Slice(full, 0, 2));
    segments.push_back(Slice(full, 2, 4));
    Sequential exit0;
    exit0.Add(MakeLinear(256, classes, rng));
    exits.push_back(std::move(exit0));
    exits.push_back(Slice(full, 4, 5));
  } else {
    throw Error("early-exit model '" + name + "': expected cnn or mlp");
  }
  return EarlyExitModel(std::move(segments), std::move(exits), sample, /*threshold=*/0);
}

CompressTrainResult TrainEarlyExit(EarlyExitModel& model, const std::vector<double>& exit_weights,
                                   const PreparedData& data, const CompressTrainOptions& options) {
  if (exit_weights.size() != model.num_exits()) {
    throw Error("exit weights: " + std::to_string(exit_weights.size()) + " given for " +
                std::to_string(model.num_exits()) + " exits; give one per exit (e.g. " +
                (model.num_exits() == 3 ? "0.3,0.3,1" : "0.3,1") + ")");
  }
  double total = 0;
  for (double w : exit_weights) {
    if (!(std::isfinite(w) && w >= 0)) {
      throw Error("exit weight " + std::to_string(w) + ": expected a finite weight >= 0");
    }
    total += w;
  }
  if (total <= 0) throw Error("exit weights: all 0; at least one exit must be trained");
  std::unique_ptr<Loss> ce = MakeSoftmaxCrossEntropy();
  std::vector<Tensor> grads(model.num_exits());
  auto step = [&](const Tensor& x, const Tensor& y) {
    const std::vector<Tensor>& logits = model.ForwardAll(x, /*training=*/true);
    FitStepResult f;
    for (std::size_t i = 0; i < logits.size(); ++i) {
      f.loss += exit_weights[i] * ce->Compute(logits[i], y, grads[i]);
      float* g = grads[i].f32();
      for (std::int64_t k = 0; k < grads[i].numel(); ++k)
        g[k] *= static_cast<float>(exit_weights[i]);
    }
    f.correct = CountCorrect(logits.back(), y);
    model.BackwardAll(grads);
    return f;
  };
  auto eval = [&](const Dataset& set) {
    // The last exit's figures: what the model gives at threshold 0.
    ThresholdSweep s = SweepThresholds(model, set, {0.0}, 0.0);
    EvalResult r;
    r.accuracy = s.final_exit_accuracy;
    r.rows = set.rows();
    return r;
  };
  return compress_internal::FitCompressed(model.Parameters(), data, options, step, eval);
}

std::vector<double> DefaultThresholds() {
  return {0.0, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.15,
          0.2, 0.3,   0.4,   0.5,   0.75, 1.0,  1.5,  2.5};
}

namespace {

// Every exit's verdict on every row: entropy and whether its argmax is right.
struct ExitVerdicts {
  std::vector<std::vector<double>> entropy;  // [exit][row]
  std::vector<std::vector<bool>> correct;    // [exit][row]
};

ExitVerdicts JudgeEveryExit(EarlyExitModel& model, const Dataset& data) {
  ExitVerdicts v;
  v.entropy.resize(model.num_exits());
  v.correct.resize(model.num_exits());
  constexpr std::int64_t kBatch = 1000;
  std::vector<std::int64_t> rows;
  std::vector<double> entropy;
  for (std::int64_t begin = 0; begin < data.rows(); begin += kBatch) {
    rows.resize(static_cast<std::size_t>(std::min(kBatch, data.rows() - begin)));
    std::iota(rows.begin(), rows.end(), begin);
    Dataset batch = Subset(data, rows);
    const std::vector<Tensor>& logits = model.ForwardAll(batch.x, /*training=*/false);
    for (std::size_t e = 0; e < logits.size(); ++e) {
      SoftmaxEntropy(logits[e], entropy);
      v.entropy[e].insert(v.entropy[e].end(), entropy.begin(), entropy.end());
      const std::int64_t classes = logits[e].dim(1);
      for (std::size_t r = 0; r < rows.size(); ++r) {
        const float* z = logits[e].f32() + static_cast<std::int64_t>(r) * classes;
        const std::int64_t best = std::max_element(z, z + classes) - z;
        v.correct[e].push_back(static_cast<float>(best) == batch.y.f32()[r]);
      }
    }
  }
  return v;
}

// Replays Predict's routing at `threshold` over the verdicts.
ThresholdPoint Route(const EarlyExitModel& model, const ExitVerdicts& v, double threshold) {
  const std::size_t exits = model.num_exits(), rows = v.entropy[0].size();
  ThresholdPoint p;
  p.threshold = threshold;
  p.exit_fraction.assign(exits, 0.0);
  double macs = 0;
  std::int64_t correct = 0;
  for (std::size_t r = 0; r < rows; ++r) {
    std::size_t e = 0;
    while (e + 1 < exits && !(v.entropy[e][r] < threshold)) ++e;
    p.exit_fraction[e] += 1;
    macs += model.MacsToExit(e);
    correct += v.correct[e][r] ? 1 : 0;
  }
  const auto n = static_cast<double>(rows);
  for (double& f : p.exit_fraction) f /= n;
  p.accuracy = static_cast<double>(correct) / n;
  p.macs_per_sample = macs / n;
  p.cost_vs_full = p.macs_per_sample / model.FullMacsPerSample();
  return p;
}

}  // namespace

ThresholdSweep SweepThresholds(EarlyExitModel& model, const Dataset& data,
                               const std::vector<double>& thresholds, double max_drop_points) {
  if (data.rows() == 0) throw Error("threshold sweep: the dataset has no rows");
  if (thresholds.empty()) throw Error("threshold sweep: no thresholds given");
  if (!(max_drop_points >= 0)) {
    throw Error("--max-drop " + std::to_string(max_drop_points) +
                ": expected accuracy points >= 0 (e.g. 0.5)");
  }
  for (double t : thresholds) CheckThreshold(t);
  const ExitVerdicts verdicts = JudgeEveryExit(model, data);
  ThresholdSweep sweep;
  sweep.final_exit_accuracy = Route(model, verdicts, 0.0).accuracy;
  const double floor = sweep.final_exit_accuracy - max_drop_points / 100.0;
  bool found = false;
  for (double t : thresholds) {
    sweep.points.push_back(Route(model, verdicts, t));
    const ThresholdPoint& p = sweep.points.back();
    // 1e-12: threshold 0 reproduces the final exit's accuracy exactly and must qualify.
    const bool qualifies = p.accuracy >= floor - 1e-12;
    if (qualifies && (!found || p.macs_per_sample < sweep.points[sweep.chosen].macs_per_sample)) {
      sweep.chosen = sweep.points.size() - 1;
      found = true;
    }
  }
  // Only when threshold 0 was not among those given and none qualified.
  if (!found) {
    for (std::size_t i = 0; i < sweep.points.size(); ++i) {
      if (sweep.points[i].accuracy > sweep.points[sweep.chosen].accuracy) sweep.chosen = i;
    }
  }
  return sweep;
}

}  // namespace joule
