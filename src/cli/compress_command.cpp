// joule compress: the parent of the compression subcommands. Each reads a
// model directory and writes a new one; the subcommands live in
// compress_<name>.cpp.
#include "cli/commands.hpp"

namespace joule::cli {

void RegisterCompressCommand(CLI::App& app) {
  CLI::App* compress = app.add_subcommand(
      "compress",
      "Make a trained model cheaper to run: prune, quantize (int8), distill, early-exit.\n"
      "Each reads a model directory and writes a new one; compare them with 'joule bench-infer'");
  compress->require_subcommand(1);
  RegisterCompressQuantize(*compress);
  RegisterCompressPrune(*compress);
  RegisterCompressDistill(*compress);
  RegisterCompressEarlyExit(*compress);
}

}  // namespace joule::cli
