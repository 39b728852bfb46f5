// ONNX -> joule: walks a graph that must be a chain, turning each node into
// a joule layer (or folding it into the previous one: a MatMul's Add, a
// QuantizeLinear/DequantizeLinear pair), then, for a QDQ graph, rebuilds
// joule's int8 layers. Shapes are tracked per sample so that pools, Flatten,
// Reshape and BatchNorm are checked before any layer exists.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <optional>
#include <set>

#include "interop/onnx_proto.hpp"
#include "joule/nn_quantized.hpp"
#include "joule/onnx.hpp"
#include "joule/train.hpp"
#include "joule/util.hpp"

namespace joule {
namespace {

using interop::ConstTensor;

const char* const kSupportedOps =
    "Gemm, MatMul, Add (as a bias), Relu, Gelu (approximate='tanh'), Tanh, Sigmoid, Conv, "
    "MaxPool, AveragePool, GlobalAveragePool, BatchNormalization, Flatten, Reshape, Softmax, "
    "Dropout, Identity, Constant, QuantizeLinear/DequantizeLinear";

// The s8 weights behind a constant made by DequantizeLinear, kept so that a
// QDQ graph becomes joule's int8 layers with the very same integers.
struct S8Source {
  std::vector<std::int64_t> q;
  std::vector<float> scale;  // one per row (axis 0)
};

// A layer before it is built: type and config for MakeLayer, and its
// parameters and buffers by name.
struct PendingLayer {
  std::string type;
  nlohmann::json config = nlohmann::json::object();
  std::map<std::string, Tensor> tensors;
  std::optional<S8Source> s8;  // Linear from dequantized s8 weights
  quant::U8Params u8;          // FakeQuantize
  std::string label;           // the node it came from, for messages
};

class Importer {
 public:
  explicit Importer(const std::string& source) : source_(source) {}

  OnnxImport Run(const std::string& bytes) {
    onnx::ModelProto model;
    if (bytes.size() > static_cast<std::size_t>(std::numeric_limits<int>::max()) ||
        !model.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
      throw Error(source_ +
                  ": not a valid ONNX model (the protobuf does not parse: truncated or not ONNX)");
    }
    OnnxImport out;
    out.opset = CheckOpset(model);
    out.producer = model.producer_name();
    if (!model.producer_version().empty()) out.producer += " " + model.producer_version();
    const onnx::GraphProto& g = model.graph();
    for (const auto& init : g.initializer()) {
      consts_[init.name()] =
          interop::ReadTensor(init, source_ + ": initializer '" + init.name() + "'");
    }
    ReadInput(g, out);
    for (int k = 0; k < g.node_size(); ++k) Node(g.node(k), k);
    if (g.output_size() != 1) {
      throw Error(source_ + ": the graph has " + std::to_string(g.output_size()) +
                  " outputs; joule imports models with one output");
    }
    if (q_pending_) {
      throw Error(source_ + ": " + q_label_ +
                  " is not followed by a DequantizeLinear; joule imports QDQ pairs only");
    }
    if (g.output(0).name() != current_) {
      throw Error(source_ + ": graph output '" + g.output(0).name() +
                  "' is not the last node's output '" + current_ +
                  "'; joule imports chains (each node reads the previous one's output)");
    }
    if (layers_.empty()) throw Error(source_ + ": the graph has no layers joule can import");
    out.int8 = ConvertQdq();
    out.model = Build();
    return out;
  }

 private:
  std::int64_t CheckOpset(const onnx::ModelProto& model) {
    std::int64_t opset = -1;
    for (const auto& o : model.opset_import()) {
      if (o.domain().empty() || o.domain() == "ai.onnx") opset = o.version();
    }
    if (opset < kOnnxMinOpset || opset > kOnnxMaxOpset) {
      throw Error(source_ + ": opset " +
                  (opset < 0 ? std::string("(none declared)") : std::to_string(opset)) +
                  " is not supported; joule imports ONNX opsets " + std::to_string(kOnnxMinOpset) +
                  " to " + std::to_string(kOnnxMaxOpset) +
                  " (torch.onnx.export(..., opset_version=13..17))");
    }
    return opset;
  }

  void ReadInput(const onnx::GraphProto& g, OnnxImport& out) {
    const onnx::ValueInfoProto* input = nullptr;
    for (const auto& in : g.input()) {
      if (consts_.count(in.name())) continue;  // old exporters list initializers as inputs
      if (input != nullptr) {
        throw Error(source_ + ": the graph has more than one input ('" + input->name() + "', '" +
                    in.name() + "'); joule imports models with one input");
      }
      input = &in;
    }
    if (input == nullptr) throw Error(source_ + ": the graph has no input");
    const std::string what = source_ + ": input '" + input->name() + "'";
    if (!input->type().has_tensor_type() ||
        input->type().tensor_type().elem_type() != onnx::TensorProto_DataType_FLOAT) {
      throw Error(what + ": must be a float tensor");
    }
    const auto& shape = input->type().tensor_type().shape();
    if (shape.dim_size() < 2) {
      throw Error(what + ": must be [batch, ...] of rank >= 2, got rank " +
                  std::to_string(shape.dim_size()));
    }
    // The first dimension is the batch (symbolic or fixed; joule runs any);
    // the others must be known, since they decide the layers' sizes.
    for (int d = 1; d < shape.dim_size(); ++d) {
      if (!shape.dim(d).has_dim_value() || shape.dim(d).dim_value() <= 0 ||
          shape.dim(d).dim_value() > (1 << 24)) {
        throw Error(what + ": dimension " + std::to_string(d) +
                    " must be a fixed size between 1 and 2^24 (export with a concrete input)");
      }
      shape_.push_back(shape.dim(d).dim_value());
      // A bound on one sample's size keeps every shape product in range.
      if (static_cast<double>(ShapeNumel(shape_)) > static_cast<double>(1 << 30)) {
        throw Error(what + ": one sample has more than 2^30 values");
      }
    }
    out.input_shape = shape_;
    current_ = input->name();
    produced_.insert(current_);
  }

  // --- the walk ----------------------------------------------------------

  void Node(const onnx::NodeProto& node, int index) {
    const std::string label = interop::NodeLabel(node, index);
    const std::string& op = node.op_type();
    if (!node.domain().empty() && node.domain() != "ai.onnx") {
      Unsupported(label, "domain '" + node.domain() + "' is not supported");
    }
    if (op == "Constant") return ConstantNode(node, label);
    if (op == "DequantizeLinear" && AllConst(node)) return DequantizeConst(node, label);
    const std::string data = DataInput(node, label);
    if (node.output_size() < 1 || node.output(0).empty()) {
      throw Error(source_ + ": " + label + " has no output");
    }
    if (q_pending_ && op != "DequantizeLinear") {
      throw Error(source_ + ": " + q_label_ +
                  " is not followed by a DequantizeLinear; joule imports QDQ pairs only");
    }
    if (op == "Gemm") {
      Gemm(node, label);
    } else if (op == "MatMul") {
      MatMul(node, label);
    } else if (op == "Add") {
      AddBias(node, label);
    } else if (op == "Relu" || op == "Tanh" || op == "Sigmoid") {
      Push({op == "Relu" ? "ReLU" : op, {}, {}, {}, {}, label});
    } else if (op == "Gelu") {
      if (interop::StringAttribute(node, label, "approximate", "none") != "tanh") {
        Unsupported(label,
                    "exact (erf) GELU is not supported: joule's GELU is the tanh approximation "
                    "(export with approximate='tanh')");
      }
      Push({"GELU", {}, {}, {}, {}, label});
    } else if (op == "Conv") {
      Conv(node, label);
    } else if (op == "MaxPool" || op == "AveragePool") {
      Pool(node, label);
    } else if (op == "GlobalAveragePool") {
      RequireRank(label, 3);
      if (shape_[1] != shape_[2]) {
        Unsupported(label, "joule pools square windows; the input is " + ShapeString(shape_));
      }
      Push({"AvgPool2d", {{"kernel", shape_[1]}, {"stride", shape_[1]}}, {}, {}, {}, label});
      shape_ = {shape_[0], 1, 1};
    } else if (op == "BatchNormalization") {
      BatchNorm(node, label);
    } else if (op == "Flatten") {
      const std::int64_t axis = interop::IntAttribute(node, label, "axis", 1);
      if (axis != 1) Unsupported(label, "only axis=1 (keep the batch) is supported");
      Flatten(label);
    } else if (op == "Reshape") {
      Reshape(node, label);
    } else if (op == "Softmax") {
      const std::int64_t axis = interop::IntAttribute(node, label, "axis", -1);
      if (shape_.size() != 1 || (axis != -1 && axis != 1)) {
        Unsupported(label, "only a softmax over the features of [batch, features] is supported");
      }
      Push({"Softmax", {}, {}, {}, {}, label});
    } else if (op == "Dropout" || op == "Identity") {
      // Identity at inference: nothing to build.
      if (op == "Dropout" && node.input_size() > 2 && !node.input(2).empty()) {
        const ConstTensor& t = Const(node.input(2), label);
        if (!t.i.empty() && t.i[0] != 0) Unsupported(label, "training_mode=true");
      }
    } else if (op == "QuantizeLinear") {
      QuantizeNode(node, label);
    } else if (op == "DequantizeLinear") {
      DequantizeNode(node, label);
    } else {
      Unsupported(label, "op " + op + " is not supported");
    }
    (void)data;
    current_ = node.output(0);
    for (const auto& o : node.output()) {
      if (!o.empty()) produced_.insert(o);
    }
  }

  [[noreturn]] void Unsupported(const std::string& label, const std::string& why) {
    throw Error(source_ + ": " + label + ": " + why + "; joule imports " + kSupportedOps);
  }

  bool IsConst(const std::string& name) const { return consts_.count(name) != 0; }

  bool AllConst(const onnx::NodeProto& node) const {
    for (const auto& in : node.input()) {
      if (!in.empty() && !IsConst(in)) return false;
    }
    return node.input_size() > 0;
  }

  // The one input that is not a weight: it must be the previous node's output.
  std::string DataInput(const onnx::NodeProto& node, const std::string& label) {
    std::string data;
    for (const auto& in : node.input()) {
      if (in.empty() || IsConst(in)) continue;
      if (!data.empty()) {
        throw Error(source_ + ": " + label + " reads two activations ('" + data + "', '" + in +
                    "'): a branch; joule imports chains only");
      }
      data = in;
    }
    if (data.empty()) throw Error(source_ + ": " + label + " reads no activation");
    if (!produced_.count(data)) {
      throw Error(source_ + ": " + label + " reads '" + data +
                  "', which no graph input, initializer or earlier node produces (a dangling "
                  "input)");
    }
    if (data != current_ || consumed_.count(data)) {
      throw Error(source_ + ": " + label + " reads '" + data +
                  "', which is not the previous node's output (or is read twice): a branch; "
                  "joule imports chains only");
    }
    consumed_.insert(data);
    return data;
  }

  const ConstTensor& Const(const std::string& name, const std::string& label) {
    auto it = consts_.find(name);
    if (it == consts_.end()) {
      throw Error(source_ + ": " + label + ": input '" + name +
                  "' must be an initializer or Constant");
    }
    return it->second;
  }

  void RequireRank(const std::string& label, std::size_t rank) {
    if (shape_.size() != rank) {
      Unsupported(label, "its input is " + ShapeString(shape_) + " per sample, expected rank " +
                             std::to_string(rank) + (rank == 3 ? " [C, H, W]" : " [features]"));
    }
  }

  void Push(PendingLayer layer) {
    // `{}` in a PendingLayer initialiser makes a null config; layers want {}.
    if (layer.config.is_null()) layer.config = nlohmann::json::object();
    layers_.push_back(std::move(layer));
  }

  static Tensor F32(const Shape& shape, std::vector<float> values) {
    return Tensor::FromVector(shape, values);
  }

  void ConstantNode(const onnx::NodeProto& node, const std::string& label) {
    if (node.output_size() != 1) throw Error(source_ + ": " + label + " must have one output");
    ConstTensor c;
    if (const auto* a = interop::FindAttribute(node, "value");
        a != nullptr && a->type() == onnx::AttributeProto_AttributeType_TENSOR) {
      c = interop::ReadTensor(a->t(), source_ + ": " + label);
    } else if (const auto* ints = interop::FindAttribute(node, "value_ints")) {
      c.elem_type = onnx::TensorProto_DataType_INT64;
      c.i.assign(ints->ints().begin(), ints->ints().end());
      c.dims = {static_cast<std::int64_t>(c.i.size())};
    } else if (const auto* one = interop::FindAttribute(node, "value_int")) {
      c.elem_type = onnx::TensorProto_DataType_INT64;
      c.i = {one->i()};
    } else if (const auto* f = interop::FindAttribute(node, "value_float")) {
      c.elem_type = onnx::TensorProto_DataType_FLOAT;
      c.f = {f->f()};
    } else {
      Unsupported(label, "only tensor, int(s) and float values are supported");
    }
    consts_[node.output(0)] = std::move(c);
  }

  // DequantizeLinear of an s8 initializer: the f32 weights, folded now, with
  // the integers kept for the int8 rebuild.
  void DequantizeConst(const onnx::NodeProto& node, const std::string& label) {
    if (node.input_size() < 2 || node.output_size() != 1) {
      throw Error(source_ + ": " + label + " needs x and scale and one output");
    }
    const ConstTensor& x = Const(node.input(0), label);
    const ConstTensor& scale = Const(node.input(1), label);
    const ConstTensor* zp =
        node.input_size() > 2 && !node.input(2).empty() ? &Const(node.input(2), label) : nullptr;
    if (x.elem_type != onnx::TensorProto_DataType_INT8 || !scale.is_float()) {
      Unsupported(label, "weights must be int8 with float scales");
    }
    if (zp != nullptr) {
      for (std::int64_t z : zp->i) {
        if (z != 0) Unsupported(label, "weights must be symmetric (zero point 0)");
      }
    }
    std::int64_t axis = interop::IntAttribute(node, label, "axis", 1);
    if (axis < 0) axis += static_cast<std::int64_t>(x.dims.size());
    const std::int64_t n = x.numel();
    ConstTensor f;
    f.elem_type = onnx::TensorProto_DataType_FLOAT;
    f.dims = x.dims;
    f.f.resize(static_cast<std::size_t>(n));
    S8Source s8;
    s8.q = x.i;
    if (scale.numel() == 1) {
      for (std::int64_t k = 0; k < n; ++k) f.f[k] = static_cast<float>(x.i[k]) * scale.f[0];
      if (x.dims.size() == 2) s8.scale.assign(static_cast<std::size_t>(x.dims[0]), scale.f[0]);
    } else {
      if (x.dims.size() != 2 || axis != 0 || scale.numel() != x.dims[0]) {
        Unsupported(label, "per-channel weights must be [rows, cols] with one scale per row");
      }
      const std::int64_t cols = x.dims[1];
      for (std::int64_t k = 0; k < n; ++k) {
        f.f[k] = static_cast<float>(x.i[k]) * scale.f[k / cols];
      }
      s8.scale = scale.f;
    }
    consts_[node.output(0)] = std::move(f);
    if (x.dims.size() == 2) s8_[node.output(0)] = std::move(s8);
  }

  const ConstTensor& FloatConst(const std::string& name, const std::string& label) {
    const ConstTensor& t = Const(name, label);
    if (!t.is_float()) Unsupported(label, "'" + name + "' must be float");
    return t;
  }

  void Linear(const std::string& label, std::int64_t in, std::int64_t out, std::vector<float> w,
              std::vector<float> b, const std::string& weight_name, bool rows_are_out) {
    RequireRank(label, 1);
    if (in < 1 || out < 1) Unsupported(label, "empty weights");
    if (shape_[0] != in) {
      Unsupported(label, "its weights take " + std::to_string(in) + " features but its input has " +
                             std::to_string(shape_[0]));
    }
    PendingLayer p{"Linear", {{"in", in}, {"out", out}}, {}, {}, {}, label};
    p.tensors["weight"] = F32({out, in}, std::move(w));
    p.tensors["bias"] = F32({out}, std::move(b));
    auto s8 = s8_.find(weight_name);
    if (s8 != s8_.end() && rows_are_out) p.s8 = s8->second;
    Push(std::move(p));
    shape_ = {out};
    bias_open_ = true;
  }

  void Gemm(const onnx::NodeProto& node, const std::string& label) {
    if (node.input_size() < 2) throw Error(source_ + ": " + label + " needs A and B");
    const float alpha = interop::FloatAttribute(node, label, "alpha", 1.0f);
    const float beta = interop::FloatAttribute(node, label, "beta", 1.0f);
    if (interop::IntAttribute(node, label, "transA", 0) != 0) Unsupported(label, "transA=1");
    const bool trans_b = interop::IntAttribute(node, label, "transB", 0) != 0;
    const ConstTensor& b = FloatConst(node.input(1), label);
    if (b.dims.size() != 2) Unsupported(label, "B must be a 2-d initializer");
    const std::int64_t out = trans_b ? b.dims[0] : b.dims[1];
    const std::int64_t in = trans_b ? b.dims[1] : b.dims[0];
    std::vector<float> w(static_cast<std::size_t>(in * out));
    for (std::int64_t o = 0; o < out; ++o) {
      for (std::int64_t i = 0; i < in; ++i) {
        w[o * in + i] = alpha * (trans_b ? b.f[o * in + i] : b.f[i * out + o]);
      }
    }
    std::vector<float> bias(static_cast<std::size_t>(out), 0.0f);
    if (node.input_size() > 2 && !node.input(2).empty()) {
      const ConstTensor& c = FloatConst(node.input(2), label);
      if (c.numel() != out && c.numel() != 1) {
        Unsupported(label, "C must have one value per output (" + std::to_string(out) + ")");
      }
      for (std::int64_t o = 0; o < out; ++o) bias[o] = beta * c.f[c.numel() == 1 ? 0 : o];
    }
    Linear(label, in, out, std::move(w), std::move(bias), node.input(1), trans_b && alpha == 1.0f);
  }

  void MatMul(const onnx::NodeProto& node, const std::string& label) {
    if (node.input_size() != 2 || !IsConst(node.input(1))) {
      Unsupported(label, "only activation x initializer [in, out] is supported");
    }
    const ConstTensor& b = FloatConst(node.input(1), label);
    if (b.dims.size() != 2) Unsupported(label, "B must be a 2-d initializer");
    const std::int64_t in = b.dims[0], out = b.dims[1];
    std::vector<float> w(static_cast<std::size_t>(in * out));
    for (std::int64_t o = 0; o < out; ++o) {
      for (std::int64_t i = 0; i < in; ++i) w[o * in + i] = b.f[i * out + o];
    }
    Linear(label, in, out, std::move(w), std::vector<float>(static_cast<std::size_t>(out), 0.0f),
           node.input(1), false);
  }

  // An Add right after MatMul, Gemm or Conv, of a constant with one value per
  // output channel, is that layer's bias; any other Add is not a chain op.
  void AddBias(const onnx::NodeProto& node, const std::string& label) {
    if (node.input_size() != 2) throw Error(source_ + ": " + label + " needs two inputs");
    const std::string& other = IsConst(node.input(0)) ? node.input(0) : node.input(1);
    if (!bias_open_ || layers_.empty() || !IsConst(other)) {
      Unsupported(label, "Add is supported only as the bias right after MatMul, Gemm or Conv");
    }
    const ConstTensor& c = FloatConst(other, label);
    PendingLayer& last = layers_.back();
    Tensor& bias = last.tensors.at("bias");
    if (c.numel() != bias.numel()) {
      Unsupported(label, "the bias has " + std::to_string(c.numel()) + " values, expected " +
                             std::to_string(bias.numel()) + " (one per output channel)");
    }
    for (std::int64_t k = 0; k < bias.numel(); ++k) bias.f32()[k] += c.f[k];
    bias_open_ = false;
  }

  // One value for an attribute given per spatial axis (kernel, stride, pads),
  // since joule's Conv2d and pools are square and symmetric.
  std::int64_t Uniform(const std::string& label, const std::vector<std::int64_t>& v,
                       std::int64_t fallback, const std::string& what) {
    if (v.empty()) return fallback;
    for (std::int64_t x : v) {
      if (x != v[0]) Unsupported(label, what + " must be the same on every axis");
    }
    if (v[0] < 0 || v[0] > (1 << 16)) Unsupported(label, what + " out of range");
    return v[0];
  }

  void CheckAutoPad(const onnx::NodeProto& node, const std::string& label) {
    const std::string pad = interop::StringAttribute(node, label, "auto_pad", "NOTSET");
    if (pad != "NOTSET" && pad != "VALID") Unsupported(label, "auto_pad=" + pad);
  }

  void Conv(const onnx::NodeProto& node, const std::string& label) {
    if (node.input_size() < 2) throw Error(source_ + ": " + label + " needs X and W");
    RequireRank(label, 3);
    CheckAutoPad(node, label);
    if (interop::IntAttribute(node, label, "group", 1) != 1) Unsupported(label, "group != 1");
    if (Uniform(label, interop::IntsAttribute(node, label, "dilations"), 1, "dilations") != 1) {
      Unsupported(label, "dilations != 1");
    }
    const ConstTensor& w = FloatConst(node.input(1), label);
    if (w.dims.size() != 4 || w.dims[2] != w.dims[3]) {
      Unsupported(label, "the weight must be [out, in, k, k] (square kernels)");
    }
    const std::int64_t out = w.dims[0], in = w.dims[1], k = w.dims[2];
    if (out < 1) Unsupported(label, "empty weights");
    const std::int64_t stride =
        Uniform(label, interop::IntsAttribute(node, label, "strides"), 1, "strides");
    const std::int64_t pad = Uniform(label, interop::IntsAttribute(node, label, "pads"), 0, "pads");
    if (in != shape_[0]) {
      Unsupported(label, "its weights take " + std::to_string(in) + " channels, the input has " +
                             std::to_string(shape_[0]));
    }
    if (stride < 1 || k < 1 || shape_[1] + 2 * pad < k || shape_[2] + 2 * pad < k) {
      Unsupported(label,
                  "kernel " + std::to_string(k) + " does not fit the input " + ShapeString(shape_));
    }
    PendingLayer p{"Conv2d",
                   {{"in_channels", in},
                    {"out_channels", out},
                    {"kernel", k},
                    {"stride", stride},
                    {"padding", pad}},
                   {},
                   {},
                   {},
                   label};
    p.tensors["weight"] = F32({out, in, k, k}, w.f);
    std::vector<float> bias(static_cast<std::size_t>(out), 0.0f);
    if (node.input_size() > 2 && !node.input(2).empty()) {
      const ConstTensor& b = FloatConst(node.input(2), label);
      if (b.numel() != out) Unsupported(label, "the bias must have one value per output channel");
      bias = b.f;
    }
    p.tensors["bias"] = F32({out}, bias);
    Push(std::move(p));
    shape_ = {out, (shape_[1] + 2 * pad - k) / stride + 1, (shape_[2] + 2 * pad - k) / stride + 1};
    bias_open_ = true;
  }

  void Pool(const onnx::NodeProto& node, const std::string& label) {
    RequireRank(label, 3);
    CheckAutoPad(node, label);
    const auto ks = interop::IntsAttribute(node, label, "kernel_shape");
    if (ks.size() != 2) Unsupported(label, "kernel_shape must have 2 values");
    const std::int64_t k = Uniform(label, ks, 1, "kernel_shape");
    const std::int64_t stride =
        Uniform(label, interop::IntsAttribute(node, label, "strides"), 1, "strides");
    if (Uniform(label, interop::IntsAttribute(node, label, "pads"), 0, "pads") != 0) {
      Unsupported(label, "padded pooling is not supported");
    }
    if (interop::IntAttribute(node, label, "ceil_mode", 0) != 0) Unsupported(label, "ceil_mode=1");
    if (Uniform(label, interop::IntsAttribute(node, label, "dilations"), 1, "dilations") != 1) {
      Unsupported(label, "dilations != 1");
    }
    if (node.output_size() > 1 && !node.output(1).empty()) {
      Unsupported(label, "the indices output is not supported");
    }
    if (k < 1 || stride < 1 || shape_[1] < k || shape_[2] < k) {
      Unsupported(label, "kernel " + std::to_string(k) + " does not fit " + ShapeString(shape_));
    }
    const bool max = node.op_type() == "MaxPool";
    Push({max ? "MaxPool2d" : "AvgPool2d", {{"kernel", k}, {"stride", stride}}, {}, {}, {}, label});
    shape_ = {shape_[0], (shape_[1] - k) / stride + 1, (shape_[2] - k) / stride + 1};
    bias_open_ = false;
  }

  void BatchNorm(const onnx::NodeProto& node, const std::string& label) {
    if (node.input_size() != 5) throw Error(source_ + ": " + label + " needs 5 inputs");
    if (interop::IntAttribute(node, label, "training_mode", 0) != 0) {
      Unsupported(label, "training_mode=1");
    }
    if (shape_.size() != 1 && shape_.size() != 3) {
      Unsupported(label, "the input must be [features] or [C, H, W] per sample");
    }
    const std::int64_t c = shape_[0];
    const char* names[] = {"gamma", "beta", "running_mean", "running_var"};
    PendingLayer p{shape_.size() == 3 ? "BatchNorm2d" : "BatchNorm1d",
                   {{"features", c},
                    {"momentum", interop::FloatAttribute(node, label, "momentum", 0.9f) > 0
                                     ? 1.0f - interop::FloatAttribute(node, label, "momentum", 0.9f)
                                     : 0.1f},
                    {"eps", interop::FloatAttribute(node, label, "epsilon", 1e-5f)}},
                   {},
                   {},
                   {},
                   label};
    for (int k = 0; k < 4; ++k) {
      const ConstTensor& t = FloatConst(node.input(k + 1), label);
      if (t.numel() != c) {
        Unsupported(label, std::string(names[k]) + " must have one value per channel (" +
                               std::to_string(c) + ")");
      }
      p.tensors[names[k]] = F32({c}, t.f);
    }
    Push(std::move(p));
    bias_open_ = false;
  }

  void Flatten(const std::string& label) {
    Push({"Flatten", {}, {}, {}, {}, label});
    shape_ = {ShapeNumel(shape_)};
    bias_open_ = false;
  }

  // A Reshape to [batch, features] is Flatten; any other shape has no joule
  // layer (the batch must stay first, and joule's layers after a flatten take
  // [batch, features]).
  void Reshape(const onnx::NodeProto& node, const std::string& label) {
    if (node.input_size() != 2) throw Error(source_ + ": " + label + " needs data and shape");
    const ConstTensor& s = Const(node.input(1), label);
    if (s.elem_type != onnx::TensorProto_DataType_INT64) {
      Unsupported(label, "the shape must be int64");
    }
    const std::int64_t features = ShapeNumel(shape_);
    const bool flatten = s.i.size() == 2 && (s.i[0] == -1 || s.i[0] == 0) &&
                         (s.i[1] == -1 || s.i[1] == features) && !(s.i[0] == -1 && s.i[1] == -1);
    if (!flatten) {
      std::vector<std::string> dims;
      for (std::int64_t d : s.i) dims.push_back(std::to_string(d));
      Unsupported(label, "only a reshape to [batch, features] ([-1, " + std::to_string(features) +
                             "] or [0, -1]) is supported, got [" + JoinList(dims) + "]");
    }
    Flatten(label);
  }

  static quant::U8Params U8Of(const ConstTensor& scale, const ConstTensor* zp) {
    quant::U8Params p;
    p.scale = scale.f[0];
    p.zero_point = zp == nullptr ? 0 : static_cast<std::int32_t>(zp->i[0]);
    return p;
  }

  void ReadQParams(const onnx::NodeProto& node, const std::string& label, quant::U8Params* p) {
    if (node.input_size() < 2) throw Error(source_ + ": " + label + " needs x and scale");
    const ConstTensor& scale = FloatConst(node.input(1), label);
    const ConstTensor* zp =
        node.input_size() > 2 && !node.input(2).empty() ? &Const(node.input(2), label) : nullptr;
    if (scale.numel() != 1 || (zp != nullptr && zp->numel() != 1)) {
      Unsupported(label, "activations must be quantized per tensor");
    }
    if (zp != nullptr && zp->elem_type != onnx::TensorProto_DataType_UINT8) {
      Unsupported(label, "activations must be uint8");
    }
    if (!(scale.f[0] > 0) || !std::isfinite(scale.f[0])) {
      Unsupported(label, "the scale must be positive and finite");
    }
    *p = U8Of(scale, zp);
  }

  void QuantizeNode(const onnx::NodeProto& node, const std::string& label) {
    ReadQParams(node, label, &q_params_);
    q_pending_ = true;
    q_label_ = label;
  }

  void DequantizeNode(const onnx::NodeProto& node, const std::string& label) {
    if (!q_pending_) {
      Unsupported(label, "DequantizeLinear of an activation must follow its QuantizeLinear");
    }
    quant::U8Params p;
    ReadQParams(node, label, &p);
    if (p.scale != q_params_.scale || p.zero_point != q_params_.zero_point) {
      Unsupported(label, "scale and zero point differ from the QuantizeLinear's");
    }
    q_pending_ = false;
    PendingLayer layer{"FakeQuantize", {}, {}, {}, p, label};
    Push(std::move(layer));
    bias_open_ = false;
  }

  // --- building ----------------------------------------------------------

  // A QDQ chain FakeQuantize, [Flatten], then Linear (s8) [ReLU] FakeQuantize
  // ... Linear (s8), is joule's int8 model: rebuilt as QuantizeInput and
  // QuantizedLinear layers with the file's integers and scales. Returns false
  // (and leaves the f32 + FakeQuantize chain) when the graph has another form.
  bool ConvertQdq() {
    bool any = false;
    for (const auto& l : layers_) any = any || l.type == "FakeQuantize";
    if (!any || layers_.front().type != "FakeQuantize") return false;
    std::vector<PendingLayer> out;
    PendingLayer qin{"QuantizeInput", {}, {}, {}, layers_.front().u8, layers_.front().label};
    out.push_back(qin);
    quant::U8Params in = layers_.front().u8;
    std::size_t k = 1;
    if (k < layers_.size() && layers_[k].type == "Flatten") ++k;  // QuantizedLinear flattens
    while (k < layers_.size()) {
      const PendingLayer& lin = layers_[k];
      if (lin.type != "Linear" || !lin.s8) return false;
      bool relu = false;
      ++k;
      if (k < layers_.size() && layers_[k].type == "ReLU") {
        relu = true;
        ++k;
      }
      std::optional<quant::U8Params> next;
      if (k < layers_.size() && layers_[k].type == "FakeQuantize") {
        next = layers_[k].u8;
        ++k;
        if (k == layers_.size()) return false;  // int8 models end in f32 logits
      } else if (k != layers_.size()) {
        return false;
      }
      PendingLayer q{"QuantizedLinear", lin.config, {}, lin.s8, in, lin.label};
      q.config["relu"] = relu;
      q.config["output"] = next ? "u8" : "f32";
      q.tensors["bias"] = lin.tensors.at("bias");
      q.u8 = in;
      out.push_back(std::move(q));
      if (next) {
        out.back().tensors["__next_scale"] = F32({1}, {next->scale});
        out.back().tensors["__next_zp"] = F32({1}, {static_cast<float>(next->zero_point)});
        in = *next;
      }
    }
    layers_ = std::move(out);
    return true;
  }

  std::unique_ptr<Layer> BuildOne(PendingLayer& p) {
    if (p.type == "QuantizeInput") return quant::MakeQuantizeInput(p.u8);
    if (p.type == "FakeQuantize") return quant::MakeFakeQuantize(p.u8);
    if (p.type == "QuantizedLinear") {
      const std::int64_t out = p.config["out"], in = p.config["in"];
      Tensor w({out, in}, DType::kS8);
      for (std::int64_t k = 0; k < out * in; ++k) {
        w.data<std::int8_t>()[k] = static_cast<std::int8_t>(
            std::clamp<std::int64_t>(p.s8->q[static_cast<std::size_t>(k)], -128, 127));
      }
      const bool u8_out = p.config["output"] == "u8";
      quant::U8Params next;
      if (u8_out) {
        next.scale = p.tensors.at("__next_scale").f32()[0];
        next.zero_point = static_cast<std::int32_t>(p.tensors.at("__next_zp").f32()[0]);
      }
      return quant::MakeQuantizedLinear(w, F32({out}, p.s8->scale), p.tensors.at("bias"), p.u8,
                                        p.config["relu"].get<bool>(), u8_out, next);
    }
    std::unique_ptr<Layer> layer = MakeLayer(p.type, p.config);
    auto fill = [&](const std::string& name, Tensor& dst) {
      auto it = p.tensors.find(name);
      JOULE_ASSERT(it != p.tensors.end() && it->second.shape() == dst.shape());
      dst.CopyFrom(it->second);
    };
    for (Parameter* param : layer->Parameters()) fill(param->name, param->value);
    for (auto& [name, buffer] : layer->Buffers()) fill(name, *buffer);
    return layer;
  }

  Sequential Build() {
    Sequential model;
    for (auto& p : layers_) model.Add(BuildOne(p));
    return model;
  }

  std::string source_;
  std::map<std::string, ConstTensor> consts_;
  std::map<std::string, S8Source> s8_;
  std::set<std::string> produced_, consumed_;
  std::string current_;
  Shape shape_;  // per sample
  std::vector<PendingLayer> layers_;
  bool bias_open_ = false;  // the last layer may still take an Add as its bias
  bool q_pending_ = false;
  quant::U8Params q_params_;
  std::string q_label_;
};

}  // namespace

OnnxImport ImportOnnx(const std::string& bytes, const std::string& source) {
  return Importer(source).Run(bytes);
}

nlohmann::json ImportedMetadata(const OnnxImport& imported, const std::string& onnx_path,
                                const std::string& data, const Normalizer& normalizer) {
  ModelMetadata meta;
  meta.data = data;
  meta.task = "classification";
  meta.model = "onnx";
  meta.loss = "cross-entropy";
  meta.precision = "f32";
  meta.eval_name = "test";
  if (imported.int8) meta.compression = "int8-qdq";
  if (!normalizer.mean.empty()) meta.SetNormalizer(normalizer);
  meta.extra["onnx"] = {
      {"source", onnx_path},
      {"opset", imported.opset},
      {"producer", imported.producer},
      {"input_shape", imported.input_shape},
      {"normalisation", normalizer.mean.empty()
                            ? "none: inputs are fed as the dataset reader gives them (MNIST: "
                              "pixel / 255)"
                            : "(x - feature_mean) / feature_stddev, as given to joule import"}};
  return meta.ToJson();
}

OnnxImport ImportOnnxFile(const std::string& onnx_path, const std::string& out_dir,
                          const std::string& data, const Normalizer& normalizer) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::exists(out_dir, ec) && !(fs::is_directory(out_dir, ec) && fs::is_empty(out_dir, ec))) {
    throw Error(out_dir + ": exists and is not an empty directory; choose a new --out");
  }
  OnnxImport imported = ImportOnnx(ReadFile(onnx_path), onnx_path);
  // Build the directory beside its final place and rename it there, so that
  // a failure while writing leaves nothing at out_dir.
  const fs::path final_dir = fs::absolute(out_dir);
  const fs::path tmp = final_dir.parent_path() / (final_dir.filename().string() + ".tmp-import");
  fs::remove_all(tmp, ec);
  try {
    SaveModel(imported.model, tmp.string(),
              ImportedMetadata(imported, onnx_path, data, normalizer));
    fs::rename(tmp, final_dir);  // replaces an empty directory
  } catch (const std::exception& e) {
    fs::remove_all(tmp, ec);
    throw Error(out_dir + ": cannot write the model: " + e.what());
  }
  return imported;
}

}  // namespace joule
