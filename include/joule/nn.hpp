// joule/nn.hpp: layers with explicit backward, losses, optimizers, Sequential
// and model files.
//
// Layers own their outputs and gradients as buffers that are reused from step
// to step (no allocation in steady state once shapes settle). Forward returns a
// reference to the layer's output buffer; it stays valid until the next
// Forward on that layer. Backward takes dL/dy and returns dL/dx (a reference
// to the layer's own buffer) and OVERWRITES each parameter's grad.
// Nothing here is thread safe; one model is trained by one thread (the
// kernels inside use OpenMP).
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "joule/tensor.hpp"

namespace joule {

// Compute precision of Linear and Conv2d. kBF16: inputs and weights are
// rounded to bf16 for the matmul/conv (oneDNN, AVX512-BF16 or AMX), with f32
// accumulation, f32 outputs and f32 master weights; every other op stays f32.
enum class Precision { kF32, kBF16 };
Precision ParsePrecision(const std::string& name);  // "f32" | "bf16"; throws Error
const char* PrecisionName(Precision p);

// A trainable tensor and its gradient (same shape, f32).
struct Parameter {
  std::string name;  // "weight", "bias", "gamma", "beta"
  Tensor value;
  Tensor grad;
};

class Layer {
 public:
  virtual ~Layer() = default;
  // Type name as stored in model.json ("Linear", "Conv2d", ...).
  virtual std::string type() const = 0;
  // Constructor arguments as JSON, enough for MakeLayer to rebuild the layer.
  virtual nlohmann::json config() const = 0;
  // x: [batch, ...]. training selects dropout masks and batch statistics.
  virtual const Tensor& Forward(const Tensor& x, bool training) = 0;
  // dy has the shape of the last Forward's output. Returns dL/dx (empty when
  // input_grad_needed() is false), sets every parameter's grad.
  virtual const Tensor& Backward(const Tensor& dy) = 0;
  virtual std::vector<Parameter*> Parameters() { return {}; }
  // Non-trainable state saved with the model (BatchNorm running statistics).
  virtual std::vector<std::pair<std::string, Tensor*>> Buffers() { return {}; }
  virtual void SetPrecision(Precision) {}

  // The first layer of a model need not compute dL/dx; Sequential turns it off.
  void set_input_grad_needed(bool needed) { input_grad_needed_ = needed; }
  bool input_grad_needed() const { return input_grad_needed_; }

 protected:
  bool input_grad_needed_ = true;
};

// Layers. Weight initialisation draws from `rng` (Kaiming-uniform for layers
// followed by ReLU-like activations, which is every joule model; Xavier is
// available through InitXavier). Same seed -> same weights.
std::unique_ptr<Layer> MakeLinear(std::int64_t in, std::int64_t out, Rng& rng);
std::unique_ptr<Layer> MakeConv2d(std::int64_t in_channels, std::int64_t out_channels, int kernel,
                                  int stride, int padding, Rng& rng);
std::unique_ptr<Layer> MakeMaxPool2d(int kernel, int stride);
std::unique_ptr<Layer> MakeAvgPool2d(int kernel, int stride);
std::unique_ptr<Layer> MakeReLU();
std::unique_ptr<Layer> MakeGELU();  // tanh approximation
std::unique_ptr<Layer> MakeTanh();
std::unique_ptr<Layer> MakeSigmoid();
std::unique_ptr<Layer> MakeDropout(float p, std::uint64_t seed);
std::unique_ptr<Layer> MakeBatchNorm(std::int64_t features, bool spatial, float momentum = 0.1f,
                                     float eps = 1e-5f);  // spatial: 2d over [N,C,H,W]
std::unique_ptr<Layer> MakeFlatten();
// Softmax over the features of [N, C] (for imported models that end in one).
std::unique_ptr<Layer> MakeSoftmax();
// Rebuilds a layer from type() and config(); weights are then loaded
// separately. Throws Error for an unknown type or a bad config.
std::unique_ptr<Layer> MakeLayer(const std::string& type, const nlohmann::json& config);
// Re-initialises a weight with Xavier-uniform (fan_in + fan_out).
void InitXavier(Parameter& weight, std::int64_t fan_in, std::int64_t fan_out, Rng& rng);

class Sequential {
 public:
  Sequential() = default;
  Sequential(Sequential&&) = default;
  Sequential& operator=(Sequential&&) = default;

  void Add(std::unique_ptr<Layer> layer);
  const Tensor& Forward(const Tensor& x, bool training);
  // Back-propagates dL/d(output) through every layer; fills all grads.
  void Backward(const Tensor& dy);
  std::vector<Parameter*> Parameters();
  // (qualified name, tensor) for every parameter and buffer: "0.weight",
  // "3.running_mean", ... The names and order are those of the model file.
  std::vector<std::pair<std::string, Tensor*>> NamedTensors();
  void SetPrecision(Precision p);
  std::int64_t ParameterCount();
  std::size_t size() const { return layers_.size(); }
  Layer& layer(std::size_t i) { return *layers_[i]; }
  nlohmann::json Architecture() const;  // {"layers": [{"type":..., "config":...}, ...]}
  static Sequential FromArchitecture(const nlohmann::json& architecture);  // throws Error
  // The same, but throws Error before building a layer that would bring the
  // weights the layers declare (their configs' parameter and stored-buffer
  // element counts: in x out + out for a Linear, ...) above `max_weights`.
  // Loaders pass a bound from the size of the weights file, so that a corrupt
  // or hostile model.json cannot make joule allocate (and initialise) more
  // than the file could ever fill.
  static Sequential FromArchitecture(const nlohmann::json& architecture, double max_weights);

 private:
  std::vector<std::unique_ptr<Layer>> layers_;
};

// The floating-point operations of one sample's forward pass: 2 x the
// multiply-adds of its Linear and Conv2d layers (element-wise layers are not
// counted, as is usual), with the shapes a forward pass of one zero sample of
// `input_shape` ([batch, ...]; the batch is ignored) gives. Training costs
// about 3x this per sample seen (forward, and a backward of twice the work).
// Throws what the layers throw for a shape they cannot take.
std::int64_t ForwardFlops(Sequential& model, const Shape& input_shape);

// The two models of the CLI: "mlp" = 784-256-128-10 with ReLU; "cnn" =
// conv(1->16,3x3)-BN-ReLU-maxpool-conv(16->32,3x3)-BN-ReLU-maxpool-flatten-
// linear(1568->128)-ReLU-linear(128->10). For tables: "mlp" with the given
// input and output widths. Their sizes can be named (what an architecture
// search varies): "mlp:W1,W2,..." has hidden layers of those widths (1 to 8
// layers, each 1..65536), "cnn:C1,C2" those two channel counts. Throws
// Error for an unknown or malformed name.
// Throws the Error MakeModel would for a malformed name; no model is built.
void CheckModelName(const std::string& name);
Sequential MakeModel(const std::string& name, const Shape& input_shape, std::int64_t outputs,
                     Rng& rng);

// ---------------------------------------------------------------------------
// Losses. Compute returns the mean loss over the batch and writes dL/dpred
// (same shape as pred) into grad, reusing grad's storage.
// pred: [B, C] logits for cross-entropy with target [B] class ids (as f32);
// [B, 1] or [B] for the regression losses with target [B].
class Loss {
 public:
  virtual ~Loss() = default;
  virtual std::string name() const = 0;
  virtual double Compute(const Tensor& pred, const Tensor& target, Tensor& grad) = 0;
};
std::unique_ptr<Loss> MakeSoftmaxCrossEntropy();
std::unique_ptr<Loss> MakeMse();
std::unique_ptr<Loss> MakeMae();
std::unique_ptr<Loss> MakeHuber(double delta);
std::unique_ptr<Loss> MakeLogCosh();
// Huber whose delta may change between batches: the annealed ("dynamic")
// Huber loss, whose delta the trainer moves on a schedule (train.hpp,
// HuberDeltaSchedule). With a given delta it computes exactly what
// MakeHuber(delta) computes. name() is "annealed-huber".
class AnnealedHuberLoss : public Loss {
 public:
  // Throws Error unless delta is positive and finite.
  virtual void set_delta(double delta) = 0;
  virtual double delta() const = 0;
};
std::unique_ptr<AnnealedHuberLoss> MakeAnnealedHuber(double initial_delta);  // throws Error
// "cross-entropy" | "mse" | "mae" | "huber" | "log-cosh" | "annealed-huber"
// (starting at huber_delta); throws Error.
std::unique_ptr<Loss> MakeLoss(const std::string& name, double huber_delta = 1.0);

// ---------------------------------------------------------------------------
// Optimizers. Step(params) updates every parameter from its grad. State
// (momentum, Adam moments) is kept per parameter, in the order of `params`;
// the same params vector must be passed every step.
struct OptimizerConfig {
  std::string kind = "sgd";  // "sgd" | "adam" | "adamw"
  double lr = 0.01;
  double momentum = 0.9;                          // sgd
  bool nesterov = false;                          // sgd
  double weight_decay = 0.0;                      // sgd, adam: L2 added to grad; adamw: decoupled
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;  // adam, adamw
};
class Optimizer {
 public:
  virtual ~Optimizer() = default;
  virtual void Step(const std::vector<Parameter*>& params) = 0;
  // Optimizer state tensors, for checkpoints ("0.momentum", "step", ...).
  virtual std::vector<std::pair<std::string, Tensor*>> State() = 0;
  void set_lr(double lr) { lr_ = lr; }
  double lr() const { return lr_; }

 protected:
  double lr_ = 0.01;
};
std::unique_ptr<Optimizer> MakeOptimizer(const OptimizerConfig& config);  // throws Error

// ---------------------------------------------------------------------------
// Model files: DIR/model.safetensors (weights and buffers, f32 little-endian,
// names from NamedTensors) and DIR/model.json (architecture and metadata).
// The safetensors layout: u64 little-endian header length, JSON header
// {"name": {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]},
//  "__metadata__": {...}}, then the raw data.
// Save writes to temporaries and renames, so a crash leaves no half model.
// Sparse weights (pruned models): an f32 tensor named "*weight" with at least
// half its elements +0.0 is stored as "NAME.sparse_mask" (U8
// [ceil(numel/8)], bit i % 8 of byte i / 8, LSB first, set when row-major
// element i is stored) and "NAME.sparse_values" (F32 [popcount], the stored
// elements in row-major order; every other element is +0.0). model.json
// lists them under "sparse" and the safetensors metadata under
// "joule_sparse"; LoadModel rebuilds the dense tensor bitwise, and throws
// Error naming the file and tensor when the mask length or the value count
// (!= popcount) is wrong. Dense tensors are stored as before.
void SaveModel(Sequential& model, const std::string& dir, const nlohmann::json& metadata);
// Throws Error naming the file and byte offset on a malformed file, and the
// tensor name on a missing or mis-shaped tensor.
Sequential LoadModel(const std::string& dir, nlohmann::json* metadata = nullptr);

// The most weights a model.json may declare beside the weights file at
// `weights_path`: 8 per byte of the file, since the densest storage joule
// writes is a sparse tensor's mask (1 bit per weight). 0 when the file cannot
// be read. For Sequential::FromArchitecture(architecture, max_weights).
double MaxDeclaredWeights(const std::string& weights_path);

// Reads a joule JSON document such as model.json: parses it and checks that
// it is an object with "format": format and "version": version. Throws Error
// naming the path and, for a syntax error, the byte offset; for another
// format, `what` (e.g. "a joule model file") and `hint` (how to make one).
nlohmann::json ReadJouleJson(const std::string& path, const std::string& format, int version,
                             const std::string& what, const std::string& hint);

// Low-level safetensors I/O (used by model files and checkpoints).
void WriteSafetensors(const std::string& path,
                      const std::vector<std::pair<std::string, const Tensor*>>& tensors,
                      const nlohmann::json& metadata);
std::vector<std::pair<std::string, Tensor>> ReadSafetensors(const std::string& path,
                                                            nlohmann::json* metadata = nullptr);

}  // namespace joule
