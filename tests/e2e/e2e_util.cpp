#include "e2e/e2e_util.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace joule::test {
namespace {

// Every joule these tests start records its runs in a ledger under the build
// directory, never in the user's ~/.local/share/joule: set before any test
// runs, inherited by every child. Tests that need their own ledger pass
// --ledger or set JOULE_HOME themselves.
const bool kLedgerInBuildDir = [] {
  std::filesystem::path home =
      std::filesystem::path(JOULE_TEST_BINARY_DIR) / "scratch" / "joule_home";
  std::filesystem::create_directories(home);
  setenv("JOULE_HOME", home.c_str(), /*overwrite=*/1);
  return true;
}();

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}
}  // namespace

std::string ScratchDir(const std::string& name) {
  namespace fs = std::filesystem;
  fs::path dir = fs::path(JOULE_TEST_BINARY_DIR) / "scratch" / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir.string();
}

void WriteBytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

CommandResult RunJoule(const std::string& args) {
  // ctest runs each test in its own process, several at once: the pid keeps
  // their scratch directories apart.
  static int counter = 0;
  std::string base = ScratchDir("run" + std::to_string(getpid()) + "_" + std::to_string(counter++));
  std::string out = base + "/stdout", err = base + "/stderr";
  std::string cmd = std::string(JOULE_BINARY) + " " + args + " >" + out + " 2>" + err;
  int status = std::system(cmd.c_str());
  CommandResult r;
  if (WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) r.exit_code = 128 + WTERMSIG(status);
  r.out = Slurp(out);
  r.err = Slurp(err);
  return r;
}

}  // namespace joule::test
