// Fuzzes the RAPL reader: joule::OpenRaplSource on a directory laid out like
// /sys/class/powercap (zone names, energy_uj, max_energy_range_uj), then two
// reads with the tree changed between them (counters moving and wrapping,
// files vanishing).
//
// Input: parts "PATH\nCONTENTS" (see fuzz_files.hpp, WriteTree), e.g.
// "intel-rapl:0/energy_uj\n123\n". A joule::Error is the expected outcome for
// bad input; anything else is a bug.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "joule/meter.hpp"
#include "power_source_fuzz.hpp"

namespace {

// The one call into joule (repoint here if the reader is renamed).
std::unique_ptr<joule::PowerSource> Open(const std::string& dir, joule::SourceProbe* probe) {
  return joule::OpenRaplSource(dir, probe);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return joule::fuzz::FuzzPowerSource(data, size, Open);
}
