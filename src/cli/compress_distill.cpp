// joule compress distill: trains a small MLP student from a saved teacher
// (soft targets at temperature T blended with the labels) and saves it as an
// ordinary model directory; --baseline also trains the same student alone
// with the same budget so that the two can be compared.
#include <cstdio>
#include <memory>
#include <sstream>

#include "cli/commands.hpp"
#include "joule/compress/distill.hpp"

namespace joule::cli {
namespace {

struct DistillFlags {
  std::string teacher_dir, out_dir;
  std::string data = "mnist";
  std::string hidden = "64,32";
  double temperature = 4, alpha = 0.9;
  int epochs = 10;
  // Below joule train's 0.05: the soft term's gradient, T (q - p), is up to T
  // times cross-entropy's, and at 0.05 with T = 4 the MNIST student diverges.
  double lr = 0.01;
  std::uint64_t seed = 1;
  int threads = 0;
  bool json = false, baseline = false, no_meter = false;
};

std::vector<std::int64_t> ParseWidths(const std::string& text) {
  std::vector<std::int64_t> widths;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    std::size_t used = 0;
    long long w = 0;
    try {
      w = std::stoll(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != item.size() || w < 1) {
      throw Error("--hidden " + text + ": '" + item +
                  "' is not a positive layer width; expected e.g. --hidden 64,32");
    }
    widths.push_back(w);
  }
  if (widths.empty()) throw Error("--hidden is empty; expected e.g. --hidden 64,32");
  return widths;
}

nlohmann::json RunJson(const CompressTrainResult& r) {
  const CompressEpochStats& last = r.history.back();
  return {{"accuracy", last.eval.accuracy}, {"eval_name", last.eval_name},
          {"epochs", r.history.size()},     {"seconds", r.seconds},
          {"energy_j", r.energy_j},         {"energy_method", r.energy_method}};
}

void PrintRun(const char* what, std::int64_t params, const CompressTrainResult& r) {
  const CompressEpochStats& last = r.history.back();
  std::printf("%-22s %8lld params  %s accuracy %.2f%%  %.1f s", what,
              static_cast<long long>(params), last.eval_name.c_str(), 100 * last.eval.accuracy,
              r.seconds);
  if (!r.energy_method.empty()) std::printf("  %.1f J (%s)", r.energy_j, r.energy_method.c_str());
  std::printf("\n");
}

void RunDistill(const DistillFlags& f) {
  const std::vector<std::int64_t> hidden = ParseWidths(f.hidden);
  DistillationLoss(f.temperature, f.alpha);  // rejects bad values before the data loads
  SetNumThreads(f.threads);
  nlohmann::json teacher_meta;
  Sequential teacher = LoadModel(f.teacher_dir, &teacher_meta);
  PreparedData data = PrepareData(f.data, "", "classification", f.seed);
  std::unique_ptr<Loss> ce = MakeSoftmaxCrossEntropy();
  const EvalResult teacher_eval = Evaluate(teacher, *ce, data.eval, data.target_scaler);

  MeteringOptions metering;
  metering.enabled = !f.no_meter;
  CompressTrainOptions options;
  options.epochs = f.epochs;
  options.optimizer.lr = f.lr;
  options.seed = f.seed;
  options.metering = &metering;
  const DistillOptions distill{.temperature = f.temperature, .alpha = f.alpha};
  auto progress = [&f](const char* what) {
    return [&f, what](const CompressEpochStats& s) {
      if (f.json) return;
      std::fprintf(stderr, "%s epoch %d/%d: loss %.4f, %s accuracy %.2f%% (%.1f s)\n", what,
                   s.epoch, f.epochs, s.train_loss, s.eval_name.c_str(), 100 * s.eval.accuracy,
                   s.seconds);
    };
  };
  Rng rng(f.seed);
  Sequential student = MakeStudentMlp(data.train.x.shape(), hidden, data.train.num_classes, rng);
  // The baseline starts from the very same weights, so only the loss differs.
  Sequential alone = Sequential::FromArchitecture(student.Architecture());
  auto alone_tensors = alone.NamedTensors();
  auto student_tensors = student.NamedTensors();
  for (std::size_t i = 0; i < alone_tensors.size(); ++i) {
    alone_tensors[i].second->CopyFrom(*student_tensors[i].second);
  }
  options.on_epoch = progress("distill");
  CompressTrainResult distilled = TrainStudent(student, &teacher, distill, data, options);
  CompressTrainResult baseline;
  if (f.baseline) {
    options.on_epoch = progress("baseline");
    baseline = TrainStudent(alone, nullptr, distill, data, options);
  }

  nlohmann::json meta = {{"data", f.data},
                         {"task", "classification"},
                         {"model", "student-mlp"},
                         {"hidden", hidden},
                         {"loss", "cross-entropy"},
                         {"distilled_from", f.teacher_dir},
                         {"temperature", f.temperature},
                         {"alpha", f.alpha},
                         {"epochs", f.epochs},
                         {"seed", f.seed},
                         {"eval_name", data.eval_name}};
  WriteNormalizer(data.normalizer, meta);
  SaveModel(student, f.out_dir, meta);

  const std::int64_t teacher_params = teacher.ParameterCount();
  const std::int64_t student_params = student.ParameterCount();
  if (f.json) {
    nlohmann::json j = {{"out", f.out_dir},
                        {"teacher",
                         {{"dir", f.teacher_dir},
                          {"parameters", teacher_params},
                          {"accuracy", teacher_eval.accuracy}}},
                        {"student_parameters", student_params},
                        {"temperature", f.temperature},
                        {"alpha", f.alpha},
                        {"distilled", RunJson(distilled)}};
    if (f.baseline) j["baseline"] = RunJson(baseline);
    std::printf("%s\n", j.dump().c_str());
    return;
  }
  std::printf("%-22s %8lld params  %s accuracy %.2f%%\n", "teacher",
              static_cast<long long>(teacher_params), data.eval_name.c_str(),
              100 * teacher_eval.accuracy);
  PrintRun("student, distilled", student_params, distilled);
  if (f.baseline) PrintRun("student, trained alone", student_params, baseline);
  std::printf("student/teacher parameters %.1f%%; saved %s\n",
              100.0 * static_cast<double>(student_params) / static_cast<double>(teacher_params),
              f.out_dir.c_str());
}

}  // namespace

void RegisterCompressDistill(CLI::App& compress) {
  auto f = std::make_shared<DistillFlags>();
  CLI::App* cmd = compress.add_subcommand(
      "distill", "Train a small MLP student from a teacher model (knowledge distillation)");
  cmd->add_option("--teacher", f->teacher_dir, "teacher model directory (joule train --save)")
      ->required();
  cmd->add_option("--out", f->out_dir, "where to save the student")->required();
  cmd->add_option("--data", f->data, "mnist or an IDX directory")->capture_default_str();
  cmd->add_option("--hidden", f->hidden, "student hidden widths, comma-separated")
      ->capture_default_str();
  cmd->add_option("--temperature", f->temperature, "softmax temperature T of the soft targets")
      ->capture_default_str();
  cmd->add_option("--alpha", f->alpha, "weight of the soft (teacher) term in [0, 1]")
      ->capture_default_str();
  cmd->add_option("--epochs", f->epochs, "training epochs")->capture_default_str();
  cmd->add_option("--lr", f->lr, "SGD learning rate (cosine schedule)")->capture_default_str();
  cmd->add_option("--seed", f->seed, "seed of the student's weights and batch order")
      ->capture_default_str();
  cmd->add_option("--threads", f->threads, "compute threads (0: all cores)");
  cmd->add_flag("--baseline", f->baseline,
                "also train the same student alone (labels only, same epochs) and print both");
  cmd->add_flag("--no-meter", f->no_meter, "do not measure energy");
  cmd->add_flag("--json", f->json, "print the figures as one JSON object on stdout");
  cmd->callback([f] { RunDistill(*f); });
}

}  // namespace joule::cli
