// Names of the grid layer's enums, as the CLI, JSON and the ledger spell them.
#include "joule/grid.hpp"

namespace joule::grid {

std::string_view SignalName(Signal s) {
  switch (s) {
    case Signal::kDirect:
      return "direct";
    case Signal::kLca:
      return "lca";
    case Signal::kMarginal:
      return "marginal";
  }
  return "lca";
}

}  // namespace joule::grid
