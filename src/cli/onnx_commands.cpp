// joule import and joule export: ONNX models in and out (the interop layer).
#include <cstdio>
#include <memory>
#include <sstream>

#include "cli/commands.hpp"
#include "joule/onnx.hpp"
#include "joule/train.hpp"
#include "joule/util.hpp"

namespace joule::cli {
namespace {

struct ImportFlags {
  std::string onnx;
  std::string out;
  std::string data = "mnist";
  std::vector<float> mean, stddev;
};

struct ExportFlags {
  std::string model_dir;
  std::string onnx;
  std::string input_shape;
};

Shape ParseShape(const std::string& text) {
  Shape s;
  std::stringstream in(text);
  std::string part;
  while (std::getline(in, part, ',')) {
    try {
      std::size_t used = 0;
      const long long v = std::stoll(part, &used);
      if (used != part.size() || v <= 0) throw std::invalid_argument(part);
      s.push_back(v);
    } catch (const std::exception&) {
      throw Error("--input-shape '" + text + "': expected positive integers separated by commas");
    }
  }
  if (s.empty()) throw Error("--input-shape is empty");
  return s;
}

void RunImport(const ImportFlags& f) {
  if (f.mean.size() != f.stddev.size()) {
    throw Error(
        "--input-mean and --input-std need the same number of values (one for every "
        "feature, or one per feature)");
  }
  for (float sd : f.stddev) {
    if (!(sd > 0)) throw Error("--input-std values must be positive, got " + std::to_string(sd));
  }
  const OnnxImport r = ImportOnnxFile(f.onnx, f.out, f.data, Normalizer{f.mean, f.stddev});
  std::printf("%s -> %s: %zu layers%s, input %s per sample, opset %lld%s\n", f.onnx.c_str(),
              f.out.c_str(), r.model.size(), r.int8 ? " (int8)" : "",
              ShapeString(r.input_shape).c_str(), static_cast<long long>(r.opset),
              r.producer.empty() ? "" : (", from " + r.producer).c_str());
}

void RunExport(const ExportFlags& f) {
  Shape shape = f.input_shape.empty() ? Shape{} : ParseShape(f.input_shape);
  ExportOnnxFile(f.model_dir, f.onnx, shape);
  std::printf("%s -> %s (ONNX opset %lld)\n", f.model_dir.c_str(), f.onnx.c_str(),
              static_cast<long long>(kOnnxExportOpset));
  // The graph starts at the model's first layer; a normalisation the model
  // was trained with stays the caller's job, so say which.
  const ModelMetadata meta = ReadModelMetadata(f.model_dir);
  if (!meta.feature_mean.empty()) {
    // %.9g: every digit of the stored float, so the figures can be passed
    // back to joule import (or torchvision's Normalize) exactly.
    char figures[96] = "the per-feature values in the model's metadata";
    if (meta.feature_mean.size() == 1) {
      std::snprintf(figures, sizeof figures, "mean %.9g, stddev %.9g", meta.feature_mean[0],
                    meta.feature_stddev[0]);
    }
    std::printf(
        "note: the graph takes normalised inputs, (x - mean) / stddev with %s; it does "
        "not include that step\n",
        figures);
  }
}

}  // namespace

void RegisterImportCommand(CLI::App& app) {
  auto f = std::make_shared<ImportFlags>();
  CLI::App* cmd = app.add_subcommand(
      "import", "Import an ONNX model as a joule model directory (eval, compress, bench-infer)");
  cmd->footer(
      "The graph must be a chain (as torch.onnx.export writes for MLPs and CNNs) of:\n"
      "  Gemm, MatMul(+Add), Relu, Gelu(approximate=tanh), Tanh, Sigmoid, Conv, MaxPool,\n"
      "  AveragePool, GlobalAveragePool, BatchNormalization, Flatten, Reshape to [batch, -1],\n"
      "  Softmax, Dropout, Identity, Constant; and QuantizeLinear/DequantizeLinear pairs as\n"
      "  'joule export' writes them for int8 models (imported as int8 again).\n"
      "Opsets 13 to 17. Anything else stops with one line naming the node and nothing written.\n"
      "An ONNX graph does not carry its input normalisation: give it with --input-mean and\n"
      "--input-std (PyTorch's Normalize((0.1307,), (0.3081,)) is --input-mean 0.1307\n"
      "--input-std 0.3081), else inputs go in as the reader gives them (MNIST: pixel / 255).\n"
      "eval, bench-infer and compress apply exactly that. See docs/onnx.md.\n"
      "Example: joule import mlp.onnx --out models/mlp && joule eval --model models/mlp");
  cmd->add_option("onnx", f->onnx, "the .onnx file (torch.onnx.export's output)")->required();
  cmd->add_option("--out", f->out, "model directory to create (must not exist, or be empty)")
      ->required();
  cmd->add_option("--data", f->data,
                  "the dataset the model takes, recorded in its metadata (mnist or an IDX "
                  "directory)")
      ->capture_default_str();
  cmd->add_option("--input-mean", f->mean,
                  "the mean the model's inputs were normalised with: (x - mean) / std (e.g. "
                  "0.1307 for MNIST); default: none, inputs as the reader gives them")
      ->delimiter(',');
  cmd->add_option("--input-std", f->stddev, "the stddev of that normalisation (e.g. 0.3081)")
      ->delimiter(',');
  cmd->callback([f] { RunImport(*f); });
}

void RegisterExportCommand(CLI::App& app) {
  auto f = std::make_shared<ExportFlags>();
  CLI::App* cmd = app.add_subcommand("export", "Export a joule model directory as an ONNX file");
  cmd->footer(
      "f32 models become standard opset-13 graphs (Gemm, Conv, pools, activations,\n"
      "BatchNormalization, Flatten). int8 models from 'joule compress quantize' become QDQ\n"
      "graphs: QuantizeLinear/DequantizeLinear around each Gemm, u8 activations per tensor,\n"
      "s8 weights per output channel, which ONNX Runtime runs as int8. The file is written\n"
      "atomically; nothing is written on error. See docs/onnx.md for tolerances.\n"
      "Example: joule export models/mlp-int8 --onnx mlp-int8.onnx");
  cmd->add_option("model", f->model_dir, "model directory (joule train --save, import, compress)")
      ->required();
  cmd->add_option("--onnx", f->onnx, "the .onnx file to write")->required();
  cmd->add_option("--input-shape", f->input_shape,
                  "one sample's input shape, e.g. 1,28,28 (default: from the model's metadata)");
  cmd->callback([f] { RunExport(*f); });
}

}  // namespace joule::cli
