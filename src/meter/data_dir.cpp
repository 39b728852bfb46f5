#include "meter/data_dir.hpp"

#include <filesystem>

#include "joule/util.hpp"

namespace joule::meter {

std::string BundledDataDir() {
  try {
    return DataDir();
  } catch (const Error& e) {
#ifdef JOULE_INSTALL_DATA_DIR
    if (std::filesystem::is_directory(JOULE_INSTALL_DATA_DIR)) return JOULE_INSTALL_DATA_DIR;
    throw Error(std::string(e.what()) + "; the installed copy " + JOULE_INSTALL_DATA_DIR +
                " is missing too");
#else
    throw;
#endif
  }
}

}  // namespace joule::meter
