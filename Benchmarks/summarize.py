#!/usr/bin/env python3
"""Turn run.sh's RESULT/FAIL lines into the side-by-side Markdown table: per workload and procs, Go's and
ours' median [min-max], the ratio of the medians (ours / Go; below 1 means ours is faster or smaller), the
target ratio and whether it is met. A second table lists the secondary figures (peak RSS and so on).

Usage: summarize.py RAW_FILE. Standard library only."""
import statistics
import sys
from collections import defaultdict

# Keys that identify a configuration (a workload's size); anything else on a line is a measurement.
SIZE_KEYS = ["n", "g", "hops", "w", "jobs", "buf"]
# (bench, metric, row label, unit, target ratio, or {procs: ratio}, or None). Targets are on the medians' ratio,
# ours / Go: issue #17's — no row above 1.0 at either P count, pingpong and ring at 1 P at most 0.7 (the
# long-term goal is half of Go's time on spawn, pingpong and ring).
ROWS = [
    ("spawn", "ns_per_op", "spawn (first round)", "ns/goroutine", 1.0),
    ("spawn", "ns_per_op_warm", "spawn (warm rounds)", "ns/goroutine", None),
    ("pingpong", "ns_per_op", "pingpong", "ns/round trip", {1: 0.7, 2: 1.0}),
    ("ring", "ns_per_op", "ring", "ns/hop", {1: 0.7, 2: 1.0}),
    ("workers", "ns_per_op", "workers", "ns/job", 1.0),
    # The issue's target is absolute, ≤ 1,200 B per long-parked goroutine; against Go 1.19's 2,710 B that is 0.44.
    ("parkmem", "bytes_per_g", "parkmem", "RSS B/parked goroutine", 0.44),
]
SECONDARY = [
    ("spawn", "peak_rss_kib", "spawn peak RSS", "KiB"),
    ("parkmem", "bytes_per_g_incl_chan", "parkmem incl. channel", "RSS B/goroutine"),
    ("parkmem", "spawn_ms", "parkmem spawn + park", "ms"),
    ("parkmem", "rss_parked_kib", "parkmem RSS while parked", "KiB"),
    ("parkmem", "rss_after_release_kib", "parkmem RSS after release", "KiB"),
]


def parse(line):
    fields = line.split()
    kv = dict(tok.split("=", 1) for tok in fields[1:] if "=" in tok)
    kv["_kind"] = fields[0]
    impl = kv.get("impl", "")
    kv["_side"] = "ours" if impl == "gotrace" else ("go" if impl.startswith("go") else impl)
    return kv


def number(text):
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def fmt(x):
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:.2f}"


def ratio_of_medians(ours, go):
    if not ours or not go or statistics.median(go) == 0:
        return None
    return statistics.median(ours) / statistics.median(go)


def cell(values, fails):
    if not values:
        if not fails:
            return "–"
        whys = sorted({f.get("why", "?") for f in fails})
        return f"**FAIL** ×{len(fails)} ({', '.join(whys)})"
    med = statistics.median(values)
    text = f"**{fmt(med)}** [{fmt(min(values))}–{fmt(max(values))}]"
    if fails:
        text += f" + {len(fails)} FAIL"
    return text


def main(path):
    # (bench, procs, size) -> side -> list of parsed lines; FAILs kept apart.
    results = defaultdict(lambda: defaultdict(list))
    fails = defaultdict(lambda: defaultdict(list))
    header = []
    for line in open(path):
        if line.startswith("# "):
            header.append(line[2:].strip())
            continue
        if not (line.startswith("RESULT ") or line.startswith("FAIL ")):
            continue
        kv = parse(line)
        size = " ".join(f"{k}={kv[k]}" for k in SIZE_KEYS if k in kv)
        key = (kv.get("bench"), kv.get("procs"), size)
        (results if kv["_kind"] == "RESULT" else fails)[key][kv["_side"]].append(kv)

    keys = sorted(set(results) | set(fails),
                  key=lambda k: ([r[0] for r in ROWS].index(k[0]) if k[0] in [r[0] for r in ROWS] else 99,
                                 int(k[1] or 0), k[2]))
    for line in header:
        print(f"- {line}")
    print()
    print("| workload | procs | size | unit | Go median [min–max] | ours median [min–max] | ours/Go | target "
          "| met? |")
    print("|---|---|---|---|---|---|---|---|---|")
    for bench, metric, label, unit, targets in ROWS:
        for key in keys:
            if key[0] != bench:
                continue
            target = targets.get(int(key[1])) if isinstance(targets, dict) else targets
            go = [v for r in results[key]["go"] if (v := number(r.get(metric))) is not None]
            ours = [v for r in results[key]["ours"] if (v := number(r.get(metric))) is not None]
            go_fails, our_fails = fails[key]["go"], fails[key]["ours"]
            ratio = ratio_of_medians(ours, go)
            ratio_text = f"{ratio:.2f}" if ratio is not None else "–"
            if target is None:
                target_text, met = ("later" if bench == "parkmem" else "info"), "–"
            else:
                target_text = f"≤ {target:g}"
                if ratio is None:
                    met = "**no** (fail)" if our_fails else "–"
                else:
                    met = "yes" if ratio <= target else "**no**"
                    if our_fails:
                        met += f" ({len(our_fails)} FAIL)"
            print(f"| {label} | {key[1]} | {key[2]} | {unit} | {cell(go, go_fails)} | {cell(ours, our_fails)} "
                  f"| {ratio_text} | {target_text} | {met} |")
    print()
    print("| figure | procs | size | unit | Go median [min–max] | ours median [min–max] | ours/Go |")
    print("|---|---|---|---|---|---|---|")
    for bench, metric, label, unit in SECONDARY:
        for key in keys:
            if key[0] != bench:
                continue
            go = [v for r in results[key]["go"] if (v := number(r.get(metric))) is not None]
            ours = [v for r in results[key]["ours"] if (v := number(r.get(metric))) is not None]
            if not go and not ours:
                continue
            ratio = ratio_of_medians(ours, go)
            print(f"| {label} | {key[1]} | {key[2]} | {unit} | {cell(go, [])} | {cell(ours, [])} "
                  f"| {f'{ratio:.2f}' if ratio is not None else '–'} |")
    counts = defaultdict(int)
    for key in keys:
        for side in ("go", "ours"):
            counts[side] += len(results[key][side])
            counts[side + "_fail"] += len(fails[key][side])
    print()
    print(f"Runs: Go {counts['go']} ok, {counts['go_fail']} failed; ours {counts['ours']} ok, "
          f"{counts['ours_fail']} failed. Ratios are of medians; below 1 means ours is faster (or smaller).")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "results/raw.txt")
