#!/usr/bin/env python3
"""The CLI at scale, measured from outside: wall time and peak memory of each command.

For each size N it makes a scratch project (its own age key), bulk-imports N values from a
dotenv file, then runs check, list --json, one set, an apply of N creates into a file://
backend, a no-change plan against it, and an import of the N values back from that file://
backend into another type. Prints a Markdown table (BENCHMARKS.md records it).

  scripts/bench_cli.py [--bin target/release/secretsync] [--sizes 1000,10000,100000]

CI runs it at a tiny size as a smoke test (every command must succeed; no timing is asserted).
"""
import argparse
import os
import random
import shutil
import string
import subprocess
import sys
import tempfile
import time


def measure(bin_path, args, cwd, env, expect=(0,)):
    """Runs one command under a small Python wrapper, whose RUSAGE_CHILDREN is then this
    command's own peak RSS; returns (seconds, peak RSS MiB, stdout)."""
    wrapper = (
        "import resource,subprocess,sys,time;"
        "t=time.monotonic();r=subprocess.run(sys.argv[1:],stdout=subprocess.PIPE,stderr=subprocess.PIPE);"
        "d=time.monotonic()-t;"
        "m=resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss/1024.0;"
        "sys.stderr.buffer.write(r.stderr);sys.stdout.buffer.write(r.stdout);"
        "sys.stderr.write(f'\\n@@ {d} {m} {r.returncode}\\n')"
    )
    p = subprocess.run([sys.executable, "-c", wrapper, bin_path, *args], cwd=cwd, env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    tail = p.stderr.decode(errors="replace").rstrip().rsplit("\n@@ ", 1)
    took, rss, code = tail[1].split()
    if int(code) not in expect:
        sys.stderr.write(f"{' '.join(args)} exited {code}:\n{tail[0]}\n")
        sys.exit(1)
    return float(took), float(rss), p.stdout


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="target/release/secretsync")
    ap.add_argument("--sizes", default="1000,10000,100000")
    a = ap.parse_args()
    bin_path = os.path.abspath(a.bin)
    sizes = [int(s) for s in a.sizes.split(",")]
    rows = []
    for n in sizes:
        d = tempfile.mkdtemp(prefix=f"ss-bench-{n}-")
        try:
            home = os.path.join(d, "home")
            os.makedirs(home)
            env = {"PATH": os.environ.get("PATH", ""), "HOME": home, "XDG_CONFIG_HOME": home,
                   "LANG": "C.UTF-8"}
            proj = os.path.join(d, "app")
            os.makedirs(proj)
            measure(bin_path, ["init", "--app", "bench"], proj, env)
            with open(os.path.join(proj, "secretsync.toml"), "a") as f:
                f.write('\n[environments.prod-eu]\ntype = "production"\n'
                        'backend = "file://replica"\nprefix = "app/"\n')
            rnd = random.Random(n)
            with open(os.path.join(proj, "values.env"), "w") as f:
                for i in range(n):
                    v = "".join(rnd.choices(string.ascii_letters + string.digits, k=48))
                    f.write(f"S{i:06d}={v}\n")

            def go(label, args, expect=(0,)):
                took, rss, _ = measure(bin_path, args, proj, env, expect)
                rows.append((label, n, took, rss, " ".join(args)))

            go("import N values from a dotenv file", ["import", "--from-file", "values.env", "--type", "prod"])
            go("check", ["check"], expect=(0, 2))
            go("list --json", ["list", "--json"])
            with open(os.path.join(proj, "one.txt"), "w") as f:
                f.write("a-new-value")
            go("set one value", ["set", "S000000", "--type", "prod", "--from-file", "one.txt"])
            go("apply: N creates into file://", ["apply", "--env", "prod-eu"])
            go("no-change plan against file://", ["plan", "--env", "prod-eu"])
            go("import N values from file://", ["import", "--from", "file://replica", "--prefix", "app/", "--type", "preview"])
        finally:
            shutil.rmtree(d, ignore_errors=True)
    print("| operation | secrets | wall s | peak RSS MiB | command |")
    print("|---|---:|---:|---:|---|")
    for label, n, took, rss, cmd in rows:
        print(f"| {label} | {n} | {took:.3f} | {rss:.0f} | `secretsync {cmd}` |")


if __name__ == "__main__":
    main()
