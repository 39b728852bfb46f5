// `--power W`: the user knows their box's wall power (a plug meter, a PDU, a
// datasheet). joule takes it as constant and labels every figure "declared".
#include <string>

#include "joule/meter.hpp"
#include "joule/util.hpp"

namespace joule {
namespace {

class DeclaredSource final : public PowerSource {
 public:
  explicit DeclaredSource(double watts) : watts_(watts) {
    detail_ = "declared wall power " + std::to_string(watts) + " W (--power), constant";
    channels_.push_back({"system", Component::kSystem, ReadingKind::kMeanPower, true, detail_});
  }
  std::string_view kind() const override { return "declared"; }
  std::string_view method() const override { return "declared"; }
  std::string detail() const override { return detail_; }
  const std::vector<Channel>& channels() const override { return channels_; }
  void Read(double /*monotonic_s*/, std::span<ChannelSample> out) override {
    out[0].power_w = watts_;
    out[0].ok = true;
  }

 private:
  double watts_;
  std::string detail_;
  std::vector<Channel> channels_;
};

}  // namespace

std::unique_ptr<PowerSource> MakeDeclaredSource(double watts) {
  if (!(watts > 0 && watts < 1e6)) {
    throw Error("--power " + std::to_string(watts) +
                ": expected the machine's wall power in watts, > 0 (e.g. --power 120)");
  }
  return std::make_unique<DeclaredSource>(watts);
}

}  // namespace joule
