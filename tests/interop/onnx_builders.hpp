// Hand-built ONNX models for the importer's tests (unit and e2e): a small
// valid chain, and the pieces to break it in one way per test.
#pragma once

#include <onnx/onnx_pb.h>

#include <cstdint>
#include <string>
#include <vector>

namespace joule::test {

inline onnx::TensorProto FloatTensor(const std::string& name, const std::vector<std::int64_t>& dims,
                                     const std::vector<float>& values) {
  onnx::TensorProto t;
  t.set_name(name);
  t.set_data_type(onnx::TensorProto_DataType_FLOAT);
  for (std::int64_t d : dims) t.add_dims(d);
  t.set_raw_data(std::string(reinterpret_cast<const char*>(values.data()), values.size() * 4));
  return t;
}

inline onnx::TensorProto Int64Tensor(const std::string& name, const std::vector<std::int64_t>& v) {
  onnx::TensorProto t;
  t.set_name(name);
  t.set_data_type(onnx::TensorProto_DataType_INT64);
  t.add_dims(static_cast<std::int64_t>(v.size()));
  for (std::int64_t x : v) t.add_int64_data(x);
  return t;
}

inline onnx::NodeProto* AddNode(onnx::GraphProto* g, const std::string& name, const std::string& op,
                                const std::vector<std::string>& inputs,
                                const std::vector<std::string>& outputs) {
  auto* n = g->add_node();
  n->set_name(name);
  n->set_op_type(op);
  for (const auto& i : inputs) n->add_input(i);
  for (const auto& o : outputs) n->add_output(o);
  return n;
}

inline void SetInts(onnx::NodeProto* n, const std::string& name,
                    const std::vector<std::int64_t>& v) {
  auto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto_AttributeType_INTS);
  for (std::int64_t x : v) a->add_ints(x);
}

inline void SetInt(onnx::NodeProto* n, const std::string& name, std::int64_t v) {
  auto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto_AttributeType_INT);
  a->set_i(v);
}

// input [batch, 1, 2, 2] -> Reshape [-1, 4] (shape from a Constant, as torch
// writes it) -> Gemm (transB, 4 -> 3) -> Relu -> MatMul (3 -> 2) -> Add
// (bias) -> Softmax -> output. Weights are small integers so that expected
// outputs are easy to compute by hand.
inline onnx::ModelProto TinyChain(std::int64_t opset = 13) {
  onnx::ModelProto m;
  m.set_ir_version(7);
  m.set_producer_name("joule-test");
  auto* op = m.add_opset_import();
  op->set_domain("");
  op->set_version(opset);
  auto* g = m.mutable_graph();
  g->set_name("tiny");
  auto* in = g->add_input();
  in->set_name("x");
  auto* tt = in->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(onnx::TensorProto_DataType_FLOAT);
  tt->mutable_shape()->add_dim()->set_dim_param("batch");
  for (int d : {1, 2, 2}) tt->mutable_shape()->add_dim()->set_dim_value(d);
  auto* c = AddNode(g, "shape_const", "Constant", {}, {"shape"});
  auto* value = c->add_attribute();
  value->set_name("value");
  value->set_type(onnx::AttributeProto_AttributeType_TENSOR);
  *value->mutable_t() = Int64Tensor("", {-1, 4});
  AddNode(g, "reshape", "Reshape", {"x", "shape"}, {"flat"});
  *g->add_initializer() = FloatTensor("fc1.weight", {3, 4}, {1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, -1});
  *g->add_initializer() = FloatTensor("fc1.bias", {3}, {0.5f, -10, 0});
  SetInt(AddNode(g, "fc1", "Gemm", {"flat", "fc1.weight", "fc1.bias"}, {"h"}), "transB", 1);
  AddNode(g, "relu", "Relu", {"h"}, {"r"});
  *g->add_initializer() = FloatTensor("fc2.weight", {3, 2}, {1, 0, 0, 1, 1, 1});
  *g->add_initializer() = FloatTensor("fc2.bias", {2}, {0, 1});
  AddNode(g, "fc2", "MatMul", {"r", "fc2.weight"}, {"mm"});
  AddNode(g, "fc2_bias", "Add", {"mm", "fc2.bias"}, {"logits"});
  AddNode(g, "softmax", "Softmax", {"logits"}, {"probs"});
  auto* out = g->add_output();
  out->set_name("probs");
  out->mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto_DataType_FLOAT);
  return m;
}

inline std::string Bytes(const onnx::ModelProto& m) {
  std::string s;
  m.SerializeToString(&s);
  return s;
}

}  // namespace joule::test
