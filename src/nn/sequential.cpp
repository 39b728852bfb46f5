#include <algorithm>
#include <cstdio>
#include <limits>

#include "joule/nn.hpp"
#include "nn/layers_internal.hpp"

namespace joule {

Precision ParsePrecision(const std::string& name) {
  if (name == "f32") return Precision::kF32;
  if (name == "bf16") return Precision::kBF16;
  throw Error("unknown precision '" + name + "': expected f32 or bf16");
}

const char* PrecisionName(Precision p) { return p == Precision::kBF16 ? "bf16" : "f32"; }

void Sequential::Add(std::unique_ptr<Layer> layer) {
  JOULE_ASSERT(layer != nullptr);
  // Only the first layer's input gradient is never used: there is nothing
  // below it to pass it to.
  layer->set_input_grad_needed(!layers_.empty());
  layers_.push_back(std::move(layer));
}

const Tensor& Sequential::Forward(const Tensor& x, bool training) {
  JOULE_ASSERT(!layers_.empty());
  const Tensor* h = &x;
  for (auto& layer : layers_) h = &layer->Forward(*h, training);
  return *h;
}

void Sequential::Backward(const Tensor& dy) {
  const Tensor* g = &dy;
  for (auto it = layers_.rbegin(); it != layers_.rend(); ++it) {
    g = &(*it)->Backward(*g);
    if (!(*it)->input_grad_needed()) break;
  }
}

std::vector<Parameter*> Sequential::Parameters() {
  std::vector<Parameter*> all;
  for (auto& layer : layers_) {
    auto p = layer->Parameters();
    all.insert(all.end(), p.begin(), p.end());
  }
  return all;
}

std::vector<std::pair<std::string, Tensor*>> Sequential::NamedTensors() {
  std::vector<std::pair<std::string, Tensor*>> named;
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    std::string prefix = std::to_string(i) + ".";
    for (Parameter* p : layers_[i]->Parameters()) named.emplace_back(prefix + p->name, &p->value);
    for (auto& [name, t] : layers_[i]->Buffers()) named.emplace_back(prefix + name, t);
  }
  return named;
}

void Sequential::SetPrecision(Precision p) {
  for (auto& layer : layers_) layer->SetPrecision(p);
}

std::int64_t ForwardFlops(Sequential& model, const Shape& input_shape) {
  if (input_shape.empty()) throw Error("ForwardFlops: the input shape is empty");
  Shape one = input_shape;
  one[0] = 1;
  std::int64_t values = 1;
  for (std::size_t i = 1; i < one.size(); ++i) values *= one[i];
  Tensor x = Tensor::FromVector(one, std::vector<float>(static_cast<std::size_t>(values), 0.0f));
  std::int64_t flops = 0;
  const Tensor* in = &x;
  for (std::size_t i = 0; i < model.size(); ++i) {
    Layer& layer = model.layer(i);
    const Tensor& out = layer.Forward(*in, /*training=*/false);
    const std::string type = layer.type();
    if (type == "Linear" || type == "Conv2d") {
      nlohmann::json c = layer.config();
      // A Linear's output value is `in` multiply-adds; a Conv2d's is
      // in_channels x kernel x kernel.
      std::int64_t per_output = type == "Linear" ? c.at("in").get<std::int64_t>()
                                                 : c.at("in_channels").get<std::int64_t>() *
                                                       c.at("kernel").get<std::int64_t>() *
                                                       c.at("kernel").get<std::int64_t>();
      flops += 2 * out.numel() * per_output;
    }
    in = &out;
  }
  return flops;
}

std::int64_t Sequential::ParameterCount() {
  std::int64_t n = 0;
  for (Parameter* p : Parameters()) n += p->value.numel();
  return n;
}

nlohmann::json Sequential::Architecture() const {
  nlohmann::json layers = nlohmann::json::array();
  for (const auto& layer : layers_) {
    layers.push_back({{"type", layer->type()}, {"config", layer->config()}});
  }
  return {{"layers", layers}};
}

namespace {

// A weight count for messages: "1.2e+18" is clearer than 19 digits.
std::string FormatCount(double n) {
  char text[32];
  std::snprintf(text, sizeof text, "%.6g", n);
  return text;
}

}  // namespace

Sequential Sequential::FromArchitecture(const nlohmann::json& architecture) {
  return FromArchitecture(architecture, std::numeric_limits<double>::infinity());
}

Sequential Sequential::FromArchitecture(const nlohmann::json& architecture, double max_weights) {
  if (!architecture.is_object() || !architecture.contains("layers") ||
      !architecture["layers"].is_array() || architecture["layers"].empty()) {
    throw Error("model architecture must be an object with a non-empty \"layers\" array");
  }
  Sequential model;
  std::size_t index = 0;
  double declared = 0;
  for (const auto& entry : architecture["layers"]) {
    if (!entry.is_object() || !entry.contains("type") || !entry["type"].is_string()) {
      throw Error("model architecture: layer " + std::to_string(index) +
                  " needs a string \"type\"");
    }
    const nlohmann::json config = entry.value("config", nlohmann::json::object());
    declared += nn_internal::DeclaredWeights(entry["type"].get<std::string>(), config);
    if (declared > max_weights) {
      throw Error("model architecture: layers 0-" + std::to_string(index) + " declare " +
                  FormatCount(declared) + " weights, more than the weights file can hold (" +
                  FormatCount(max_weights) +
                  "); the architecture and the weights do not belong together");
    }
    try {
      model.Add(MakeLayer(entry["type"].get<std::string>(), config));
    } catch (const nlohmann::json::exception& e) {
      throw Error("model architecture: layer " + std::to_string(index) + " (" +
                  entry["type"].get<std::string>() + "): bad config: " + e.what());
    }
    ++index;
  }
  return model;
}

}  // namespace joule
