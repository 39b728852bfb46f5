#!/usr/bin/env python3
"""Side-by-side: the same MLP (784-256-128-10, ReLU, SGD momentum 0.9, batch 128)
trained on the bundled MNIST by joule (f32, bf16) and by PyTorch 1.13 (Debian's
python3-torch, f32), all on one thread, in one run. Prints epoch times, the
ratios joule/PyTorch, and the test accuracy of each after --epochs epochs.

Timed: the training steps of each epoch plus one pass over the test set, the
same work in both; data loading is not timed in either.

  /usr/bin/python3 bench/mlp_vs_pytorch.py --joule build/joule --epochs 10
"""
import argparse
import gzip
import json
import math
import os
import struct
import subprocess
import sys
import time

# One thread everywhere, OpenBLAS's own pool included (torch.set_num_threads
# does not reach it). OpenBLAS reads this once, when numpy or torch first
# loads it, so it must be set before those imports: set after them (as an
# earlier version of this script did), OpenBLAS ran a second thread.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "data", "mnist")


def load_idx(images, labels):
    with gzip.open(os.path.join(DATA, images)) as f:
        magic, n, rows, cols = struct.unpack(">IIII", f.read(16))
        assert magic == 2051
        x = np.frombuffer(f.read(), dtype=np.uint8).reshape(n, rows * cols)
    with gzip.open(os.path.join(DATA, labels)) as f:
        magic, n2 = struct.unpack(">II", f.read(8))
        assert magic == 2049 and n2 == n
        y = np.frombuffer(f.read(), dtype=np.uint8)
    return torch.from_numpy(x.astype(np.float32) / 255.0), torch.from_numpy(y.astype(np.int64))


def torch_run(epochs, batch, lr, seed):
    torch.set_num_threads(1)
    torch.manual_seed(seed)
    xtr, ytr = load_idx("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz")
    xte, yte = load_idx("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
    # The same recipe as joule's default: inputs standardised by the training
    # set's global mean and stddev, lr decayed by a cosine over all steps.
    mean, std = xtr.mean(), xtr.std()
    xtr, xte = (xtr - mean) / std, (xte - mean) / std
    steps = epochs * ((xtr.shape[0] + batch - 1) // batch)
    step = 0
    model = torch.nn.Sequential(torch.nn.Linear(784, 256), torch.nn.ReLU(),
                                torch.nn.Linear(256, 128), torch.nn.ReLU(),
                                torch.nn.Linear(128, 10))
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    loss_fn = torch.nn.CrossEntropyLoss()
    times, acc = [], 0.0
    for _ in range(epochs):
        start = time.perf_counter()
        perm = torch.randperm(xtr.shape[0])
        model.train()
        for i in range(0, xtr.shape[0], batch):
            idx = perm[i:i + batch]
            for group in opt.param_groups:
                group["lr"] = lr * 0.5 * (1 + math.cos(math.pi * step / steps))
            step += 1
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(xtr[idx]), ytr[idx])
            loss.backward()
            opt.step()
        model.eval()
        with torch.no_grad():
            correct = 0
            for i in range(0, xte.shape[0], 1000):
                correct += (model(xte[i:i + 1000]).argmax(1) == yte[i:i + 1000]).sum().item()
        acc = correct / xte.shape[0]
        times.append(time.perf_counter() - start)
    return times, acc


def joule_run(binary, precision, epochs, batch, lr, seed):
    cmd = [binary, "train", "--data", "mnist", "--model", "mlp", "--epochs", str(epochs),
           "--batch", str(batch), "--lr", str(lr), "--optimizer", "sgd", "--momentum", "0.9",
           "--lr-schedule", "cosine", "--precision", precision, "--threads", "1", "--seed", str(seed), "--json"]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True)
    result = json.loads(out.stdout)
    epoch_times = [float(line.split()[-2]) for line in out.stderr.splitlines()
                   if line.startswith("epoch")]
    return epoch_times, result["test_accuracy"]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--joule", default=os.path.join(HERE, "..", "build", "joule"))
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--lr", type=float, default=0.05)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()

    runs = {}
    runs["pytorch f32"] = torch_run(args.epochs, args.batch, args.lr, args.seed)
    # A check that the comparison is one thread against one thread: a BLAS
    # pool would show up as extra threads of this process.
    threads = len(os.listdir("/proc/self/task"))
    if threads != 1:
        print(f"warning: this Python process runs {threads} threads; PyTorch was not on one",
              file=sys.stderr)
    runs["joule f32"] = joule_run(args.joule, "f32", args.epochs, args.batch, args.lr, args.seed)
    runs["joule bf16"] = joule_run(args.joule, "bf16", args.epochs, args.batch, args.lr, args.seed)

    # The median epoch: robust to the first epoch's warm-up in either tool.
    med = {k: float(np.median(v[0])) for k, v in runs.items()}
    print(f"MLP 784-256-128-10, batch {args.batch}, SGD momentum 0.9, lr {args.lr} cosine, 1 thread, "
          f"{args.epochs} epochs, torch {torch.__version__}")
    print(f"{'run':<12} {'median epoch s':>15} {'ratio vs pytorch':>17} {'test acc':>9}")
    for name, (times, acc) in runs.items():
        print(f"{name:<12} {med[name]:>15.3f} {med[name] / med['pytorch f32']:>17.3f} {100 * acc:>8.2f}%")
    print(json.dumps({k: {"median_epoch_s": med[k], "ratio_vs_pytorch_f32": med[k] / med["pytorch f32"],
                          "test_accuracy": runs[k][1]} for k in runs}))


if __name__ == "__main__":
    sys.exit(main())
