// The named models of the CLI. They are small on purpose: MNIST-sized work
// that trains in seconds to minutes on two cores.
#include "joule/nn.hpp"

namespace joule {

Sequential MakeModel(const std::string& name, const Shape& input_shape, std::int64_t outputs,
                     Rng& rng) {
  std::int64_t features = 1;
  for (std::size_t i = 1; i < input_shape.size(); ++i) features *= input_shape[i];
  Sequential model;
  if (name == "mlp") {
    model.Add(MakeLinear(features, 256, rng));
    model.Add(MakeReLU());
    model.Add(MakeLinear(256, 128, rng));
    model.Add(MakeReLU());
    model.Add(MakeLinear(128, outputs, rng));
    return model;
  }
  if (name == "cnn") {
    if (input_shape.size() != 4) {
      throw Error("--model cnn needs image data [N, C, H, W]; this data has shape " +
                  ShapeString(input_shape) + " (use --model mlp for tables)");
    }
    std::int64_t c = input_shape[1], h = input_shape[2], w = input_shape[3];
    // BatchNorm after each conv: without it this small net ends at 98.9-99.05%
    // after 10 epochs, too close to the 99% it is meant to reach.
    model.Add(MakeConv2d(c, 16, 3, 1, 1, rng));
    model.Add(MakeBatchNorm(16, /*spatial=*/true));
    model.Add(MakeReLU());
    model.Add(MakeMaxPool2d(2, 2));
    model.Add(MakeConv2d(16, 32, 3, 1, 1, rng));
    model.Add(MakeBatchNorm(32, /*spatial=*/true));
    model.Add(MakeReLU());
    model.Add(MakeMaxPool2d(2, 2));
    model.Add(MakeFlatten());
    model.Add(MakeLinear(32 * (h / 4) * (w / 4), 128, rng));
    model.Add(MakeReLU());
    model.Add(MakeLinear(128, outputs, rng));
    return model;
  }
  throw Error("unknown model '" + name + "': expected mlp or cnn");
}

}  // namespace joule
