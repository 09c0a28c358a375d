#!/usr/bin/env python3
"""Fuzzes a real `sluice server` against Keptn's own OpenAPI specs with schemathesis.

Starts the server on 127.0.0.1 with a fresh data directory and an API token, runs schemathesis
once per spec (bounded: examples per operation, a time limit per spec), and compares what it
found with the accepted deviations file. Fails on:
- any 5xx answer (schemathesis' not_a_server_error) and a server that died,
- any error answer outside Keptn's {"code", "message"} shape (the keptn_error_shape check in
  schemathesis_hooks.py),
- any other failure that the deviations file does not list,
- schemathesis errors, or a spec of which nothing was tested.

Deviations file: one `spec | operation | failure | reason` per line (`#` starts a comment).
`spec` is a key of SPECS or `*`; `operation` is `METHOD /path` as the spec writes it, or `*`;
`failure` is a schemathesis failure code (ST103, ST202, ...), or `skip` to leave the operation's
path out of the run. A reason is required. Server errors and error-shape failures cannot be accepted.
"""

import argparse
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

# spec key -> (file in the specs directory, where sluice serves that spec's basePath)
SPECS = {
    "api": ("api_swagger.yaml", "/api/v1"),
    "mongodb-datastore": ("mongodb-datastore_swagger.yaml", "/api/mongodb-datastore"),
    "shipyard-controller": ("shipyard-controller_docs_swagger.yaml", "/api/controlPlane/v1"),
}

NEVER_ACCEPTED = {"ST101": "server error (5xx)"}
SHAPE_CHECK = "keptn_error_shape"


class Deviation:
    def __init__(self, line_no, spec, operation, failure, reason):
        self.line_no, self.spec, self.operation = line_no, spec, operation
        self.failure, self.reason = failure, reason
        self.used = False

    def matches(self, spec, operation, failure):
        return (
            self.spec in ("*", spec)
            and self.operation in ("*", operation)
            and self.failure == failure
        )

    def __str__(self):
        return f"{self.spec} | {self.operation} | {self.failure}"


def read_deviations(path):
    deviations, problems = [], []
    for no, raw in enumerate(Path(path).read_text().splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parts = [p.strip() for p in line.split("|")]
        if len(parts) != 4 or not all(parts):
            problems.append(f"{path}:{no}: expected `spec | operation | failure | reason`")
            continue
        spec, operation, failure, reason = parts
        if spec != "*" and spec not in SPECS:
            problems.append(f"{path}:{no}: unknown spec {spec!r} (one of {', '.join(SPECS)}, *)")
        if failure in NEVER_ACCEPTED:
            problems.append(f"{path}:{no}: a {NEVER_ACCEPTED[failure]} cannot be accepted")
        if failure == "skip" and (spec == "*" or operation == "*"):
            problems.append(f"{path}:{no}: skip names one spec and one operation")
        deviations.append(Deviation(no, spec, operation, failure, reason))
    return deviations, problems


def wait_for_health(base, process, attempts=200):
    for _ in range(attempts):
        if process.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(f"{base}/health", timeout=1) as r:
                if r.status == 200:
                    return True
        except OSError:
            pass
        time.sleep(0.05)
    return False


def run_spec(key, args, base, token, skips, work):
    file, prefix = SPECS[key]
    report = work / f"{key}.json"
    log = work / f"{key}.txt"
    cmd = [
        args.schemathesis, "run", str((Path(args.specs) / file).resolve()),
        "--url", base + prefix,
        "-H", f"x-token: {token}",
        "--max-examples", str(args.examples),
        "--seed", str(args.seed),
        "--phases", "examples,coverage,fuzzing",
        "--continue-on-failure",
        "--request-timeout", "10",
        "--workers", "1",
        "--report", "json", "--report-json-path", str(report),
        "--no-color",
    ]
    for operation in skips:
        cmd += ["--exclude-path", operation.split(" ", 1)[1]]
    # Runs in the scratch directory: schemathesis' crash cache (.schemathesis/) stays out of the
    # checkout, and every run starts from the seed alone.
    env = dict(os.environ, SCHEMATHESIS_HOOKS="schemathesis_hooks",
               PYTHONPATH=str(Path(__file__).resolve().parent))
    started = time.monotonic()
    with open(log, "w") as out:
        try:
            subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT,
                           env=env, cwd=work, timeout=args.time_limit, check=False)
        except subprocess.TimeoutExpired:
            return None, log, f"{key}: schemathesis ran over its {args.time_limit}s limit"
    elapsed = time.monotonic() - started
    if not report.exists():
        return None, log, f"{key}: schemathesis wrote no report"
    data = json.loads(report.read_text())
    data["_elapsed"] = elapsed
    return data, log, None


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sluice", default="target/debug/sluice")
    parser.add_argument("--specs", required=True)
    parser.add_argument("--deviations", default=str(Path(__file__).with_name("schemathesis-deviations.txt")))
    parser.add_argument("--schemathesis", default="schemathesis")
    parser.add_argument("--port", type=int, default=18321)
    parser.add_argument("--examples", type=int, default=50, help="max examples per operation")
    parser.add_argument("--time-limit", type=int, default=100, help="seconds per spec (a hard limit)")
    parser.add_argument("--seed", type=int, default=int(os.environ.get("SLUICE_SCHEMATHESIS_SEED", "20261205")),
                        help="the data generation seed (fixed, so that a run is reproducible)")
    args = parser.parse_args()

    missing = [f for f, _ in SPECS.values() if not (Path(args.specs) / f).is_file()]
    if missing:
        print(f"{args.specs}: missing {', '.join(missing)}")
        return 1
    deviations, problems = read_deviations(args.deviations)
    if problems:
        print("\n".join(problems))
        return 1

    work = Path(tempfile.mkdtemp(prefix="sluice-schemathesis-"))
    token = "ci-schemathesis-" + secrets.token_hex(16)
    base = f"http://127.0.0.1:{args.port}"
    server_log = open(work / "server.log", "w")
    server = subprocess.Popen(
        [args.sluice, "server", "--data-dir", str(work / "data"), "--listen", f"127.0.0.1:{args.port}"],
        stdout=server_log, stderr=subprocess.STDOUT,
        env=dict(os.environ, SLUICE_API_TOKEN=token),
    )
    unaccepted, notes = [], []
    totals = {"operations": 0, "cases": 0, "accepted": 0}
    try:
        if not wait_for_health(base, server):
            print((work / "server.log").read_text())
            print("sluice server did not become healthy")
            return 1
        for key in SPECS:
            skips = [d.operation for d in deviations if d.failure == "skip" and d.spec == key]
            for d in deviations:
                if d.failure == "skip" and d.spec == key:
                    d.used = True
            data, log, error = run_spec(key, args, base, token, skips, work)
            if error:
                unaccepted.append(error)
                print(log.read_text()[-4000:])
                continue
            tested = data["operations"]["tested"]
            totals["operations"] += tested
            totals["cases"] += data["test_cases"]["generated"]
            failed_here = []
            if tested == 0:
                failed_here.append(f"{key}: no operation was tested")
            for e in data.get("errors", []):
                failed_here.append(f"{key}: schemathesis error: {json.dumps(e)[:300]}")
            for f in data["failures"]:
                code, title = f["code"], f["title"]
                for operation in f["operations"]:
                    what = f"{key} | {operation} | {code} ({title})"
                    if code in NEVER_ACCEPTED or SHAPE_CHECK in title:
                        failed_here.append(what)
                        continue
                    match = next((d for d in deviations if d.matches(key, operation, code)), None)
                    if match:
                        match.used = True
                        totals["accepted"] += 1
                    else:
                        failed_here.append(what)
            print(f"{key}: {tested} operations, {data['test_cases']['generated']} test cases, "
                  f"{len(failed_here)} unaccepted failures ({data['_elapsed']:.0f}s)")
            if failed_here:
                text = log.read_text()
                start = text.find("FAILURES")
                print(text[start:start + 20000] if start >= 0 else text[-6000:])
            unaccepted += failed_here
        if server.poll() is not None:
            unaccepted.append(f"sluice server exited with {server.returncode} during the run")
            print((work / "server.log").read_text()[-4000:])
    finally:
        if server.poll() is None:
            server.terminate()
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
        server_log.close()

    for d in deviations:
        if not d.used:
            notes.append(f"note: deviation not seen in this run ({args.deviations}:{d.line_no}): {d}")
    print("\n".join(notes))
    for u in unaccepted:
        print(f"NOT ACCEPTED: {u}")
    print(f"schemathesis: {len(SPECS)} specs, {totals['operations']} operations, {totals['cases']} test cases, "
          f"{totals['accepted']} accepted deviations, {len(unaccepted)} unaccepted failures")
    if not unaccepted:
        shutil.rmtree(work, ignore_errors=True)
    else:
        print(f"logs kept in {work}")
    return 1 if unaccepted else 0


if __name__ == "__main__":
    sys.exit(main())
