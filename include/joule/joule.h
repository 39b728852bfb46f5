/* joule/joule.h: the meter from C and from any language with a C FFI
 * (Python ctypes, Rust, Go, Julia, ...).
 *
 * A joule_meter measures the energy (joules) and carbon (grams CO2eq) of the
 * calling process and its children, or of the whole machine, from the best
 * source the machine has: RAPL, NVML, hwmon, or the TDP model where no sensor
 * exists. Every figure carries a method label ("measured:rapl",
 * "estimated:tdp-model", ...); `estimated` is 1 when any of them is not a
 * measurement.
 *
 * Errors: functions return 0 on success and -1 on failure (create returns
 * NULL); joule_last_error() then returns a one-line message saying what was
 * wrong and how to fix it. No function throws or aborts on bad input.
 *
 * Threads: one joule_meter may be used from several threads at once. The
 * error message is per thread.
 *
 * Link: pkg-config --cflags --libs joule, or CMake find_package(joule) and
 * target joule::meter, for the meter functions. The run functions (recording
 * in joule's ledger, CodeCarbon rows; the second half of this file) live in
 * the shared library libjoule.so, which holds the whole C API and is what
 * the Python package loads. Bundled tables (CPU TDPs, carbon intensities) are
 * found through $JOULE_DATA_DIR, else where the library was built or
 * installed. */
#ifndef JOULE_JOULE_H_
#define JOULE_JOULE_H_

#ifdef __cplusplus
extern "C" {
#endif

typedef struct joule_meter joule_meter;

/* Settings for joule_meter_create. Call joule_options_init first: it sets
 * every field to its default, so that fields added later keep working. */
typedef struct joule_options {
  double interval_s;          /* seconds between samples, 0.01..3600; default 1 */
  int whole_machine;          /* 0 (default): this process and its children; 1: the machine */
  const char* country_iso3;   /* carbon intensity of a country, e.g. "FRA"; NULL: none */
  double intensity_g_per_kwh; /* fixed intensity; < 0 (default): not given */
  double pue;                 /* data-centre PUE, >= 1; default 1 */
  double cpu_tdp_w;           /* the model's CPU TDP; <= 0 (default): looked up */
  double declared_power_w;    /* the machine's wall power; <= 0 (default): use sensors */
  /* Added with the run functions; joule_options_init sets them too. */
  double ram_power_w;         /* the model's RAM power; < 0 (default): from MemTotal */
  double wue;                 /* litres of water per kWh (PUE applied), >= 0; default 0 */
  const char* cloud_provider; /* "gcp", "aws", "azure" with cloud_region; NULL: none */
  const char* cloud_region;   /* e.g. "europe-west1"; NULL: none */
  const char* grid_region;    /* a US state or Nordic zone ("california", "SE3"); NULL: none */
  const char* power_model;    /* "joule" (default, NULL) or "codecarbon": the TDP model's figures */
} joule_options;

void joule_options_init(joule_options* options);

/* Totals since start (or over one task). Energies in joules, carbon in grams. */
typedef struct joule_reading {
  double duration_s;
  double energy_j; /* everything counted, attributed to the process tree */
  double cpu_j, gpu_j, ram_j, system_j;
  double emissions_g;   /* operational (PUE applied) + embodied */
  double process_share; /* the tree's part of the machine's busy CPU time; 1 for the machine */
  int estimated;        /* 1 when some figure is not a measurement */
  char cpu_method[32];  /* "measured:rapl", "estimated:tdp-model", ...; "" when absent */
  char gpu_method[32];
  char ram_method[32];
} joule_reading;

/* Discovers the sources and prepares a meter (not started). `options` may be
 * NULL for the defaults. Returns NULL on error (see joule_last_error). The
 * caller owns the meter and frees it with joule_meter_destroy. */
joule_meter* joule_meter_create(const joule_options* options);

/* Starts sampling on a background thread. -1 when already started. */
int joule_meter_start(joule_meter* meter);

/* Takes a sample now and fills `out` (may be NULL) with the totals since start. */
int joule_meter_read(joule_meter* meter, joule_reading* out);

/* Begins a named task (e.g. "epoch-3"); tasks may overlap; names must be
 * unique among open tasks. A begin or end less than 10 ms after the meter's
 * last sample reuses that sample's energy (the time is exact) instead of
 * sampling, so tasks are cheap; a task shorter than that between two samples
 * shows 0 J (meter.hpp, MeterOptions::task_sample_gap_s). */
int joule_task_begin(joule_meter* meter, const char* name);

/* Ends the named task and fills `out` (may be NULL) with its totals. */
int joule_task_end(joule_meter* meter, const char* name, joule_reading* out);

/* Stops sampling and fills `out` (may be NULL) with the totals. */
int joule_meter_stop(joule_meter* meter, joule_reading* out);

/* Stops if running and frees the meter. NULL is allowed. */
void joule_meter_destroy(joule_meter* meter);

/* This thread's last error message; "" when none. Valid until the next joule
 * call on this thread. Never NULL. */
const char* joule_last_error(void);

/* One line per source found ("estimated:tdp-model: CPU: ..."), for logs.
 * Valid until the meter is destroyed. */
const char* joule_meter_sources(const joule_meter* meter);

/* ------------------------------------------------------------------------
 * Runs: a meter's run recorded in joule's ledger (what `joule runs` lists),
 * with its named tasks, and its CodeCarbon emissions.csv row. In libjoule.so
 * (not in the static joule_meter library, which cannot see the ledger).
 *
 *   joule_meter* m = joule_meter_create(&options);
 *   joule_run* run = joule_run_create(m, &run_options);  (before start)
 *   joule_meter_start(m); ... tasks ...; joule_meter_stop(m, &total);
 *   joule_run_finish(run, "completed", NULL, NULL);
 *   joule_run_append_codecarbon_csv(run, "emissions.csv", &kg);
 *   joule_meter_destroy(m);  (frees the run too)
 * ------------------------------------------------------------------------ */

typedef struct joule_run joule_run;

/* Settings for joule_run_create. Call joule_run_options_init first. */
typedef struct joule_run_options {
  const char* kind; /* the run's kind in the ledger; NULL (default): "python" */
  const char* name; /* what the user calls it; NULL (default): the kind */
  /* NULL (default): the ledger the joule command uses ($JOULE_HOME/ledger.db,
   * else $XDG_DATA_HOME/joule/ledger.db, else ~/.local/share/joule/ledger.db);
   * one that cannot be opened costs one warning on stderr and the run goes
   * unrecorded. A path: that ledger, which must open (joule_run_create fails
   * otherwise). "": record nothing (the run still has an id and a CSV row). */
  const char* ledger_path;
  /* A JSON object kept as the run's config; its "project_name" and
   * "experiment_id" (strings) name the CodeCarbon row's, "python_version" its
   * column. NULL (default): {}. */
  const char* config_json;
} joule_run_options;

void joule_run_options_init(joule_run_options* options);

/* Records `meter`'s run from its start: call before joule_meter_start, so
 * that the ledger gets every sample. One run per meter. The run belongs to
 * the meter: joule_meter_destroy frees it, and stores a run never finished as
 * failed. Returns NULL on error (a started meter, a run already attached, a
 * config that is not a JSON object, a named ledger that cannot be opened). */
joule_run* joule_run_create(joule_meter* meter, const joule_run_options* options);

/* The run's id, 12 hex digits (`joule runs show ID`); "" for NULL. Valid
 * until the next call on this run. */
const char* joule_run_id(joule_run* run);

/* One epoch row of a training run (`joule runs show` lists them): epoch >= 1,
 * its seconds, joules and grams, and `metrics_json` (a JSON object of numbers
 * such as {"loss": 0.3}; NULL: none). Before joule_run_finish. */
int joule_run_add_epoch(joule_run* run, int epoch, double seconds, double energy_j, double co2_g,
                        const char* metrics_json);

/* Ends the run once its meter is stopped: stores the totals, every ended task
 * (tasks still open at stop included) under the run's metrics "tasks" as
 * {"name", "energy": the stored energy report with its method labels}, in the
 * order they ended, and `metrics_json` (a JSON object; NULL: none) merged
 * into the metrics. `status` is "completed", "failed" or "stopped";
 * `message` (NULL: none) one line saying why it did not complete. -1 when the
 * meter is still running or was never started, or the run is finished. */
int joule_run_finish(joule_run* run, const char* status, const char* message,
                     const char* metrics_json);

/* After joule_run_finish: appends the run's CodeCarbon row (the 38 columns of
 * CodeCarbon's emissions.csv, in its units and conventions) to the file at
 * `path`, writing the header line first when the file is new or empty, and
 * puts the row's `emissions` (kg CO2eq, operational carbon) in
 * `emissions_kg` (may be NULL). -1 when the file is not a CodeCarbon
 * emissions.csv or cannot be written; nothing is written then. */
int joule_run_append_codecarbon_csv(joule_run* run, const char* path, double* emissions_kg);

#ifdef __cplusplus
}
#endif

#endif /* JOULE_JOULE_H_ */
