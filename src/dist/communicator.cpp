// The MPI communicator: world and node, every call timed and its bytes counted.
#include <mpi.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdlib>
#include <thread>

#include "joule/dist.hpp"
#include "joule/util.hpp"

namespace joule::dist {

struct Communicator::Handles {
  MPI_Comm node = MPI_COMM_NULL;
  // Messages whose send timed out: MPI may still read them, so they live as
  // long as the process.
  std::vector<std::unique_ptr<std::vector<char>>> abandoned;
};

namespace {

void Check(int code, const char* call) {
  if (code == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(code, text, &len);
  throw Error(std::string(call) + " failed: " + std::string(text, static_cast<std::size_t>(len)));
}

// MPI counts are ints: a larger buffer goes in chunks.
constexpr std::int64_t kMaxChunk = INT_MAX / 8;

// Times one MPI call into `stats`.
class Timed {
 public:
  explicit Timed(CommStats& stats) : stats_(stats), start_(MonotonicSeconds()) {}
  ~Timed() {
    stats_.mpi_s += MonotonicSeconds() - start_;
    ++stats_.calls;
  }

 private:
  CommStats& stats_;
  double start_;
};

}  // namespace

Communicator::Communicator(int* argc, char*** argv) : h_(std::make_unique<Handles>()) {
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (!initialized) {
    int provided = 0;
    Check(MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
  }
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
  MPI_Comm_size(MPI_COMM_WORLD, &size_);
  Check(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &h_->node),
        "MPI_Comm_split_type");
  MPI_Comm_set_errhandler(h_->node, MPI_ERRORS_RETURN);
  MPI_Comm_rank(h_->node, &local_rank_);
  MPI_Comm_size(h_->node, &local_size_);
  // Nodes are numbered by their leaders' world ranks: count the leaders
  // below this node's leader.
  int leader_rank = rank_;
  Check(MPI_Bcast(&leader_rank, 1, MPI_INT, 0, h_->node), "MPI_Bcast");
  std::vector<int> leaders(static_cast<std::size_t>(size_));
  int mine = leader() ? 1 : 0;
  Check(MPI_Allgather(&mine, 1, MPI_INT, leaders.data(), 1, MPI_INT, MPI_COMM_WORLD),
        "MPI_Allgather");
  node_ = 0;
  nodes_ = 0;
  for (int r = 0; r < size_; ++r) {
    if (leaders[static_cast<std::size_t>(r)] == 0) continue;
    if (r < leader_rank) ++node_;
    ++nodes_;
  }
  char name[MPI_MAX_PROCESSOR_NAME];
  int len = 0;
  MPI_Get_processor_name(name, &len);
  host_.assign(name, static_cast<std::size_t>(len));
}

Communicator::~Communicator() {
  if (!finalize_) return;
  if (h_->node != MPI_COMM_NULL) MPI_Comm_free(&h_->node);
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized) MPI_Finalize();
}

void Communicator::Broadcast(float* data, std::int64_t n, int root) {
  Timed t(stats_);
  for (std::int64_t off = 0; off < n; off += kMaxChunk) {
    int count = static_cast<int>(std::min(kMaxChunk, n - off));
    Check(MPI_Bcast(data + off, count, MPI_FLOAT, root, MPI_COMM_WORLD), "MPI_Bcast");
  }
  auto bytes = n * static_cast<std::int64_t>(sizeof(float));
  if (rank_ == root) {
    stats_.bytes_sent += bytes;
  } else {
    stats_.bytes_received += bytes;
  }
}

void Communicator::Broadcast(std::string& text, int root) {
  Timed t(stats_);
  long long n = static_cast<long long>(text.size());
  Check(MPI_Bcast(&n, 1, MPI_LONG_LONG, root, MPI_COMM_WORLD), "MPI_Bcast");
  text.resize(static_cast<std::size_t>(n));
  if (n > 0) {
    Check(MPI_Bcast(text.data(), static_cast<int>(n), MPI_CHAR, root, MPI_COMM_WORLD), "MPI_Bcast");
  }
  if (rank_ == root) {
    stats_.bytes_sent += n;
  } else {
    stats_.bytes_received += n;
  }
}

void Communicator::AllreduceSum(float* data, std::int64_t n) {
  Timed t(stats_);
  for (std::int64_t off = 0; off < n; off += kMaxChunk) {
    int count = static_cast<int>(std::min(kMaxChunk, n - off));
    Check(MPI_Allreduce(MPI_IN_PLACE, data + off, count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD),
          "MPI_Allreduce");
  }
  stats_.bytes_sent += n * static_cast<std::int64_t>(sizeof(float));
  stats_.bytes_received += n * static_cast<std::int64_t>(sizeof(float));
}

void Communicator::AllreduceSum(double* data, std::int64_t n) {
  Timed t(stats_);
  Check(MPI_Allreduce(MPI_IN_PLACE, data, static_cast<int>(n), MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD),
        "MPI_Allreduce");
  stats_.bytes_sent += n * static_cast<std::int64_t>(sizeof(double));
  stats_.bytes_received += n * static_cast<std::int64_t>(sizeof(double));
}

std::vector<double> Communicator::GatherToRoot(const std::vector<double>& mine) {
  Timed t(stats_);
  std::vector<double> all;
  if (rank_ == 0) all.resize(mine.size() * static_cast<std::size_t>(size_));
  Check(MPI_Gather(mine.data(), static_cast<int>(mine.size()), MPI_DOUBLE, all.data(),
                   static_cast<int>(mine.size()), MPI_DOUBLE, 0, MPI_COMM_WORLD),
        "MPI_Gather");
  stats_.bytes_sent += static_cast<std::int64_t>(mine.size() * sizeof(double));
  return all;
}

void Communicator::Barrier() {
  Timed t(stats_);
  Check(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier");
}

bool Communicator::Send(const std::vector<char>& bytes, int dest, int tag, double timeout_s) {
  Timed t(stats_);
  auto owned = std::make_unique<std::vector<char>>(bytes);
  MPI_Request request;
  Check(MPI_Isend(owned->data(), static_cast<int>(owned->size()), MPI_CHAR, dest, tag,
                  MPI_COMM_WORLD, &request),
        "MPI_Isend");
  double deadline = MonotonicSeconds() + timeout_s;
  for (;;) {
    int done = 0;
    Check(MPI_Test(&request, &done, MPI_STATUS_IGNORE), "MPI_Test");
    if (done) break;
    if (MonotonicSeconds() > deadline) {
      h_->abandoned.push_back(std::move(owned));
      return false;
    }
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  stats_.bytes_sent += static_cast<std::int64_t>(bytes.size());
  return true;
}

int Communicator::Receive(std::vector<char>& bytes, int source, int tag, double timeout_s) {
  Timed t(stats_);
  int src = source == kAnySource ? MPI_ANY_SOURCE : source;
  double deadline = MonotonicSeconds() + timeout_s;
  MPI_Status status;
  for (;;) {
    int found = 0;
    Check(MPI_Iprobe(src, tag, MPI_COMM_WORLD, &found, &status), "MPI_Iprobe");
    if (found) break;
    if (MonotonicSeconds() > deadline) return -1;
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  int count = 0;
  MPI_Get_count(&status, MPI_CHAR, &count);
  bytes.resize(static_cast<std::size_t>(count));
  Check(MPI_Recv(bytes.data(), count, MPI_CHAR, status.MPI_SOURCE, tag, MPI_COMM_WORLD,
                 MPI_STATUS_IGNORE),
        "MPI_Recv");
  stats_.bytes_received += count;
  return status.MPI_SOURCE;
}

void Communicator::Abort(int code) {
  MPI_Abort(MPI_COMM_WORLD, code);
  std::_Exit(code);
}

}  // namespace joule::dist
