// Helpers over the ONNX protobuf classes that the importer and exporter
// share: reading tensors out of an untrusted TensorProto with every size
// checked against the bytes present, and attribute look-ups.
#pragma once

#include <onnx/onnx_pb.h>

#include <cstdint>
#include <string>
#include <vector>

#include "joule/tensor.hpp"

namespace joule::interop {

// A constant as the importer keeps it: f32 values, or integer values (int8,
// uint8, int32, int64 all widened to int64) with the ONNX element type kept.
struct ConstTensor {
  Shape dims;
  int elem_type = 0;  // onnx::TensorProto_DataType
  std::vector<float> f;
  std::vector<std::int64_t> i;
  std::int64_t numel() const { return ShapeNumel(dims); }
  bool is_float() const { return elem_type == onnx::TensorProto_DataType_FLOAT; }
};

// Reads `t`. `what` names it in messages ("initializer 'fc.weight'"). Throws
// Error for external data, an element type other than float, int8, uint8,
// int32 or int64, a negative dimension, or a declared size that the data
// present does not match (checked before any allocation).
ConstTensor ReadTensor(const onnx::TensorProto& t, const std::string& what);

// "node 'Conv_3' (Conv)" for messages; nodes without a name get their index.
std::string NodeLabel(const onnx::NodeProto& node, int index);

// Attribute look-ups: nullptr / the fallback when absent; Error naming the
// node when present with the wrong type.
const onnx::AttributeProto* FindAttribute(const onnx::NodeProto& node, const std::string& name);
std::int64_t IntAttribute(const onnx::NodeProto& node, const std::string& label,
                          const std::string& name, std::int64_t fallback);
float FloatAttribute(const onnx::NodeProto& node, const std::string& label, const std::string& name,
                     float fallback);
std::vector<std::int64_t> IntsAttribute(const onnx::NodeProto& node, const std::string& label,
                                        const std::string& name);
std::string StringAttribute(const onnx::NodeProto& node, const std::string& label,
                            const std::string& name, const std::string& fallback);

}  // namespace joule::interop
