// joule/onnx.hpp: ONNX models in and out of joule (interop layer,
// src/interop/). docs/onnx.md lists the ops, opsets and tolerances.
//
// Import: an ONNX ModelProto whose graph is a chain (every node reads the
// previous node's output and weights) becomes a Sequential of joule layers,
// saved as a joule model directory (the format `joule train --save` writes),
// so eval, compress and bench-infer work on it. Weights come from
// initializers and Constant nodes. A QDQ graph of the shape ExportOnnx writes
// for an int8 model (QuantizeLinear/DequantizeLinear around Gemm with s8
// per-row weights) becomes joule's int8 model again (QuantizeInput,
// QuantizedLinear).
//
// The file is untrusted input: every failure is a joule::Error of one line
// that names the node (or tensor) and what is supported; no tensor is
// allocated before the bytes it needs are known to be present.
//
// Export: a joule f32 model (Linear, Conv2d, pools, activations, BatchNorm,
// Flatten, Dropout) as an opset-13 graph of standard ops; an int8 model from
// `joule compress quantize` as a QDQ graph (u8 activations per tensor, s8
// weights per output channel), which ONNX Runtime and others run as int8.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "joule/data.hpp"
#include "joule/nn.hpp"

namespace joule {

// The opsets (of the default "ai.onnx" domain) the importer accepts; these
// are the ones whose semantics for the ops above it implements. PyTorch 1.13
// exports 13 to 17.
inline constexpr std::int64_t kOnnxMinOpset = 13;
inline constexpr std::int64_t kOnnxMaxOpset = 17;
// The opset ExportOnnx writes (per-channel DequantizeLinear needs 13).
inline constexpr std::int64_t kOnnxExportOpset = 13;

struct OnnxImport {
  Sequential model;
  // One sample's input shape as the graph declares it (its first dimension,
  // the batch, removed): [1, 28, 28] or [784].
  Shape input_shape;
  std::int64_t opset = 0;
  std::string producer;  // producer_name and version, "" when absent
  bool int8 = false;     // the graph was a QDQ int8 graph, imported as int8
};

// Parses `bytes` (a serialized ModelProto; `source` names it in messages)
// into a model. Throws Error on anything it cannot import faithfully: a
// malformed or truncated file, an opset outside [kOnnxMinOpset,
// kOnnxMaxOpset], an op or attribute value joule has no layer for, a node
// reading a tensor no earlier node, initializer or graph input produced
// (dangling), a branch (a tensor read twice, or not the previous output),
// tensors whose declared size does not match the data present.
OnnxImport ImportOnnx(const std::string& bytes, const std::string& source);

// What `joule import` records beside the weights: honest metadata for an
// imported model. `data`: the dataset the user says the model takes ("mnist",
// an IDX directory, "" unknown); the graph's input shape, opset and producer
// go under "onnx". The ONNX graph does not carry the input normalisation it
// was trained with, so only `normalizer` is recorded: empty (none: inputs are
// fed as the dataset reader gives them, MNIST: pixel / 255), or the mean and
// stddev the user says the model was trained with ((x - mean) / stddev, one
// value for every feature or one per feature). eval, bench-infer and the
// compressors apply exactly that.
nlohmann::json ImportedMetadata(const OnnxImport& imported, const std::string& onnx_path,
                                const std::string& data, const Normalizer& normalizer = {});

// Reads `onnx_path` and writes the joule model directory `out_dir`: built in
// a temporary directory beside it and renamed into place, so on any error
// nothing is left at `out_dir`. out_dir must not exist or be empty. Throws
// Error.
OnnxImport ImportOnnxFile(const std::string& onnx_path, const std::string& out_dir,
                          const std::string& data, const Normalizer& normalizer = {});

// The serialized ONNX model of `model` for inputs of one sample's shape
// `input_shape` (the batch dimension is symbolic, "batch"). Throws Error
// naming the first layer it cannot export (index and type).
std::string ExportOnnx(Sequential& model, const Shape& input_shape);

// One sample's input shape of the saved model in `dir`: its metadata's
// "onnx" input shape when it was imported, [1, 28, 28] for models of MNIST
// or IDX image data; otherwise (tables) [features] from the first Linear.
// Throws Error when none of these applies.
Shape SavedModelInputShape(const std::string& dir);

// Loads the model in `dir` and writes its ONNX form to `onnx_path`
// atomically (nothing is written on error). input_shape empty: from
// SavedModelInputShape.
void ExportOnnxFile(const std::string& dir, const std::string& onnx_path, Shape input_shape = {});

}  // namespace joule
