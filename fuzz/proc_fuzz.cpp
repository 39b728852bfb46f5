// Fuzzes the /proc readers of process attribution: /proc/stat's aggregate
// "cpu" line (ReadCpuTimes), /proc/PID/stat lines (ParseProcStat) and the
// process-tree walk over /proc/PID/stat and /proc/PID/task/TID/children
// (ProcessTree), on a directory laid out like /proc, sampled at two moments
// with the tree changed between them (processes forking, exiting, reused).
//
// Input: parts "PATH\nCONTENTS" (see fuzz_files.hpp, WriteTree), e.g.
// "100/stat\n100 (joule) S 1 ...". The root process is PID 100. These
// readers report bad input by returning false (ReadCpuTimes,
// ParseProcStat) or throwing joule::Error (ProcessTree, for a missing root);
// anything else is a bug.
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_files.hpp"
#include "joule/util.hpp"
#include "meter/proc_attribution.hpp"
#include "meter/small_file.hpp"

namespace {

constexpr int kRootPid = 100;

// The calls into joule (repoint here if the readers are renamed).
void ReadProc(const joule::fuzz::ScratchDir& dir, const std::uint8_t* data, std::size_t size,
              bool count_root_cpu) {
  const std::string& root = joule::fuzz::WriteTree(dir, data, size, 1);
  joule::meter::CpuTimes times;
  (void)joule::meter::ReadCpuTimes((root + "/stat").c_str(), &times);
  std::string text;
  int error_number = 0;
  if (joule::meter::ReadTrimmed(root + "/" + std::to_string(kRootPid) + "/stat", &text,
                                &error_number)) {
    joule::meter::ProcStat stat;
    (void)joule::meter::ParseProcStat(text, &stat);
  }
  try {
    joule::meter::ProcessTree tree(root, kRootPid, count_root_cpu);
    tree.Sample();
    std::uint64_t ticks = tree.cpu_ticks();
    joule::fuzz::WriteTree(dir, data, size, 2);
    tree.Sample();
    // The contract the meter's attribution relies on.
    if (tree.cpu_ticks() < ticks) __builtin_trap();
  } catch (const joule::Error&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const joule::fuzz::ScratchDir dir;
  ReadProc(dir, data, size, /*count_root_cpu=*/size % 2 == 0);
  return 0;
}
