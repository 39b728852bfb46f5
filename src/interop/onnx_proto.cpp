// Reading ONNX tensors and attributes from untrusted files.
#include "interop/onnx_proto.hpp"

#include <cstring>
#include <limits>

#include "joule/util.hpp"

namespace joule::interop {
namespace {

std::size_t ElemSize(int type) {
  switch (type) {
    case onnx::TensorProto_DataType_FLOAT:
    case onnx::TensorProto_DataType_INT32:
      return 4;
    case onnx::TensorProto_DataType_INT8:
    case onnx::TensorProto_DataType_UINT8:
      return 1;
    case onnx::TensorProto_DataType_INT64:
      return 8;
    default:
      return 0;
  }
}

// Little-endian element `k` of raw bytes (the ONNX raw_data layout).
std::int64_t RawInt(const std::string& raw, int type, std::int64_t k) {
  const char* p = raw.data() + k * static_cast<std::int64_t>(ElemSize(type));
  switch (type) {
    case onnx::TensorProto_DataType_INT8:
      return static_cast<std::int8_t>(*p);
    case onnx::TensorProto_DataType_UINT8:
      return static_cast<std::uint8_t>(*p);
    case onnx::TensorProto_DataType_INT32: {
      std::int32_t v;
      std::memcpy(&v, p, 4);
      return v;
    }
    default: {
      std::int64_t v;
      std::memcpy(&v, p, 8);
      return v;
    }
  }
}

}  // namespace

ConstTensor ReadTensor(const onnx::TensorProto& t, const std::string& what) {
  ConstTensor out;
  out.elem_type = t.data_type();
  const std::size_t elem = ElemSize(out.elem_type);
  if (elem == 0) {
    throw Error(what + ": element type " + std::to_string(out.elem_type) +
                " is not supported; joule reads float, int8, uint8, int32 and int64 tensors");
  }
  if (t.data_location() == onnx::TensorProto_DataLocation_EXTERNAL) {
    throw Error(what + ": external data is not supported; save the model as one file");
  }
  // The element count is computed with an overflow guard and compared with
  // the data present before anything is allocated: a hostile file may
  // declare a terabyte tensor in a few bytes.
  std::int64_t numel = 1;
  for (std::int64_t d : t.dims()) {
    if (d < 0) throw Error(what + ": negative dimension " + std::to_string(d));
    if (d != 0 && numel > std::numeric_limits<std::int64_t>::max() / d) {
      throw Error(what + ": declared shape overflows 64 bits");
    }
    numel *= d;
    out.dims.push_back(d);
  }
  std::int64_t present = 0;
  const bool raw = t.has_raw_data();
  if (raw) {
    present = static_cast<std::int64_t>(t.raw_data().size() / elem);
    if (t.raw_data().size() % elem != 0) present = -1;
  } else if (out.elem_type == onnx::TensorProto_DataType_FLOAT) {
    present = t.float_data_size();
  } else if (out.elem_type == onnx::TensorProto_DataType_INT64) {
    present = t.int64_data_size();
  } else {
    present = t.int32_data_size();  // int8, uint8 and int32 are stored there
  }
  if (present != numel) {
    throw Error(what + ": declares " + ShapeString(out.dims) + " = " + std::to_string(numel) +
                " elements but holds " +
                (present < 0 ? "a byte count that is not a whole number of elements"
                             : std::to_string(present) + " elements") +
                "; the file is truncated or corrupt");
  }
  if (out.is_float()) {
    out.f.resize(static_cast<std::size_t>(numel));
    if (raw) {
      std::memcpy(out.f.data(), t.raw_data().data(), static_cast<std::size_t>(numel) * 4);
    } else {
      for (std::int64_t k = 0; k < numel; ++k) out.f[k] = t.float_data(static_cast<int>(k));
    }
    return out;
  }
  out.i.resize(static_cast<std::size_t>(numel));
  for (std::int64_t k = 0; k < numel; ++k) {
    if (raw) {
      out.i[k] = RawInt(t.raw_data(), out.elem_type, k);
    } else if (out.elem_type == onnx::TensorProto_DataType_INT64) {
      out.i[k] = t.int64_data(static_cast<int>(k));
    } else {
      out.i[k] = t.int32_data(static_cast<int>(k));
    }
  }
  return out;
}

std::string NodeLabel(const onnx::NodeProto& node, int index) {
  const std::string name = node.name().empty() ? "#" + std::to_string(index) : node.name();
  return "node '" + name + "' (" + node.op_type() + ")";
}

const onnx::AttributeProto* FindAttribute(const onnx::NodeProto& node, const std::string& name) {
  for (const auto& a : node.attribute()) {
    if (a.name() == name) return &a;
  }
  return nullptr;
}

namespace {
const onnx::AttributeProto* Typed(const onnx::NodeProto& node, const std::string& label,
                                  const std::string& name, onnx::AttributeProto_AttributeType type,
                                  const char* type_name) {
  const onnx::AttributeProto* a = FindAttribute(node, name);
  if (a != nullptr && a->type() != type) {
    throw Error(label + ": attribute '" + name + "' must be " + type_name);
  }
  return a;
}
}  // namespace

std::int64_t IntAttribute(const onnx::NodeProto& node, const std::string& label,
                          const std::string& name, std::int64_t fallback) {
  const auto* a = Typed(node, label, name, onnx::AttributeProto_AttributeType_INT, "an int");
  return a == nullptr ? fallback : a->i();
}

float FloatAttribute(const onnx::NodeProto& node, const std::string& label, const std::string& name,
                     float fallback) {
  const auto* a = Typed(node, label, name, onnx::AttributeProto_AttributeType_FLOAT, "a float");
  return a == nullptr ? fallback : a->f();
}

std::vector<std::int64_t> IntsAttribute(const onnx::NodeProto& node, const std::string& label,
                                        const std::string& name) {
  const auto* a = Typed(node, label, name, onnx::AttributeProto_AttributeType_INTS, "ints");
  if (a == nullptr) return {};
  return {a->ints().begin(), a->ints().end()};
}

std::string StringAttribute(const onnx::NodeProto& node, const std::string& label,
                            const std::string& name, const std::string& fallback) {
  const auto* a = Typed(node, label, name, onnx::AttributeProto_AttributeType_STRING, "a string");
  return a == nullptr ? fallback : a->s();
}

}  // namespace joule::interop
