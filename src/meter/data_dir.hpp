// Where the meter finds its bundled tables (cpu_power.csv, carbon tables).
#pragma once

#include <string>

namespace joule::meter {

// DataDir() (JOULE_DATA_DIR, then the source tree's data/), else the
// installed copy (<prefix>/share/joule) for a library installed with
// `cmake --install`. Throws joule::Error naming every place tried.
std::string BundledDataDir();

}  // namespace joule::meter
