#!/usr/bin/env python3
"""Compression, side by side in one run: the MNIST MLP trained by joule, then
int8-quantized, structurally pruned (50% of hidden neurons), unstructurally
pruned (90%), distilled into a quarter-size student, and the CNN trained with
early exits; every model measured by `joule bench-infer` with the same
figures, and the same f32 MLP (joule's weights) run by PyTorch 1.13 in f32 and
with `torch.quantization.quantize_dynamic` int8, all on one thread.

Prints one table and the ratios the compression issue sets as goals:
  int8 throughput vs joule f32 (>= 4x) and vs PyTorch dynamic int8 (>= 10x),
  accuracy drops, structured-pruned speed-up (>= 1.8x), unstructured size
  (<= 20% of dense), student vs teacher and vs the student alone, early-exit
  cost (>= 2x lower at <= 0.5 points drop).

  /usr/bin/python3 bench/compression.py --joule build/joule --work /tmp/joule-compression
"""
import argparse
import os
import sys

# One thread for PyTorch's BLAS too: OpenBLAS reads this once, when numpy or
# torch first loads it, so it must be set before those imports.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import gzip  # noqa: E402
import json  # noqa: E402
import struct  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "data", "mnist")


def run(cmd):
    print("+ " + " ".join(cmd), file=sys.stderr, flush=True)
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"failed ({out.returncode}): {' '.join(cmd)}\n{out.stderr}")
    return out


def run_json(cmd):
    out = run(cmd)
    return json.loads(out.stdout.strip().splitlines()[-1])


def bench_infer(joule, model_dir, seconds):
    return run_json([joule, "bench-infer", model_dir, "--threads", "1", "--seconds", str(seconds),
                     "--json"])


def read_safetensors(path):
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        data = f.read()
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        assert info["dtype"] == "F32", (name, info["dtype"])
        begin, end = info["data_offsets"]
        tensors[name] = torch.from_numpy(
            np.frombuffer(data[begin:end], dtype="<f4").reshape(info["shape"]).copy())
    return tensors


def mnist_test(model_dir):
    """The test set standardised as the model's metadata says."""
    with gzip.open(os.path.join(DATA, "t10k-images-idx3-ubyte.gz")) as f:
        magic, n, rows, cols = struct.unpack(">IIII", f.read(16))
        assert magic == 2051
        x = np.frombuffer(f.read(), dtype=np.uint8).reshape(n, rows * cols).astype(np.float32) / 255
    with gzip.open(os.path.join(DATA, "t10k-labels-idx1-ubyte.gz")) as f:
        magic, n2 = struct.unpack(">II", f.read(8))
        assert magic == 2049 and n2 == n
        y = np.frombuffer(f.read(), dtype=np.uint8).astype(np.int64)
    meta = json.load(open(os.path.join(model_dir, "model.json")))["metadata"]
    mean = np.asarray(meta["feature_mean"], dtype=np.float32)
    std = np.asarray(meta["feature_stddev"], dtype=np.float32)
    # One value each when every feature shares it (images); numpy broadcasts.
    return torch.from_numpy(((x - mean) / std).astype(np.float32)), torch.from_numpy(y)


def torch_mlp(model_dir):
    w = read_safetensors(os.path.join(model_dir, "model.safetensors"))
    model = torch.nn.Sequential(torch.nn.Linear(784, 256), torch.nn.ReLU(),
                                torch.nn.Linear(256, 128), torch.nn.ReLU(),
                                torch.nn.Linear(128, 10))
    with torch.no_grad():
        for i in (0, 2, 4):
            model[i].weight.copy_(w[f"{i}.weight"])
            model[i].bias.copy_(w[f"{i}.bias"])
    return model.eval()


def torch_figures(model, x, y, seconds, batch=256):
    """Accuracy over the test set, then batch-256 throughput as bench-infer does
    it: real batches cycled, gathered beforehand, for at least `seconds`."""
    with torch.no_grad():
        correct = sum((model(x[i:i + 1000]).argmax(1) == y[i:i + 1000]).sum().item()
                      for i in range(0, x.shape[0], 1000))
        batches = [x[i:i + batch] for i in range(0, x.shape[0] - batch + 1, batch)][:40]
        for b in batches:
            model(b)
        n, start, i = 0, time.perf_counter(), 0
        while time.perf_counter() - start < seconds:
            model(batches[i % len(batches)])
            n += batch
            i += 1
        elapsed = time.perf_counter() - start
    return {"accuracy": correct / x.shape[0], "throughput_per_s": n / elapsed}


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--joule", default=os.path.join(HERE, "..", "build", "joule"))
    ap.add_argument("--work", default="/tmp/joule-compression")
    ap.add_argument("--seconds", type=float, default=3.0, help="throughput run per model")
    ap.add_argument("--epochs", type=int, default=10, help="teacher MLP epochs")
    ap.add_argument("--reuse", action="store_true", help="keep models already in --work")
    args = ap.parse_args()
    j, w = args.joule, args.work
    os.makedirs(w, exist_ok=True)
    torch.set_num_threads(1)

    def make(path, cmd):
        """Runs a command that writes the model directory `path`; with --json in
        cmd, keeps its figures beside the directory (for --reuse) and returns them."""
        report = path + ".report.json"
        if not (args.reuse and os.path.exists(os.path.join(path, "model.json"))):
            out = run(cmd)
            if "--json" in cmd:
                with open(report, "w") as f:
                    f.write(out.stdout.strip().splitlines()[-1])
        return json.load(open(report)) if "--json" in cmd else None

    t1 = ["--threads", "1"]
    mlp = os.path.join(w, "mlp")
    make(mlp, [j, "train", "--data", "mnist", "--model", "mlp", "--epochs", str(args.epochs),
               "--save", mlp] + t1)
    models = {"mlp f32": mlp}
    models["mlp int8 (PTQ)"] = os.path.join(w, "mlp-int8")
    make(models["mlp int8 (PTQ)"], [j, "compress", "quantize", "--model", mlp, "--out",
                                    models["mlp int8 (PTQ)"]] + t1)
    models["mlp pruned 50% neurons"] = os.path.join(w, "mlp-s50")
    make(models["mlp pruned 50% neurons"],
         [j, "compress", "prune", "--model", mlp, "--out", models["mlp pruned 50% neurons"],
          "--structured", "--scope", "layer", "--sparsity", "0.5", "--epochs", "3"] + t1)
    models["mlp pruned 90% weights"] = os.path.join(w, "mlp-u90")
    make(models["mlp pruned 90% weights"],
         [j, "compress", "prune", "--model", mlp, "--out", models["mlp pruned 90% weights"],
          "--sparsity", "0.9", "--schedule", "cubic", "--epochs", "4"] + t1)
    models["student distilled"] = os.path.join(w, "student")
    distill = make(models["student distilled"],
                   [j, "compress", "distill", "--teacher", mlp, "--out",
                    models["student distilled"], "--baseline", "--json"] + t1)
    # The early-exit CNN against the same CNN trained without exits, for as
    # many epochs (the early-exit command's default).
    models["cnn f32 (no exits)"] = os.path.join(w, "cnn")
    make(models["cnn f32 (no exits)"], [j, "train", "--data", "mnist", "--model", "cnn",
                                        "--epochs", "5", "--save", models["cnn f32 (no exits)"]] + t1)
    models["cnn early-exit"] = os.path.join(w, "cnn-ee")
    early = make(models["cnn early-exit"], [j, "compress", "early-exit", "--out",
                                            models["cnn early-exit"], "--json"] + t1)

    figures = {name: bench_infer(j, path, args.seconds) for name, path in models.items()}

    x, y = mnist_test(mlp)
    tmodel = torch_mlp(mlp)
    figures["pytorch f32"] = torch_figures(tmodel, x, y, args.seconds)
    engine = torch.backends.quantized.engine
    qmodel = torch.quantization.quantize_dynamic(tmodel, {torch.nn.Linear}, dtype=torch.qint8)
    figures[f"pytorch dynamic int8 ({engine})"] = torch_figures(qmodel, x, y, args.seconds)
    if "qnnpack" in torch.backends.quantized.supported_engines and engine != "qnnpack":
        torch.backends.quantized.engine = "qnnpack"
        qmodel = torch.quantization.quantize_dynamic(tmodel, {torch.nn.Linear}, dtype=torch.qint8)
        figures["pytorch dynamic int8 (qnnpack)"] = torch_figures(qmodel, x, y, args.seconds)
    threads = len(os.listdir("/proc/self/task"))

    print(f"\nMNIST, one thread, torch {torch.__version__}; energy "
          f"{figures['mlp f32'].get('energy_method', '?')} (an estimate unless 'measured:')")
    print(f"{'model':<34} {'acc %':>6} {'p50 ms':>7} {'p99 ms':>7} {'samples/s':>10} "
          f"{'J/1000':>8} {'size B':>9} {'MACs':>9}")
    for name, f in figures.items():
        print(f"{name:<34} {100 * f['accuracy']:>6.2f} {f.get('latency_p50_ms', float('nan')):>7.3f} "
              f"{f.get('latency_p99_ms', float('nan')):>7.3f} {f['throughput_per_s']:>10.0f} "
              f"{f.get('j_per_1000', float('nan')):>8.4f} {f.get('size_bytes', 0):>9} "
              f"{f.get('macs_per_sample', 0):>9.0f}")

    base = figures["mlp f32"]
    q = figures["mlp int8 (PTQ)"]
    s50 = figures["mlp pruned 50% neurons"]
    u90 = figures["mlp pruned 90% weights"]
    ee = figures["cnn early-exit"]
    ratios = {
        "int8 accuracy drop (points, goal <= 0.3)": 100 * (base["accuracy"] - q["accuracy"]),
        "int8 throughput / joule f32 (goal >= 4)": q["throughput_per_s"] / base["throughput_per_s"],
    }
    for name, f in figures.items():
        if name.startswith("pytorch dynamic int8"):
            ratios[f"int8 throughput / {name} (goal >= 10)"] = \
                q["throughput_per_s"] / f["throughput_per_s"]
    ratios.update({
        "joule f32 throughput / pytorch f32": base["throughput_per_s"] /
        figures["pytorch f32"]["throughput_per_s"],
        "structured 50%: accuracy drop (goal <= 0.5)": 100 * (base["accuracy"] - s50["accuracy"]),
        "structured 50%: speed-up (goal >= 1.8)": s50["throughput_per_s"] / base["throughput_per_s"],
        "unstructured 90%: accuracy drop (goal <= 1)": 100 * (base["accuracy"] - u90["accuracy"]),
        "unstructured 90%: size / dense (goal <= 0.2)": u90["size_bytes"] / base["size_bytes"],
        "student: accuracy vs teacher (points, goal >= -1)":
            100 * (figures["student distilled"]["accuracy"] - base["accuracy"]),
        "student: parameters / teacher": figures["student distilled"]["parameters"] /
        base["parameters"],
        "student: accuracy vs the same student trained alone (points, goal > 0)":
            100 * (distill["distilled"]["accuracy"] - distill["baseline"]["accuracy"]),
        "early exit: full MACs / average MACs (goal >= 2)":
            ee["full_macs_per_sample"] / ee["macs_per_sample"],
        "early exit: accuracy vs its last exit (points, goal >= -0.5)":
            100 * (ee["accuracy"] - early["test_final_exit_accuracy"]),
        "early exit: accuracy vs the CNN without exits (points)":
            100 * (ee["accuracy"] - figures["cnn f32 (no exits)"]["accuracy"]),
        "early exit: throughput / CNN without exits":
            ee["throughput_per_s"] / figures["cnn f32 (no exits)"]["throughput_per_s"],
        "early exit: J/1000 / CNN without exits":
            ee["j_per_1000"] / figures["cnn f32 (no exits)"]["j_per_1000"],
    })
    print(f"distill: teacher {100 * base['accuracy']:.2f}%, student distilled "
          f"{100 * distill['distilled']['accuracy']:.2f}%, student alone "
          f"{100 * distill['baseline']['accuracy']:.2f}%")
    print(f"early exit: threshold {early['threshold']}, last exit alone "
          f"{100 * early['test_final_exit_accuracy']:.2f}%, routed {100 * ee['accuracy']:.2f}%")
    for k, v in ratios.items():
        print(f"{k:<60} {v:8.3f}")
    if threads != 1:
        print(f"warning: this Python process ran {threads} threads", file=sys.stderr)
    print(json.dumps({"figures": figures, "ratios": ratios}))


if __name__ == "__main__":
    sys.exit(main())
