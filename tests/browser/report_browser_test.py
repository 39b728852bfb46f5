#!/usr/bin/env python3
"""Reports and the dashboard in a real browser (headless Chromium).

Records a fixture ledger with the joule binary itself (a train run with
epochs and samples, a measured command, an int8 model's bench-infer run, and
the quantization between them), then:

  report: `joule report` writes HTML; Chromium loads it with no console error;
          each plot's SVG marks are in the DOM Chromium built; every figure on
          a card (data-field/data-value) equals the field of
          `joule runs show ID --json`; a screenshot PNG is left in the build tree.
  serve:  `joule serve` on the same ledger; Chromium loads the runs page (every
          run), the page filtered by kind, a run's page with its power plot;
          /api/run/ID equals `joule runs show ID --json`; unknown run 404,
          malformed parameter 400, paths outside the ledger 400/404; a run
          recorded while it serves appears.

usage: report_browser_test.py --joule BIN --work DIR [--chromium BIN]
"""
import argparse
import html.parser
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

FAILURES = []


def check(condition, what):
    if not condition:
        FAILURES.append(what)
        print("FAIL: " + what, file=sys.stderr)


def joule(args, **kw):
    r = subprocess.run([ARGS.joule] + args, capture_output=True, text=True, timeout=600, **kw)
    if r.returncode != 0:
        raise SystemExit("joule %s failed (%d): %s" % (" ".join(args), r.returncode, r.stderr))
    return r


class Dom(html.parser.HTMLParser):
    """The elements of a page: (tag, attributes, ancestors' data-run)."""

    def __init__(self):
        super().__init__()
        self.elements = []
        self.stack = []
        self.text = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        run = a.get("data-run") or (self.stack[-1][1] if self.stack else None)
        self.elements.append((tag, a, run))
        if tag not in ("input", "meta", "link", "br", "img", "rect", "circle", "line", "path"):
            self.stack.append((tag, run))

    def handle_startendtag(self, tag, attrs):
        a = dict(attrs)
        self.elements.append((tag, a, a.get("data-run") or (self.stack[-1][1] if self.stack else None)))

    def handle_endtag(self, tag):
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i][0] == tag:
                del self.stack[i:]
                break

    def handle_data(self, data):
        self.text.append(data)

    def find(self, tag=None, cls=None, **attrs):
        out = []
        for t, a, run in self.elements:
            if tag and t != tag:
                continue
            if cls and cls not in a.get("class", "").split():
                continue
            if any(a.get(k.replace("_", "-")) != v for k, v in attrs.items()):
                continue
            out.append((t, a, run))
        return out


def chromium(url, extra):
    """Runs headless Chromium on `url`; returns (stdout, console errors)."""
    profile = tempfile.mkdtemp(prefix="joule-chromium-")
    try:
        r = subprocess.run(
            [ARGS.chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--disable-extensions", "--disable-background-networking", "--user-data-dir=" + profile,
             "--enable-logging=stderr", "--v=0", "--log-level=0", "--virtual-time-budget=3000"]
            + extra + [url], capture_output=True, text=True, timeout=180)
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    # Console messages reach stderr as ":INFO:CONSOLE(line)] "text", source: url";
    # uncaught errors, CSP refusals and failed loads are among them.
    errors = [line for line in r.stderr.splitlines()
              if "CONSOLE" in line or "Uncaught" in line or "Refused to" in line
              or "Failed to load resource" in line]
    return r.stdout, errors


def dom_of(url):
    out, errors = chromium(url, ["--dump-dom"])
    check(not errors, "console errors on %s: %s" % (url, errors))
    check("<html" in out, "Chromium built no DOM for %s" % url)
    d = Dom()
    d.feed(out)
    return d


def value_at(document, pointer):
    for part in pointer.strip("/").split("/"):
        document = document[int(part)] if isinstance(document, list) else document[part]
    return document


def record_fixture(ledger, work):
    model, int8 = os.path.join(work, "model"), os.path.join(work, "model-int8")
    joule(["train", "--data", "mnist", "--epochs", "2", "--threads", "1", "--save", model,
           "--ledger", ledger])
    joule(["measure", "--ledger", ledger, "--", "sleep", "0.5"])
    joule(["compress", "quantize", "--model", model, "--out", int8, "--threads", "1",
           "--ledger", ledger])
    joule(["bench-infer", int8, "--threads", "1", "--seconds", "0.5", "--latency-samples", "50",
           "--ledger", ledger])
    runs = json.loads(joule(["runs", "list", "--json", "--ledger", ledger]).stdout)
    kinds = sorted(r["kind"] for r in runs)
    check(kinds == ["bench-infer", "compress.quantize", "measure", "train"],
          "fixture runs: %s" % kinds)
    return {r["kind"]: r["id"] for r in runs}


def show(ledger, run_id):
    return json.loads(joule(["runs", "show", run_id, "--json", "--ledger", ledger]).stdout)


def test_detector_sees_errors(work):
    """The console check can fail: a page made to have an error is caught."""
    bad = os.path.join(work, "bad.html")
    with open(bad, "w") as f:
        f.write("<!DOCTYPE html><html><body><script>no_such_function()</script></body></html>")
    _, errors = chromium("file://" + bad, ["--dump-dom"])
    check(errors, "the console check did not see a page's uncaught error")


def test_report(ledger, ids, work):
    page = os.path.join(work, "report.html")
    order = [ids["train"], ids["measure"], ids["bench-infer"], ids["compress.quantize"]]
    joule(["report"] + order + ["--out", page, "--ledger", ledger])
    dom = dom_of("file://" + page)
    plots = {}
    for _, a, run in dom.find("svg", cls="plot"):
        plots.setdefault(a["data-plot"], []).append(run)
    for run_id in order:
        for kind in ("power", "carbon"):
            check(run_id in plots.get(kind, []), "no %s plot on the card of %s" % (kind, run_id))
    train = ids["train"]
    check(train in plots.get("epochs", []), "no energy-per-epoch plot for the train run")
    check(len(plots.get("pareto", [])) == 1, "pareto plots: %s" % plots.get("pareto"))
    series = [run for _, _, run in dom.find("polyline", cls="series")]
    check(series.count(train) >= 1, "the train run's power plot draws no series")
    record = show(ledger, train)
    bars = [a for _, a, run in dom.find("rect", cls="bar") if run == train]
    check(len(bars) >= len(record["epochs"]), "epoch bars %d < epochs %d" % (len(bars), len(record["epochs"])))
    check(len(dom.find("circle", cls="point")) >= 2, "the Pareto plot has fewer than 2 points")
    check(len(dom.find("polyline", cls="front")) == 1, "the Pareto front is not drawn")
    check(dom.find(cls="est-mark"), "estimated figures are not marked")
    checked = 0
    for run_id in order:
        record = show(ledger, run_id)
        for _, a, run in dom.find():
            if run != run_id or "data-field" not in a:
                continue
            expected = value_at(record, a["data-field"])
            got = float(a["data-value"])
            check(float(expected) == got, "%s %s: card %r, ledger %r" % (run_id, a["data-field"], got, expected))
            checked += 1
    check(checked >= 40, "only %d figures checked" % checked)
    shot = os.path.join(work, "report.png")
    if os.path.exists(shot):
        os.remove(shot)
    chromium("file://" + page, ["--screenshot=" + shot, "--window-size=1100,2400",
                                "--hide-scrollbars"])
    with open(shot, "rb") as f:
        check(f.read(8) == b"\x89PNG\r\n\x1a\n", "no PNG screenshot")
    print("report: %d figures equal the ledger's; plots %s; screenshot %s"
          % (checked, {k: len(v) for k, v in plots.items()}, shot))


def get(url):
    try:
        with urllib.request.urlopen(url, timeout=30) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def raw_get(port, target):
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(("GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % target).encode())
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    return data.decode(errors="replace")


def test_serve(ledger, ids, work):
    server = subprocess.Popen([ARGS.joule, "serve", "--port", "0", "--ledger", ledger],
                              stderr=subprocess.PIPE, text=True)
    try:
        line = server.stderr.readline()
        check("http://127.0.0.1:" in line, "serve's first line: %r" % line)
        port = int(line.split("http://127.0.0.1:")[1].split("/")[0])
        base = "http://127.0.0.1:%d" % port
        runs = dom_of(base + "/")
        shown = {a["data-run"] for _, a, _ in runs.find("tr") if "data-run" in a}
        check(shown == set(ids.values()), "runs page shows %s" % shown)
        trains = dom_of(base + "/?kind=train&tag=&status=&since=&until=")
        kinds = {a["data-kind"] for _, a, _ in trains.find("tr") if "data-kind" in a}
        check(kinds == {"train"}, "filtered by kind train, the page shows %s" % kinds)
        run = dom_of(base + "/run/" + ids["train"])
        check(run.find("svg", cls="plot", data_plot="power"), "run page: no power plot")
        check(run.find("polyline", cls="series"), "run page: the power plot draws nothing")
        shot = os.path.join(work, "dashboard.png")
        chromium(base + "/", ["--screenshot=" + shot, "--window-size=1300,700", "--hide-scrollbars"])
        with open(shot, "rb") as f:
            check(f.read(8) == b"\x89PNG\r\n\x1a\n", "no PNG screenshot of the runs page")
        compare = dom_of(base + "/compare?ids=%s&ids=%s" % (ids["train"], ids["bench-infer"]))
        check(compare.find("svg", cls="plot", data_plot="pareto"), "compare page: no Pareto plot")

        for kind, run_id in ids.items():
            status, body = get(base + "/api/run/" + run_id)
            check(status == 200 and json.loads(body) == show(ledger, run_id),
                  "/api/run/%s (%s) differs from runs show --json" % (run_id, kind))
        status, body = get(base + "/api/run/ffffffffffff")
        check(status == 404 and "no run" in body, "unknown run: %d %s" % (status, body))
        status, body = get(base + "/api/runs?limit=many")
        check(status == 400 and body.count("\n") == 1, "malformed parameter: %d %s" % (status, body))
        for target in ("/../../../../etc/passwd", "//etc/passwd", "/%2e%2e/%2e%2e/etc/passwd",
                       "/run/..%2F..%2Fetc%2Fpasswd", "/" + os.path.abspath(ledger)):
            response = raw_get(port, target)
            code = response[9:12]
            check(code in ("400", "404"), "%s: %s" % (target, response[:60]))
            check("root:" not in response and "SQLite format" not in response,
                  "%s answered with a file's content" % target)

        joule(["measure", "--ledger", ledger, "--", "true"])
        status, body = get(base + "/api/runs")
        check(len(json.loads(body)["runs"]) == len(ids) + 1, "a run recorded while serving is missing")
        check(server.poll() is None, "joule serve died")
        print("serve: runs page, filter, run page, compare, API and refusals checked on port %d" % port)
    finally:
        server.terminate()
        server.wait(timeout=30)


def main():
    work = os.path.abspath(ARGS.work)
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    if not ARGS.chromium or not shutil.which(ARGS.chromium):
        raise SystemExit("chromium not found: scripts/setup.sh installs Debian's chromium")
    ledger = os.path.join(work, "ledger.db")
    test_detector_sees_errors(work)
    ids = record_fixture(ledger, work)
    test_report(ledger, ids, work)
    test_serve(ledger, ids, work)
    if FAILURES:
        print("%d check(s) failed" % len(FAILURES), file=sys.stderr)
        sys.exit(1)
    print("browser: all checks passed")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--joule", required=True)
    parser.add_argument("--work", required=True)
    parser.add_argument("--chromium", default=shutil.which("chromium") or "")
    ARGS = parser.parse_args()
    main()
