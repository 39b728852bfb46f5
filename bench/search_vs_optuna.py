#!/usr/bin/env python3
"""joule search against Optuna's NSGA-II on the same space, side by side.

    scripts/setup.sh --bench   # Optuna (python3-optuna), once
    /usr/bin/python3 bench/search_vs_optuna.py [--joule build/joule] [--trials 30]
        [--seeds 1,2,3] [--population 10] [--space recipes/mnist-space.toml]
        [--recipe recipes/mnist-baseline.toml] [--threads 1] [--out FILE.json]

For each seed: Optuna (Debian's python3-optuna, NSGAIISampler, directions
maximise validation accuracy and minimise training energy) runs --trials
trials, each a `joule train --json` process on a recipe written from the
base recipe with the trial's values; then `joule search` runs the same
number of trials on the same space (its default strategy, successive
halving). Both hold out the same 10 % validation split and select on it.

Energy is each trial's training energy as joule reports it (the same meter
and method for both: on a machine without power sensors, estimated:tdp-model),
summed over the search; neither counts process start or data loading (a
subprocess per Optuna trial loads MNIST again, joule search loads it once).
Hypervolume is of (validation accuracy, training energy) against one
reference point for every search of the run: accuracy 0 and 1.1 x the
largest energy any finished trial of either tool spent. Prints each search,
then the medians over the seeds and the two ratios the goal is written in:
joule's hypervolume / Optuna's (goal >= 1) and joule's energy / Optuna's
(goal <= 0.40).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib

import optuna


def toml_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    return json.dumps(v)  # a TOML basic string is a JSON string


def write_recipe(path, recipe):
    """A recipe of scalars and one level of tables, as joule reads it."""
    lines, tables = [], []
    for k, v in recipe.items():
        if isinstance(v, dict):
            tables.append((k, v))
        else:
            lines.append("%s = %s" % (k, toml_value(v)))
    for name, table in tables:
        lines.append("\n[%s]" % name)
        for k, v in table.items():
            lines.append("%s = %s" % (k, toml_value(v)))
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def with_value(recipe, key, value):
    out = json.loads(json.dumps(recipe))
    parts = key.split(".")
    node = out
    for p in parts[:-1]:
        node = node.setdefault(p, {})
    node[parts[-1]] = value
    return out


def suggest(trial, key, spec):
    if "choice" in spec:
        return trial.suggest_categorical(key, spec["choice"])
    if "log" in spec:
        return trial.suggest_float(key, spec["log"][0], spec["log"][1], log=True)
    if "range" in spec:
        return trial.suggest_float(key, spec["range"][0], spec["range"][1])
    if "int" in spec:
        return trial.suggest_int(key, spec["int"][0], spec["int"][1])
    raise SystemExit("search_vs_optuna: %s: unknown kind %s" % (key, spec))


def hypervolume(points, ref_energy):
    """2-D hypervolume of (accuracy up, energy down) against (0, ref_energy)."""
    pts = sorted((e, a) for a, e in points if e < ref_energy and a > 0)
    volume, best = 0.0, 0.0
    # Sweep energy from the reference down: the area is the best accuracy
    # reachable at or below each energy.
    for i, (e, a) in enumerate(pts):
        best = max(best, a)
        right = pts[i + 1][0] if i + 1 < len(pts) else ref_energy
        volume += best * (right - e)
    return volume


def front(points):
    return [p for p in points
            if not any(q[0] >= p[0] and q[1] <= p[1] and q != p for q in points)]


def run_optuna(args, base, space, seed, workdir):
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
    trials = []

    def objective(trial):
        recipe = dict(base)
        for key, spec in space.items():
            recipe = with_value(recipe, key, suggest(trial, key, spec))
        path = os.path.join(workdir, "optuna-%d-%d.toml" % (seed, trial.number))
        write_recipe(path, recipe)
        out = subprocess.run([args.joule, "train", "--recipe", path, "--json", "--no-ledger"],
                             capture_output=True, text=True, env=env)
        if out.returncode != 0:
            raise SystemExit("search_vs_optuna: joule train failed: " + out.stderr.strip())
        j = json.loads(out.stdout)
        acc, energy = j["monitored"]["accuracy"], j["energy_j"]
        trials.append({"accuracy": acc, "energy_j": energy, "method": j["energy_method"],
                       "values": trial.params})
        return acc, energy

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler = optuna.samplers.NSGAIISampler(population_size=args.population, seed=seed)
    study = optuna.create_study(directions=["maximize", "minimize"], sampler=sampler)
    t0 = time.monotonic()
    study.optimize(objective, n_trials=args.trials)
    return {"tool": "optuna-nsga2", "seed": seed, "seconds": time.monotonic() - t0,
            "energy_j": sum(t["energy_j"] for t in trials),
            "method": trials[0]["method"],
            "points": [(t["accuracy"], t["energy_j"]) for t in trials]}


def run_joule(args, base_path, seed, workdir):
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
    ledger = os.path.join(workdir, "joule-%d.db" % seed)
    t0 = time.monotonic()
    out = subprocess.run([args.joule, "search", "--recipe", base_path, "--space", args.space,
                          "--trials", str(args.trials), "--seed", str(seed), "--json",
                          "--ledger", ledger], capture_output=True, text=True, env=env)
    if out.returncode != 0:
        raise SystemExit("search_vs_optuna: joule search failed: " + out.stderr.strip())
    j = json.loads(out.stdout)
    return {"tool": "joule-search", "seed": seed, "seconds": time.monotonic() - t0,
            "energy_j": j["energy_j"], "method": j["energy_method"],
            "stopped_early": j["pruned"],
            "points": [(r["accuracy"], r["energy"]) for r in j.get("front", [])]}


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.join(here, "..")
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--joule", default=os.path.join(root, "build", "joule"))
    ap.add_argument("--recipe", default=os.path.join(root, "recipes", "mnist-baseline.toml"))
    ap.add_argument("--space", default=os.path.join(root, "recipes", "mnist-space.toml"))
    ap.add_argument("--trials", type=int, default=30)
    ap.add_argument("--seeds", default="1,2,3")
    ap.add_argument("--population", type=int, default=10,
                    help="NSGA-II's population (Optuna's default, 50, would make any run "
                         "of 50 trials or fewer plain random sampling)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", help="write every search's figures here as JSON")
    args = ap.parse_args()
    if not os.access(args.joule, os.X_OK):
        raise SystemExit("search_vs_optuna: %s is not an executable (build first)" % args.joule)

    with open(args.recipe, "rb") as f:
        base = tomllib.load(f)
    with open(args.space, "rb") as f:
        space = tomllib.load(f)["params"]
    base["validation_fraction"] = 0.1
    base["threads"] = args.threads
    runs = []
    with tempfile.TemporaryDirectory(prefix="joule-vs-optuna-") as workdir:
        base_path = os.path.join(workdir, "base.toml")
        write_recipe(base_path, base)
        for seed in [int(s) for s in args.seeds.split(",")]:
            for fn in (lambda: run_optuna(args, base, space, seed, workdir),
                       lambda: run_joule(args, base_path, seed, workdir)):
                r = fn()
                runs.append(r)
                print("%-13s seed %d: %d front points, %.2f J (%s), %.0f s" %
                      (r["tool"], seed, len(front(r["points"])), r["energy_j"], r["method"],
                       r["seconds"]), file=sys.stderr, flush=True)

    ref = 1.1 * max(e for r in runs for _, e in r["points"])
    for r in runs:
        r["hypervolume"] = hypervolume(r["points"], ref)
        r["front"] = sorted(front(r["points"]), key=lambda p: p[1])
    print("reference point: accuracy 0, energy %.3f J; energy %s, an estimate where it says so"
          % (ref, runs[0]["method"]))
    print("%-13s %4s %10s %12s %8s" % ("tool", "seed", "energy J", "hypervolume", "seconds"))
    for r in runs:
        print("%-13s %4d %10.2f %12.4f %8.0f" % (r["tool"], r["seed"], r["energy_j"],
                                                 r["hypervolume"], r["seconds"]))
    med = {}
    for tool in ("optuna-nsga2", "joule-search"):
        mine = [r for r in runs if r["tool"] == tool]
        med[tool] = (statistics.median(r["hypervolume"] for r in mine),
                     statistics.median(r["energy_j"] for r in mine))
        print("%-13s median: hypervolume %.4f, energy %.2f J" % (tool, *med[tool]))
    hv_ratio = med["joule-search"][0] / med["optuna-nsga2"][0]
    e_ratio = med["joule-search"][1] / med["optuna-nsga2"][1]
    print("joule/optuna: hypervolume %.3f (goal >= 1), energy %.3f (goal <= 0.40)"
          % (hv_ratio, e_ratio))
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"reference_energy_j": ref, "runs": runs,
                       "hypervolume_ratio": hv_ratio, "energy_ratio": e_ratio}, f, indent=1)


if __name__ == "__main__":
    main()
