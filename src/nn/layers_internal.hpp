// Internals shared by the layer files and the registry: config factories
// (the inverse of Layer::config(), used by MakeLayer), weight initialisation
// and config-reading helpers.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "joule/nn.hpp"

namespace joule {

// Factories from config(). Each throws Error naming the layer type and the
// offending key when a key is missing, has the wrong type, is out of range,
// or is not one the layer knows. Weights are freshly initialised (from a
// fixed seed); a model loader overwrites them.
std::unique_ptr<Layer> LinearFromConfig(const nlohmann::json& config);  // src/nn/linear.cpp
std::unique_ptr<Layer> Conv2dFromConfig(const nlohmann::json& config);
std::unique_ptr<Layer> MaxPool2dFromConfig(const nlohmann::json& config);
std::unique_ptr<Layer> AvgPool2dFromConfig(const nlohmann::json& config);
std::unique_ptr<Layer> ReLUFromConfig(const nlohmann::json& config);
std::unique_ptr<Layer> GELUFromConfig(const nlohmann::json& config);
std::unique_ptr<Layer> TanhFromConfig(const nlohmann::json& config);
std::unique_ptr<Layer> SigmoidFromConfig(const nlohmann::json& config);
std::unique_ptr<Layer> DropoutFromConfig(const nlohmann::json& config);
std::unique_ptr<Layer> BatchNorm1dFromConfig(const nlohmann::json& config);
std::unique_ptr<Layer> BatchNorm2dFromConfig(const nlohmann::json& config);
std::unique_ptr<Layer> FlattenFromConfig(const nlohmann::json& config);
std::unique_ptr<Layer> SoftmaxFromConfig(const nlohmann::json& config);        // src/nn/softmax.cpp
std::unique_ptr<Layer> QuantizeInputFromConfig(const nlohmann::json& config);  // quantized_layers
std::unique_ptr<Layer> QuantizedLinearFromConfig(const nlohmann::json& config);
std::unique_ptr<Layer> FakeQuantizeFromConfig(const nlohmann::json& config);
std::unique_ptr<Layer> QatLinearFromConfig(const nlohmann::json& config);

// Seed of the generator the *FromConfig factories initialise weights from.
// Any fixed value would do: the weights are replaced when a model loads.
inline constexpr std::uint64_t kConfigInitSeed = 0;

}  // namespace joule

namespace joule::nn_internal {

// Fills `w` (f32) with U(-bound, bound), bound = sqrt(6 / fan_in): He/Kaiming
// uniform for ReLU (PyTorch's kaiming_uniform_ with nonlinearity='relu').
// Draws w.numel() values from `rng` in storage order.
void InitKaimingUniform(Tensor& w, std::int64_t fan_in, Rng& rng);

// How many weights (parameter and stored-buffer elements) a layer of `type`
// built from `config` declares, computed from the config alone so that it
// can be checked before the layer is allocated: in x out + out for Linear,
// QuantizedLinear and QatLinear; in x out x kernel^2 + out for Conv2d; 4 x
// features for BatchNorm; 0 for other types and for configs the factory will
// reject anyway. A double, so that no product of config values overflows.
double DeclaredWeights(const std::string& type, const nlohmann::json& config);

// Config readers for the *FromConfig factories. `layer` names the layer type
// in error messages. CheckConfigKeys throws Error unless `config` is an object
// whose keys are all in `allowed`.
void CheckConfigKeys(const std::string& layer, const nlohmann::json& config,
                     std::initializer_list<const char*> allowed);
// Required integer key in [min_value, max_value].
std::int64_t ConfigInt(const std::string& layer, const nlohmann::json& config, const char* key,
                       std::int64_t min_value, std::int64_t max_value);
// Required non-negative integer that fits in 64 bits (seeds).
std::uint64_t ConfigU64(const std::string& layer, const nlohmann::json& config, const char* key);
// Required finite number; the range check is left to the layer's factory.
double ConfigNumber(const std::string& layer, const nlohmann::json& config, const char* key);

}  // namespace joule::nn_internal
