// joule -> ONNX: one or a few standard opset-13 nodes per layer. Shapes come
// from running one zero sample through the model layer by layer, which also
// proves that the given input shape is one the model takes.
#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>

#include "interop/onnx_proto.hpp"
#include "joule/nn_quantized.hpp"
#include "joule/onnx.hpp"
#include "joule/train.hpp"
#include "joule/util.hpp"

namespace joule {
namespace {

class Exporter {
 public:
  Exporter(Sequential& model, const Shape& input_shape) : model_(model), shape_(input_shape) {}

  std::string Run() {
    onnx::ModelProto m;
    // IR version 7 is the one that goes with opset 13.
    m.set_ir_version(7);
    m.set_producer_name("joule");
    m.set_producer_version("0.1.0");
    auto* op = m.add_opset_import();
    op->set_domain("");
    op->set_version(kOnnxExportOpset);
    g_ = m.mutable_graph();
    g_->set_name("joule");
    AddValueInfo(g_->add_input(), "input", shape_);

    Tensor x(WithBatch(shape_));
    for (const auto& [name, t] : model_.NamedTensors()) tensors_[name] = t;
    current_ = "input";
    for (std::size_t i = 0; i < model_.size(); ++i) {
      Layer& layer = model_.layer(i);
      prefix_ = std::to_string(i);
      const Tensor* y = nullptr;
      try {
        y = &layer.Forward(x, false);
      } catch (const Error& e) {
        throw Error("ONNX export: input shape " + ShapeString(shape_) + " does not fit layer " +
                    prefix_ + " (" + layer.type() + "): " + e.what());
      }
      Emit(layer, i, x);
      x = y->Clone();
    }
    Shape out_shape(x.shape().begin() + 1, x.shape().end());
    // The graph's output is the last node's output, renamed by an Identity
    // so that the interface is always "input" -> "output".
    Node("Identity", {current_}, "output");
    AddValueInfo(g_->add_output(), "output", out_shape);
    std::string bytes;
    if (!m.SerializeToString(&bytes)) throw Error("ONNX export: the model does not serialize");
    return bytes;
  }

 private:
  static Shape WithBatch(const Shape& s) {
    Shape b{1};
    b.insert(b.end(), s.begin(), s.end());
    return b;
  }

  static void AddValueInfo(onnx::ValueInfoProto* v, const std::string& name, const Shape& shape) {
    v->set_name(name);
    auto* tt = v->mutable_type()->mutable_tensor_type();
    tt->set_elem_type(onnx::TensorProto_DataType_FLOAT);
    auto* s = tt->mutable_shape();
    s->add_dim()->set_dim_param("batch");
    for (std::int64_t d : shape) s->add_dim()->set_dim_value(d);
  }

  onnx::NodeProto* Node(const std::string& op, const std::vector<std::string>& inputs,
                        const std::string& output = "") {
    auto* n = g_->add_node();
    n->set_op_type(op);
    n->set_name(prefix_ + "." + op + "_" + std::to_string(g_->node_size()));
    for (const auto& in : inputs) n->add_input(in);
    const std::string out = output.empty() ? n->name() + ".out" : output;
    n->add_output(out);
    current_ = out;
    return n;
  }

  static void Ints(onnx::NodeProto* n, const std::string& name, std::vector<std::int64_t> v) {
    auto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto_AttributeType_INTS);
    for (std::int64_t x : v) a->add_ints(x);
  }
  static void Int(onnx::NodeProto* n, const std::string& name, std::int64_t v) {
    auto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto_AttributeType_INT);
    a->set_i(v);
  }
  static void Float(onnx::NodeProto* n, const std::string& name, float v) {
    auto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto_AttributeType_FLOAT);
    a->set_f(v);
  }

  // An initializer holding `t` (f32, s8, u8 or s32 stored as the given type).
  std::string Init(const std::string& name, const Tensor& t, int type, const Shape& dims) {
    const std::string full = prefix_ + "." + name;
    auto* init = g_->add_initializer();
    init->set_name(full);
    init->set_data_type(type);
    for (std::int64_t d : dims) init->add_dims(d);
    std::string raw;
    if (type == onnx::TensorProto_DataType_UINT8 && t.dtype() == DType::kS32) {
      // joule keeps zero points as s32; ONNX wants them in the activation's type.
      for (std::int64_t k = 0; k < t.numel(); ++k) {
        raw.push_back(static_cast<char>(static_cast<std::uint8_t>(t.data<std::int32_t>()[k])));
      }
    } else {
      raw.assign(static_cast<const char*>(t.raw()), t.nbytes());
    }
    init->set_raw_data(raw);
    return full;
  }
  std::string InitF32(const std::string& name, const Tensor& t, const Shape& dims) {
    return Init(name, t, onnx::TensorProto_DataType_FLOAT, dims);
  }
  std::string Scalar(const std::string& name, float v) {
    return InitF32(name, Tensor::FromVector({1}, {v}), {});
  }

  const Tensor& T(const std::string& name) {
    auto it = tensors_.find(prefix_ + "." + name);
    JOULE_ASSERT(it != tensors_.end());
    return *it->second;
  }

  void FlattenIfNeeded(const Tensor& x) {
    if (x.rank() <= 2) return;
    Int(Node("Flatten", {current_}), "axis", 1);
  }

  // QuantizeLinear then DequantizeLinear with one u8 scale and zero point:
  // what a runtime fuses into int8 kernels, and what the importer reads back.
  void Qdq(const Tensor& scale, const Tensor& zero_point) {
    const std::string s = InitF32("scale", scale, {});
    const std::string z = Init("zero_point", zero_point, onnx::TensorProto_DataType_UINT8, {});
    Node("QuantizeLinear", {current_, s, z});
    Node("DequantizeLinear", {current_, s, z});
  }

  void Emit(Layer& layer, std::size_t index, const Tensor& x) {
    const std::string type = layer.type();
    const nlohmann::json c = layer.config();
    if (type == "Linear") {
      FlattenIfNeeded(x);
      const std::int64_t in = c["in"], out = c["out"];
      auto* n = Node("Gemm", {current_, InitF32("weight", T("weight"), {out, in}),
                              InitF32("bias", T("bias"), {out})});
      Int(n, "transB", 1);
    } else if (type == "Conv2d") {
      const std::int64_t k = c["kernel"], s = c["stride"], p = c["padding"];
      auto* n = Node("Conv", {current_, InitF32("weight", T("weight"), T("weight").shape()),
                              InitF32("bias", T("bias"), T("bias").shape())});
      Ints(n, "kernel_shape", {k, k});
      Ints(n, "strides", {s, s});
      Ints(n, "pads", {p, p, p, p});
    } else if (type == "MaxPool2d" || type == "AvgPool2d") {
      const std::int64_t k = c["kernel"], s = c["stride"];
      auto* n = Node(type == "MaxPool2d" ? "MaxPool" : "AveragePool", {current_});
      Ints(n, "kernel_shape", {k, k});
      Ints(n, "strides", {s, s});
    } else if (type == "ReLU") {
      Node("Relu", {current_});
    } else if (type == "Tanh" || type == "Sigmoid" || type == "Softmax") {
      Node(type, {current_});
    } else if (type == "GELU") {
      // The tanh approximation, spelled in opset-13 ops (Gelu arrived in
      // opset 20): 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
      const std::string in = current_;
      Node("Mul", {in, in});
      Node("Mul", {current_, in});
      Node("Mul", {current_, Scalar("c3", 0.044715f)});
      Node("Add", {current_, in});
      Node("Mul", {current_, Scalar("c1", static_cast<float>(std::sqrt(2.0 / M_PI)))});
      Node("Tanh", {current_});
      Node("Add", {current_, Scalar("one", 1.0f)});
      Node("Mul", {current_, in});
      Node("Mul", {current_, Scalar("half", 0.5f)});
    } else if (type == "Dropout") {
      // Identity at inference: no node.
    } else if (type == "BatchNorm1d" || type == "BatchNorm2d") {
      const Shape d{c["features"].get<std::int64_t>()};
      auto* n = Node("BatchNormalization",
                     {current_, InitF32("gamma", T("gamma"), d), InitF32("beta", T("beta"), d),
                      InitF32("running_mean", T("running_mean"), d),
                      InitF32("running_var", T("running_var"), d)});
      Float(n, "epsilon", c["eps"].get<float>());
    } else if (type == "Flatten") {
      Int(Node("Flatten", {current_}), "axis", 1);
    } else if (type == "QuantizeInput" || type == "FakeQuantize") {
      Qdq(T("scale"), T("zero_point"));
    } else if (type == "QuantizedLinear") {
      FlattenIfNeeded(x);
      const std::int64_t in = c["in"], out = c["out"];
      // s8 weights, symmetric per output row: DequantizeLinear along axis 0.
      const std::string act = current_;
      const std::string w = Init("weight", T("weight"), onnx::TensorProto_DataType_INT8, {out, in});
      const std::string ws = InitF32("weight_scale", T("weight_scale"), {out});
      const std::string wz = Init("weight_zero_point", Tensor({out}, DType::kS8),
                                  onnx::TensorProto_DataType_INT8, {out});
      auto* dq = Node("DequantizeLinear", {w, ws, wz});
      Int(dq, "axis", 0);
      auto* n = Node("Gemm", {act, current_, InitF32("bias", T("bias"), {out})});
      Int(n, "transB", 1);
      if (c["relu"].get<bool>()) Node("Relu", {current_});
      if (c["output"] == "u8") Qdq(T("output_scale"), T("output_zero_point"));
    } else {
      throw Error("ONNX export: layer " + std::to_string(index) + " (" + type +
                  ") has no ONNX form in joule; exportable: Linear, Conv2d, MaxPool2d, "
                  "AvgPool2d, ReLU, GELU, Tanh, Sigmoid, Softmax, Dropout, BatchNorm1d, "
                  "BatchNorm2d, Flatten, QuantizeInput, QuantizedLinear, FakeQuantize");
    }
  }

  Sequential& model_;
  Shape shape_;
  onnx::GraphProto* g_ = nullptr;
  std::map<std::string, Tensor*> tensors_;
  std::string current_, prefix_;
};

}  // namespace

std::string ExportOnnx(Sequential& model, const Shape& input_shape) {
  return Exporter(model, input_shape).Run();
}

Shape SavedModelInputShape(const std::string& dir) {
  const ModelMetadata meta = ReadModelMetadata(dir);
  if (meta.extra.contains("onnx") && meta.extra["onnx"].contains("input_shape")) {
    return meta.extra["onnx"]["input_shape"].get<Shape>();
  }
  if (meta.data == "mnist") return {1, 28, 28};
  throw Error(dir + ": the model's input shape is not recorded (data '" + meta.data +
              "'); pass --input-shape, e.g. 1,28,28 or 8 for 8 table columns");
}

void ExportOnnxFile(const std::string& dir, const std::string& onnx_path, Shape input_shape) {
  Sequential model = LoadModel(dir);
  if (input_shape.empty()) input_shape = SavedModelInputShape(dir);
  const std::string bytes = ExportOnnx(model, input_shape);
  WriteFileAtomic(onnx_path, bytes);
}

}  // namespace joule
