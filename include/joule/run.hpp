// joule/run.hpp: a run end to end. The schema of a training job (one table
// that names every field once, with its type, range, default, help and
// command-line flag, and drives both the recipe keys and the flags), recipes,
// the training job (JobConfig -> RunJob -> JobResult) and the pipelines built
// on it: the loss study and the main job (`joule demo`); the compression
// jobs; and measuring a command (`joule measure`: MeasureJob -> RunMeasureJob).
//
// Run layer (src/run/*.cpp, library joule_run): above train, compress, meter
// and ledger; below the command line, which only parses, calls these and
// prints. Errors name key paths ("early_stopping.patience"), never flags: the
// command line maps a key to its flag for its own messages (see ConfigProblem).
//
// Nothing here is thread safe: one run is driven by one thread.
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "joule/carbon.hpp"
#include "joule/compress/distill.hpp"
#include "joule/compress/early_exit.hpp"
#include "joule/compress/inference.hpp"
#include "joule/compress/prune.hpp"
#include "joule/compress/quantize.hpp"
#include "joule/energy_report.hpp"
#include "joule/meter.hpp"
#include "joule/meter_session.hpp"
#include "joule/run_record.hpp"
#include "joule/train.hpp"

namespace joule {

// ---------------------------------------------------------------------------
// A training job
// ---------------------------------------------------------------------------

// A whole training job as the recipes and the command line describe it. Its
// fields are declared, with their ranges and flags, by JobSchema(); the key
// paths there are the names error messages use.
struct JobConfig {
  std::string data = "mnist";
  std::string target;                   // CSV target column
  std::string task = "classification";  // CSV: classification | regression
  std::string model = "mlp";            // mlp | cnn
  // Empty: cross-entropy (classification) or mse (regression). Regression:
  // mse | mae | huber | log-cosh | annealed-huber.
  std::string loss;
  double huber_delta = 1.0;             // huber
  AnnealedHuberOptions annealed_huber;  // annealed-huber
  int epochs = 10;
  std::int64_t batch_size = 128;
  // constant | step | cosine | one-cycle | reduce-on-plateau (see LrScheduleOptions).
  std::string lr_schedule = "cosine";
  LrScheduleOptions lr_schedule_options;
  // SGD with momentum 0.9 at lr 0.05: reaches 98% on MNIST's MLP in 10 epochs.
  OptimizerConfig optimizer{.kind = "sgd", .lr = 0.05, .momentum = 0.9};
  std::string precision = "f32";  // f32 | bf16
  int threads = 0;                // 0: all cores
  std::uint64_t seed = 1;
  // Fraction of the training rows held out (seeded) as the validation split
  // the callbacks monitor, in [0, 1). 0: they monitor the test / holdout set,
  // evaluated after every epoch (and the result says so in notes).
  double validation_fraction = 0;
  EarlyStoppingOptions early_stopping;
  TargetOptions target_metric;  // (`target` above is the CSV column)
  BudgetOptions budget;
  PredictionOptions prediction;
  AdaptiveBatchOptions adaptive_batch;
  CheckpointOptions checkpoint;
  MeteringOptions metering;
  std::string save_dir;  // empty: do not save
};

struct JobResult {
  EvalResult final_eval;  // the test / holdout set, with the final weights
  std::string eval_name;  // "test" or "holdout"
  Task task = Task::kClassification;
  int epochs = 0;  // epochs run (a partial one counts), resumed ones included
  std::int64_t steps = 0;
  double seconds = 0;  // training and per-epoch evaluation, not data loading
  std::int64_t parameters = 0;
  std::int64_t flops_per_inference = 0;  // ForwardFlops of the model, one sample
  std::int64_t samples_seen = 0;         // training rows x epochs run
  std::vector<EpochStats> history;
  // Energy and carbon of the training (steps, per-epoch evaluation, callbacks,
  // checkpoints); not data loading, not the final test evaluation. Its
  // intensity_source says where the intensity came from ("world average 475
  // g/kWh: no location given (...)"); metered() false when not metered.
  EnergyReport energy;
  StopReason stop_reason = StopReason::kEpochLimit;
  std::string stop_message;
  std::optional<CostPrediction> prediction;  // set when a prediction was asked for and made
  std::optional<bool> target_reached;        // set when a target was configured
  int target_epoch = 0;                      // the epoch that reached it; 0 if none
  int best_epoch = 0;                        // early stopping: the epoch whose weights were kept
  int resumed_from_epoch = 0;
  std::vector<std::string> notes;  // one line each, for the user
};

// ---------------------------------------------------------------------------
// The schema
// ---------------------------------------------------------------------------

enum class FieldType {
  kString,   // any string, or one of `choices`
  kPath,     // a path; a recipe's relative paths are taken from its directory
  kBoolean,  // true | false
  kInteger,  // within `range`
  kNumber,   // finite, within `range`
};

// A field's value. monostate: an optional field that is not set.
using FieldValue = std::variant<std::monostate, bool, std::int64_t, double, std::string>;

// An interval of allowed numbers; `text` says it the way a message does
// ("> 0", "in [0, 1)"); empty text: any finite number.
struct NumberRange {
  double lo = -std::numeric_limits<double>::infinity();
  double hi = std::numeric_limits<double>::infinity();
  bool lo_open = false, hi_open = false;
  std::string text;
  bool Contains(double v) const;
};

// One field of a job, declared once: recipes read it under `key`, the command
// line under `flag`, and validation checks it against `type`, `range` and
// `choices`.
struct JobField {
  std::string key;  // dotted path: "early_stopping.patience"
  FieldType type = FieldType::kString;
  std::string help;                  // one line, for --help and --recipe-keys
  NumberRange range;                 // kInteger, kNumber
  bool optional = false;             // kNumber without a default (std::optional)
  std::vector<std::string> choices;  // kString: the allowed values; empty: any
  std::string keyword;               // kPath: a value kept as it is ("mnist")
  // The command-line flag ("--patience"); empty: recipes only. With
  // `switch_value` set the flag takes no value and sets that one.
  std::string flag;
  FieldValue switch_value;
  // Other fields a given flag sets too (--patience turns early stopping on).
  std::vector<std::pair<std::string, FieldValue>> flag_implies;
  // False for a second flag on a key (--target-rmse): not a recipe key.
  bool recipe_key = true;
  // "metering": the metering flags shared by train, demo and study; "job" else.
  std::string group = "job";
  // Reads and writes the field of a config. `set` takes a value that passed
  // CheckFieldValue.
  std::function<FieldValue(const JobConfig&)> get;
  std::function<void(JobConfig&, const FieldValue&)> set;
};

// Every field of a training job, in recipe order (top-level keys, then each
// table's). The same object for the life of the program.
const std::vector<JobField>& JobSchema();

// The recipe field with this key, or null. Flag-only entries are skipped.
const JobField* FindJobField(const std::string& key);

// The type and range in words: "integer >= 1", "string: f32 | bf16".
std::string FieldTypeText(const JobField& field);

// A value as a message shows it: 5, 0.25, "fp16", true; "none" when unset.
std::string ShowFieldValue(const FieldValue& value);

// Checks a value of the right type against the field's range and choices.
// Returns "" when it is allowed, else what is wrong, in words that follow the
// value: "must be >= 1", "is not one of: f32, bf16".
std::string CheckFieldValue(const JobField& field, const FieldValue& value);

// Parses a command-line value for `field` into *out. Returns "" on success,
// else what is wrong ("is not an integer"). Does not check the range.
std::string ParseFieldText(const JobField& field, const std::string& text, FieldValue* out);

// What is wrong with a config: the key path it concerns, the value as shown
// (empty when the message names it already) and what is wrong. Front ends
// choose the name: the recipe's key and line, or the flag.
struct ConfigProblem {
  std::string key;
  std::string value;
  std::string what;
  // "key = value: what" (or "key: what" when value is empty).
  std::string Message() const;
};

// The first problem of `config`, checking every field against the schema and
// then the fields that depend on each other (a budget needs the meter, a
// checkpoint schedule needs a directory, the carbon location must be known)
// and what the train layer's constructors reject (key empty then), before
// anything is loaded. nullopt: the config can run.
std::optional<ConfigProblem> FindConfigProblem(const JobConfig& config);

// FindConfigProblem, and on success keeps the carbon model it resolved in
// config.metering.resolved_carbon, so the run's meter sessions do not read
// the carbon tables again. A config whose resolved_carbon is set already
// (another job's, for the same location) is not resolved again.
std::optional<ConfigProblem> ResolveJobConfig(JobConfig& config);

// Throws Error(problem->Message()) when FindConfigProblem finds one.
void ValidateJobConfig(const JobConfig& config);

// The metering fields alone (the schema's "metering" group: sensors' declared
// figures, carbon location and intensity, PUE, embodied carbon, interval),
// checked as FindConfigProblem checks them, then the carbon location
// resolved and kept in metering.resolved_carbon (unless set already).
// Problems name "metering.*" keys. For jobs that meter without training
// (`joule measure`).
std::optional<ConfigProblem> ResolveMeteringOptions(MeteringOptions& metering);

// Validates, loads the data, builds the model from the seed, builds the
// callbacks the config asks for (in this order: lr schedule, Huber delta,
// budget, target, early stopping, adaptive batch, then `extra_callbacks`),
// trains with Fit, evaluates on the test / holdout set, and saves when asked
// (ModelMetadata beside the weights). extra_callbacks are not owned (e.g. a
// live progress line). `data`, when given, is used instead of loading
// config.data (it must be what PrepareData gives for the config's data,
// target, task, seed and validation fraction). `validated`: the caller ran
// ValidateJobConfig on this config already (a front end that words the
// problems itself), so it is not run again. Throws Error.
//
// `adapt`, when set, is called once the model (seeded, before any step), the
// loss and Fit's options are built, just before Fit: data-parallel training
// (joule/dist.hpp) installs its step and evaluation hooks there and
// broadcasts rank 0's weights.
using FitAdapter = std::function<void(Sequential& model, Loss& loss, const PreparedData& data,
                                      FitOptions& options)>;
JobResult RunJob(const JobConfig& config, const std::function<void(const EpochStats&)>& on_epoch,
                 const std::vector<Callback*>& extra_callbacks = {},
                 const PreparedData* data = nullptr, bool validated = false,
                 const FitAdapter& adapt = nullptr);

// ---------------------------------------------------------------------------
// Run records
// ---------------------------------------------------------------------------

// The config as its schema keys, flat: {"epochs": 20, "optimizer.lr": 0.05,
// ...}; unset optional numbers are left out. What RunRecord::config holds.
nlohmann::json JobConfigJson(const JobConfig& config);

// The header RunRecorder begins a run with: kind ("train", "demo", "study",
// "compress.quantize", ..., "bench-infer"), name, config, the parent run's
// id ("" for none) and the host's facts. Never throws.
RunRecord RunHeader(const std::string& kind, const std::string& name, nlohmann::json config,
                    const std::string& parent_id = "");

// One epoch as the ledger keeps it: seconds, joules, grams, and metrics
// {loss (training), eval_loss, lr, accuracy when evaluated, partial}.
EpochRow EpochRowOf(const EpochStats& stats);

// A training job's final metrics: loss, epochs, steps, and accuracy
// (classification) or rmse and mae (regression).
// A run's cost prediction beside what it spent: the prediction's fields,
// realised_energy_j, ran_to_limit and (when it ran to its epoch limit, the
// case the prediction is for) error_percent = 100 (predicted - realised) /
// realised. Null when the run made no prediction.
nlohmann::json PredictionJson(const JobResult& r);
nlohmann::json JobMetrics(const JobResult& result);

// The ledger's record of a finished training job: kind "train", `name`, the
// config (JobConfigJson), start and end, the energy, the final metrics and a
// row per epoch. Ids, host facts, versions and the pid are the recorder's to
// fill. Status: completed (a callback's stop is a completion; its reason is
// the message).
RunRecord TrainRunRecord(const std::string& name, const JobConfig& config, const JobResult& result);

// ---------------------------------------------------------------------------
// Recipes
// ---------------------------------------------------------------------------

// A training job described by a TOML file, for `joule train --recipe FILE`
// and `joule demo`. Its keys are JobSchema()'s, plus `name` and
// `description`; `joule train --recipe-keys` lists them (RecipeKeys).
struct Recipe {
  std::string path;         // as given to LoadRecipe
  std::string name;         // the `name` key, else the file name without .toml
  std::string description;  // the `description` key; may be empty
  JobConfig config;         // JobConfig's defaults, then every key the file set
  // The line of every key the file set, by key path ("budget.energy_j").
  std::map<std::string, int> key_lines;
};

// Reads the TOML file at `path` into a Recipe. Keys the file does not set keep
// JobConfig's defaults. Relative paths (kPath fields) are taken relative to
// the recipe's directory, so a recipe and its data can move together ("mnist"
// is the bundled data set, not a path).
//
// Throws joule::Error with one line "FILE:LINE: ..." for the first problem in
// file order: a TOML syntax error (with the column), an unknown key (with the
// closest known key and the keys its table takes), a value of the wrong type,
// or a value out of range. Cross-field checks are FindConfigProblem's; see
// RecipeProblemMessage.
Recipe LoadRecipe(const std::string& path);

// The same from text already read; `path` is used in messages and to resolve
// relative paths.
Recipe ParseRecipe(const std::string& text, const std::string& path);

// One line per accepted key: "budget.energy_j  number > 0 (optional)".
std::vector<std::string> RecipeKeys();

// The problem's message, prefixed with "FILE:LINE: " when the recipe set the
// key it concerns.
std::string RecipeProblemMessage(const Recipe& recipe, const ConfigProblem& problem);

// The directory of the bundled recipes: recipes/ beside DataDir().
std::string BundledRecipesDir();

// ---------------------------------------------------------------------------
// Saved models
// ---------------------------------------------------------------------------

// The data a saved model is evaluated on, prepared the way the model was
// trained: `data` is "mnist" (its test split), an IDX directory (its t10k
// files) or a .csv (every row; `target` "" takes the metadata's). Applies the
// metadata's feature standardisation and, for regression, its target
// scaling, which *scaler receives. Throws Error naming `data` when its width
// differs from the model's.
Dataset LoadDataForModel(const ModelMetadata& meta, const std::string& data,
                         const std::string& target, TargetScaler* scaler);

struct SavedModelEval {
  Task task = Task::kClassification;
  EvalResult eval;
};

// `joule eval`: loads DIR, scores it with the loss it was trained with.
// Throws Error for a missing or malformed model or data.
SavedModelEval EvaluateSavedModel(const std::string& dir, const std::string& data,
                                  const std::string& target);

// `joule eval --outputs`: what the saved model in `dir` outputs (its last
// layer's values, unprocessed: logits, or probabilities for a model ending in
// Softmax) for the first `rows` rows (all when rows <= 0) of the data
// LoadDataForModel prepares, run in inference mode. f32 [rows, outputs].
// Throws Error as EvaluateSavedModel.
Tensor SavedModelOutputs(const std::string& dir, const std::string& data, const std::string& target,
                         std::int64_t rows);

// Writes an f32 tensor as a NumPy .npy file (format 1.0, '<f4', C order),
// atomically, so numpy.load reads it as it is. Throws Error.
void WriteNpy(const std::string& path, const Tensor& t);

struct SavedModelBench {
  std::string kind;            // InferenceModel::kind()
  InferenceBenchResult bench;  // size_bytes filled in
};

// `joule bench-infer`: any model directory (LoadInferenceModel) on its
// evaluation data, with BenchInference, recorded in `ledger` as a
// "bench-infer" run (empty path: not). `on_loaded` (may be null) is called
// with the row count once the data is loaded, before the timed part. Throws
// Error for a regressor (bench-infer measures classifiers).
SavedModelBench BenchSavedModel(const std::string& dir, const std::string& data,
                                const InferenceBenchOptions& options,
                                const std::function<void(std::int64_t rows)>& on_loaded,
                                const LedgerTarget& ledger = {});

// ---------------------------------------------------------------------------
// Compression jobs
// ---------------------------------------------------------------------------

// `joule compress quantize`: int8 post-training quantization of a saved model,
// or quantization-aware training (qat) followed by conversion to int8.
struct QuantizeJob {
  std::string model_dir, out_dir;
  std::string data = "mnist";  // mnist or an IDX directory
  QuantizeOptions options;
  bool qat = false;
  int epochs = 2;     // qat: fine-tuning epochs
  double lr = 0.005;  // qat: SGD learning rate
  std::uint64_t seed = 1;
  MeteringOptions metering;                         // of the QAT fine-tuning
  std::function<void(const EpochStats&)> on_epoch;  // qat progress; may be null
  LedgerTarget ledger;  // recorded as a "compress.quantize" run; empty path: not
};

struct QuantizeJobResult {
  double f32_accuracy = 0, int8_accuracy = 0;
  double drop_points = 0;  // 100 x (f32 - int8)
  std::string eval_name;
  std::int64_t calibration_rows = 0;
  EnergyReport qat_energy;  // metered() false for PTQ
  // What the int8 model's metadata records under "quantization".
  nlohmann::json quantization;
};

// Loads model_dir, quantizes (PTQ, or QAT fine-tuning then conversion),
// evaluates both models on the test split and saves the int8 model to
// out_dir with ModelMetadata (compression "int8-ptq" / "int8-qat"). Throws
// Error for bad options, CSV data or a model quantization cannot take.
QuantizeJobResult RunQuantizeJob(const QuantizeJob& job);

// `joule compress distill`: a small MLP student trained from a saved teacher.
struct DistillJob {
  std::string teacher_dir, out_dir;
  std::string data = "mnist";
  std::vector<std::int64_t> hidden = {64, 32};
  DistillOptions distill;
  int epochs = 10;
  // Below joule train's 0.05: the soft term's gradient, T (q - p), is up to T
  // times cross-entropy's, and at 0.05 with T = 4 the MNIST student diverges.
  double lr = 0.01;
  std::uint64_t seed = 1;
  bool baseline = false;  // also train the same student alone, from the same weights
  MeteringOptions metering;
  // Progress: `what` is "distill" or "baseline"; may be null.
  std::function<void(const std::string& what, const CompressEpochStats&)> on_epoch;
  LedgerTarget ledger;  // recorded as a "compress.distill" run; empty path: not
};

struct DistillJobResult {
  std::string eval_name;
  EvalResult teacher_eval;
  std::int64_t teacher_parameters = 0, student_parameters = 0;
  CompressTrainResult distilled;
  std::optional<CompressTrainResult> baseline;
};

// Trains the student with DistillationLoss (and the baseline with labels
// only when asked) and saves the distilled student to out_dir. Throws Error.
DistillJobResult RunDistillJob(const DistillJob& job);

// `joule compress prune`: a saved model pruned and fine-tuned on the split it
// was trained on (ModelMetadata's data, target, task and seed).
struct PruneJob {
  std::string model_dir, out_dir;
  std::string data = "mnist";
  PruneJobOptions options;   // options.seed and options.metering are the job's to set
  std::string scope_name;    // options.scope as the user named it, for the record
  MeteringOptions metering;  // of the fine-tuning
  LedgerTarget ledger;       // recorded as a "compress.prune" run; empty path: not
};

struct PruneJobReport {
  PruneJobResult result;                                     // result.model is the saved model
  std::int64_t size_bytes_before = 0, size_bytes_after = 0;  // model.json + model.safetensors
};

// Loads, prunes and fine-tunes (PruneAndFineTune), and saves to out_dir with
// the source's metadata plus a "compression" record of what was done (method,
// source, options, accuracies, sparsities, architecture). Throws Error.
PruneJobReport RunPruneJob(const PruneJob& job);

// `joule compress early-exit`: a model trained with exits after
// intermediate layers, its entropy threshold chosen on a validation split.
struct EarlyExitJob {
  std::string out_dir;
  std::string data = "mnist";
  std::string model = "cnn";
  int epochs = 5;
  double lr = 0.05;
  std::vector<double> exit_weights;  // empty: 0.3 per early exit, 1 for the last
  double max_drop = 0.3;             // accuracy points the threshold may cost on validation
  double threshold = -1;             // >= 0: this threshold, no sweep
  double validation = 0.1;           // fraction of the training rows
  std::uint64_t seed = 1;
  MeteringOptions metering;
  std::function<void(const CompressEpochStats&)> on_epoch;  // may be null
  LedgerTarget ledger;  // recorded as a "compress.early-exit" run; empty path: not
};

struct EarlyExitJobResult {
  ThresholdSweep validation, test;  // the same thresholds, chosen on validation
  double threshold = 0;
  std::int64_t parameters = 0;
  double plain_macs = 0;                        // the network without exits
  double worst_macs = 0;                        // every segment and the last exit
  double routed_accuracy = 0, routed_macs = 0;  // the saved model on the test set
  CompressTrainResult trained;
};

// Trains, sweeps the thresholds on validation (never the test set), routes
// the test set through the chosen one and saves to out_dir. Throws Error.
EarlyExitJobResult RunEarlyExitJob(const EarlyExitJob& job);

// ---------------------------------------------------------------------------
// The loss study
// ---------------------------------------------------------------------------

// The regression losses the study compares, in its order.
const std::vector<std::string>& StudyLosses();

struct LossStudyOptions {
  int seeds = 3;           // runs per loss, seeds 1..seeds
  double target_rmse = 0;  // 0: target_fraction x the target's standard deviation
  double target_fraction = 0.5;
  std::vector<std::string> losses = StudyLosses();
  LedgerTarget ledger;  // where the study is recorded, as one "study" run; empty: not
};

// The job every run of the study starts from: an MLP with Adam at a constant
// lr 1e-3 (a schedule would tie "epochs to target" to the epoch limit), batch
// 128, a 20% validation split, on `data`'s column `target`.
JobConfig LossStudyBaseJob(const std::string& data, const std::string& target, int max_epochs);

// Mean and sample standard deviation (n - 1; 0 for one value).
struct Spread {
  double mean = 0, sd = 0;
  int n = 0;  // 0: no value
};

// One run of the study. "To the target" is read from the run's history (the
// first epoch whose validation RMSE is at or below the target, and the joules
// to the end of that epoch, its evaluation included); every run goes to the
// epoch limit so the final figures compare the losses after as many epochs.
struct StudyRun {
  std::uint64_t seed = 0;
  bool reached = false;
  int epochs_to_target = 0;
  double energy_to_target_j = 0;
  double seconds_to_target = 0;
  double best_validation_rmse = 0;
  double final_rmse = 0, final_mae = 0;  // holdout, after every epoch ran
  EnergyReport energy;                   // the whole run
  double seconds = 0;
  int epochs = 0;
};

struct StudyLoss {
  std::string loss;
  std::vector<StudyRun> runs;
  Spread epochs, energy_j, final_rmse, final_mae, total_energy_j;  // epochs, energy: reached runs
  int reached = 0;
};

struct LossStudyResult {
  double target_rmse = 0;    // in the target's units
  double target_stddev = 0;  // of the target column on seed 1's training split
  std::vector<StudyLoss> losses;
  JobResult last;  // the last run: its energy method and intensity describe them all
};

// Validates, then trains base with every loss and seed. `on_run` (may be
// null) is called after each run with its 1-based index, the count, the loss
// and its figures. Throws Error: "losses" naming an unknown loss, a bad
// target, what ValidateJobConfig and RunJob throw.
LossStudyResult RunLossStudy(const JobConfig& base, const LossStudyOptions& options,
                             const std::function<void(int index, int count, const std::string& loss,
                                                      const StudyRun& run)>& on_run);

// ---------------------------------------------------------------------------
// The main job
// ---------------------------------------------------------------------------

// One recipe of the main job and what it did.
struct DemoRow {
  Recipe recipe;
  JobResult result;
  std::string run_id;     // its train run's id in the ledger
  bool recorded = false;  // false: --no-ledger, or the ledger could not be written
};

// The green model run for inference, f32 and int8.
struct DemoInference {
  std::string name;  // "f32" or "int8"
  InferenceBenchResult bench;
};

struct DemoResult {
  std::vector<DemoRow> rows;  // baseline, green
  std::vector<DemoInference> inference;
};

struct DemoOptions {
  std::string recipes_dir;  // empty: BundledRecipesDir()
  int max_epochs = 0;       // > 0: caps both recipes' epoch limits
  // Applied to each recipe's config after loading (command-line overrides).
  std::function<void(JobConfig&)> adjust;
  // Turns a config problem of a recipe into the message to throw (the command
  // line names its flags); null: RecipeProblemMessage.
  std::function<std::string(const Recipe&, const ConfigProblem&)> explain;
  // Progress: called before each stage with a one-line description, and for
  // each recipe's run, the callbacks to add (e.g. a progress line); may be null.
  std::function<void(const std::string& line)> on_stage;
  std::function<std::vector<Callback*>(const DemoRow& row)> callbacks;
  std::function<void(const DemoRow& row, const EpochStats& stats)> on_epoch;
  // Where the runs are recorded: a "demo" run, and a "train" run per recipe
  // whose parent it is. Empty path: not recorded.
  LedgerTarget ledger;
};

// The main job: loads recipes mnist-baseline.toml and mnist-green.toml,
// validates both, loads the data once when the recipes agree on it, trains
// each, then benchmarks the green model for inference in f32 and int8 (a
// QuantizeModel of it, calibrated on the training split). The green model is
// saved in its recipe's save_dir, else in a scratch directory removed at the
// end. Records the runs in options.ledger. Throws Error naming the recipe
// file for a missing or bad recipe.
DemoResult RunDemo(const DemoOptions& options);

// ---------------------------------------------------------------------------
// Measuring a command
// ---------------------------------------------------------------------------

// `joule measure`: a command run (or a running process attached to) and its
// whole process tree metered until it ends, recorded in the ledger as a
// "measure" run with every sample as it is taken.
struct MeasureJob {
  std::vector<std::string> command;  // run this; empty when attaching
  int pid = 0;                       // or attach to this process (> 0)
  // Sensors, attribution, carbon and the sampling interval ([0.01, 3600] s;
  // measure samples every second unless told otherwise).
  MeteringOptions metering = [] {
    MeteringOptions m;
    m.interval_s = 1.0;
    return m;
  }();
  std::string csv;                     // append a CodeCarbon row to this file ("": none)
  std::string samples;                 // write each sample to this file as JSON lines ("": none)
  std::string prometheus;              // serve metrics on HOST:PORT while measuring ("": none)
  std::string project_name = "joule";  // the CSV row's project_name
  // > 0 with no command and no pid: monitor the whole machine (machine
  // attribution) until SIGINT or SIGTERM, appending a CSV row for each
  // `every_s` seconds and one for the last, partial interval; the rows'
  // energies add up to the run's.
  double every_s = 0;
  LedgerTarget ledger;  // empty path: not recorded
  // Start the command in a process group of its own, so that one signal to
  // the group reaches its whole tree (a scheduler pauses it with SIGSTOP);
  // SIGINT and SIGTERM sent to joule are then forwarded to the group.
  bool own_process_group = false;
  // Called about every 0.1 s from a watcher thread while the command runs,
  // with its pid; may be null.
  std::function<void(int pid)> while_running;
  // Merged into the record's metrics when the run ends, given its energy
  // report; may be null.
  std::function<nlohmann::json(const EnergyReport&)> extra_metrics;
  // Each sensor warning, before the command starts; may be null.
  std::function<void(const std::string&)> on_warning;
};

// What is wrong with a measure job before anything runs: keys "command",
// "pid", "every" (a monitor needs machine attribution and no command),
// "metering.interval_s", "csv" (a directory that does not exist, an
// existing file that is not CodeCarbon's), then the metering fields
// (ResolveMeteringOptions, which keeps the resolved carbon model in
// job.metering). nullopt: it can run.
std::optional<ConfigProblem> ResolveMeasureJob(MeasureJob& job);

// The facts of a measured run besides the meter's reading.
struct MeasureFacts {
  std::vector<std::string> command;  // empty when attached
  int pid = 0;                       // the attached process, else the child's
  bool attached = false;
  int exit_code = 0;        // the command's (128 + signal when killed)
  std::string exit_text;    // "exit 0", "killed by signal 15 (Terminated)", "stopped by signal 2"
  int csv_rows = 0;         // rows appended to --csv
  double interval_s = 1;    // as the meter took it
  std::string run_id;       // the ledger's id, or a fresh one when not recorded
  std::string ledger_path;  // "" when not recorded
  std::vector<std::string> warnings;
  std::vector<std::string> source_details;  // "method: detail", one per power source
};

struct MeasureResult {
  MeterReading reading;
  std::shared_ptr<const CarbonModel> carbon;
  MeasureFacts facts;
  RunRecord record;  // as recorded (status, energy, metrics)
  // Output that failed after the command ran (it is not disturbed by them):
  // the --samples writer's error, and the CSV append's. Empty when fine.
  std::string samples_error, csv_error;
};

// The command could not be started (exec failed): nothing was measured and no
// output file is left. exit_code() is 127 (not found) or 126 (not runnable),
// as a shell gives.
class CommandNotStarted : public Error {
 public:
  CommandNotStarted(const std::string& message, int exit_code)
      : Error(message), exit_code_(exit_code) {}
  int exit_code() const { return exit_code_; }

 private:
  int exit_code_;
};

// Runs the job: checks it (ResolveMeasureJob; throws Error with the problem's
// Message()), discovers the sensors, begins the run in the ledger before the
// command starts, serves Prometheus when asked, starts the command (or
// watches the attached process) and meters its tree until it ends,
// finishes the record and appends the CSV row. SIGINT and SIGTERM sent to the
// process while it runs are forwarded to the command (attached: they stop the
// measurement); the handlers stay installed. Measuring a command makes this
// process a child subreaper, so orphaned descendants are counted.
// Throws CommandNotStarted, or Error (Prometheus address, files).
MeasureResult RunMeasureJob(MeasureJob job);

// The summary for stderr: several lines ending in "\n", estimated figures
// marked as such.
std::string FormatMeasureSummary(const MeasureResult& result);

// The summary as one JSON object (`joule measure --json`).
nlohmann::json MeasureSummaryJson(const MeasureResult& result);

// One record per sample (--samples): time, interval, share, and each
// channel's power over the interval and totals so far.
nlohmann::json MeasureSampleJson(const MeterReading& reading);

}  // namespace joule
