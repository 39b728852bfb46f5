// The body shared by rapl_fuzz and hwmon_fuzz: a sysfs tree from the input,
// a source opened on it, read at two moments with the tree changed between.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "fuzz_files.hpp"
#include "joule/meter.hpp"
#include "joule/util.hpp"

namespace joule::fuzz {

// `open` is the one call into joule: it opens a source on a directory.
template <typename Open>
int FuzzPowerSource(const std::uint8_t* data, std::size_t size, Open open) {
  static const ScratchDir dir;
  const std::string& root = WriteTree(dir, data, size, 1);
  try {
    SourceProbe probe;
    std::unique_ptr<PowerSource> source = open(root, &probe);
    if (source == nullptr) return 0;
    std::vector<ChannelSample> samples(source->channels().size());
    source->Read(1.0, std::span<ChannelSample>(samples));
    WriteTree(dir, data, size, 2);
    source->Read(2.0, std::span<ChannelSample>(samples));
    (void)source->detail();
    (void)source->max_read_interval_s();
  } catch (const Error&) {
  }
  return 0;
}

}  // namespace joule::fuzz
