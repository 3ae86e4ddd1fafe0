#!/usr/bin/env python3
"""Parse dnsperf / wrk output and print the benchmark tables.

  summarize.py dnsperf FILE         -> "qps avg_latency_s lost sent"
  summarize.py dnslat FILE          -> "p50_s p99_s max_s answered lost"
  summarize.py dns-table TSV LATTSV -> markdown table
  summarize.py dns-ratios TSV NAME  -> NAME's median q/s over every other system's
  summarize.py wrk FILE             -> "rps p50_ms p99_ms errors non2xx requests"
  summarize.py http-table TSV       -> markdown table
  summarize.py expect               -> expected steering answers (nearest healthy)
"""
import math
import re
import statistics
import sys


def dnsperf(path):
    txt = open(path, errors="replace").read()

    def grab(pat, default="nan"):
        m = re.search(pat, txt)
        return m.group(1) if m else default
    qps = grab(r"Queries per second:\s+([\d.]+)")
    avg = grab(r"Average Latency \(s\):\s+([\d.]+)")
    lost = grab(r"Queries lost:\s+(\d+)")
    sent = grab(r"Queries sent:\s+(\d+)")
    print(qps, avg, lost, sent)


def pct(sorted_vals, p):
    if not sorted_vals:
        return float("nan")
    k = max(0, min(len(sorted_vals) - 1, math.ceil(p / 100.0 * len(sorted_vals)) - 1))
    return sorted_vals[k]


def dnslat(path):
    lats, lost = [], 0
    for line in open(path, errors="replace"):
        if not line.startswith("> "):
            continue
        parts = line.split()
        if parts[1] in ("T", "I"):
            lost += 1
            continue
        try:
            lats.append(float(parts[-1]))
        except ValueError:
            pass
    lats.sort()
    print(f"{pct(lats, 50):.6f} {pct(lats, 99):.6f} {(lats[-1] if lats else float('nan')):.6f} {len(lats)} {lost}")


def med_min_max(vals):
    vals = [v for v in vals if not math.isnan(v)]
    if not vals:
        return (float("nan"),) * 3
    return statistics.median(vals), min(vals), max(vals)


def fmt_k(v):
    return "n/a" if math.isnan(v) else f"{v:,.0f}"


def fmt_ms(v, digits=2):
    return "n/a" if math.isnan(v) else f"{v * 1000:.{digits}f}"


def load_tsv(path):
    rows = []
    try:
        for line in open(path):
            if line.strip() and not line.startswith("#"):
                rows.append(line.rstrip("\n").split("\t"))
    except FileNotFoundError:
        pass
    return rows


def dns_table(tsv, lattsv):
    runs, order, foreign = {}, [], {}
    for r in load_tsv(tsv):
        system, _rnd, qps, avg, lost, sent = r[:6]
        if system not in runs:
            runs[system] = []
            order.append(system)
        runs[system].append((float(qps), float(avg), int(lost) if lost.isdigit() else 0,
                             int(sent) if sent.isdigit() else 0))
        if len(r) > 6:  # repository copy: other processes' CPU use per run
            foreign.setdefault(system, []).append(float(r[6]))
    lat = {}
    for r in load_tsv(lattsv):
        system, _rnd, p50, p99, mx, ans, lost = r[:7]
        lat.setdefault(system, []).append((float(p50), float(p99), int(lost)))
    ref = None
    for s in order:
        if s.startswith("knot"):
            ref = statistics.median(x[0] for x in runs[s])
    print("| system | queries/s median | min | max | vs knot | avg latency @max (ms) | "
          f"p50 / p99 @fixed rate (ms) | lost @max (of sent) | lost @fixed rate |"
          + (" others' CPU % (max) |" if foreign else ""))
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|" + ("---:|" if foreign else ""))
    for s in order:
        q = med_min_max([x[0] for x in runs[s]])
        a = statistics.median(x[1] for x in runs[s])
        lost = sum(x[2] for x in runs[s])
        sent = sum(x[3] for x in runs[s])
        rel = f"{q[0] / ref:.2f}x" if ref else "n/a"
        if s in lat:
            p50 = statistics.median(x[0] for x in lat[s])
            p99 = statistics.median(x[1] for x in lat[s])
            llost = sum(x[2] for x in lat[s])
            latcol = f"{fmt_ms(p50, 3)} / {fmt_ms(p99, 3)}"
        else:
            latcol, llost = "n/a", "n/a"
        print(f"| {s} | {fmt_k(q[0])} | {fmt_k(q[1])} | {fmt_k(q[2])} | {rel} | {fmt_ms(a)} | "
              f"{latcol} | {lost:,} ({sent:,}) | {llost} |"
              + (f" {max(foreign.get(s, [float('nan')])):.1f} |" if foreign else ""))


def dns_ratios(tsv, name):
    runs, order = {}, []
    for r in load_tsv(tsv):
        if r[0] not in runs:
            runs[r[0]] = []
            order.append(r[0])
        runs[r[0]].append(float(r[2]))
    med = {s: med_min_max(v)[0] for s, v in runs.items()}
    if name not in med or math.isnan(med[name]):
        print(f"({name} not measured: no ratios)")
        return
    # per-round ratios too: the rounds rotate the order, so their spread
    # says how much the ratio itself moves
    print(f"| {name} vs | median ratio | per-round ratios |")
    print("|---|---:|---|")
    for s in order:
        if s == name or math.isnan(med[s]) or med[s] == 0:
            continue
        per = [a / b for a, b in zip(runs[name], runs[s]) if b]
        print(f"| {s} | {med[name] / med[s]:.2f}x | {', '.join(f'{x:.2f}' for x in per)} |")


UNIT = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}


def to_ms(s):
    m = re.match(r"([\d.]+)(us|ms|s|m|h)$", s)
    return float(m.group(1)) * UNIT[m.group(2)] if m else float("nan")


def wrk(path):
    txt = open(path, errors="replace").read()
    m = re.search(r"Requests/sec:\s+([\d.]+)", txt)
    rps = float(m.group(1)) if m else float("nan")
    p = {}
    for pm in re.finditer(r"^\s+(50|75|90|99)%\s+([\d.]+\w+)", txt, re.M):
        p[pm.group(1)] = to_ms(pm.group(2))
    errs = 0
    em = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", txt)
    if em:
        errs = sum(int(x) for x in em.groups())
    nm = re.search(r"Non-2xx or 3xx responses: (\d+)", txt)
    non2xx = int(nm.group(1)) if nm else 0
    rm = re.search(r"(\d+) requests in", txt)
    reqs = int(rm.group(1)) if rm else 0
    print(f"{rps:.1f} {p.get('50', float('nan')):.3f} {p.get('99', float('nan')):.3f} {errs} {non2xx} {reqs}")


def http_table(tsv):
    runs, order = {}, []
    for r in load_tsv(tsv):
        system, case, conns, _rnd, rps, p50, p99, errs, non2xx, reqs = r[:10]
        key = (system, case, conns)
        if key not in runs:
            runs[key] = []
            order.append(key)
        runs[key].append((float(rps), float(p50), float(p99), int(errs), int(non2xx),
                          float(r[10]) if len(r) > 10 else float("nan")))
    foreign = any(not math.isnan(x[5]) for v in runs.values() for x in v)
    direct = {}
    for (s, c, n), v in runs.items():
        if s == "direct":
            direct[(c.split("-")[-1], n)] = statistics.median(x[0] for x in v)
    print("| system | case | conns | req/s median | min | max | vs direct | p50 (ms) | p99 (ms) | errors / non-2xx |"
          + (" others' CPU % (max) |" if foreign else ""))
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|" + ("---:|" if foreign else ""))
    for key in order:
        s, c, n = key
        v = runs[key]
        q = med_min_max([x[0] for x in v])
        p50 = statistics.median(x[1] for x in v)
        p99 = statistics.median(x[2] for x in v)
        errs = sum(x[3] for x in v)
        non2xx = sum(x[4] for x in v)
        d = direct.get((c.split("-")[-1], n))
        rel = f"{q[0] / d:.2f}x" if d else "n/a"
        print(f"| {s} | {c} | {n} | {fmt_k(q[0])} | {fmt_k(q[1])} | {fmt_k(q[2])} | {rel} | "
              f"{p50:.2f} | {p99:.2f} | {errs} / {non2xx} |"
              + (f" {max(x[5] for x in v):.1f} |" if foreign else ""))


# ---- expected steering answers: nearest healthy region (great-circle) ----
REGIONS = [("us-east", 39.04, -77.49, "127.0.10.1", True),
           ("eu-west", 50.11, 8.68, "127.0.10.2", True),
           ("ap-south", 1.35, 103.82, "127.0.10.3", False)]
CLIENTS = [("none (127.0.0.1: New York)", "", 40.71, -74.01),
           ("8.8.8.0/24 (Mountain View)", "8.8.8.0/24", 37.39, -122.08),
           ("193.0.6.0/24 (Amsterdam)", "193.0.6.0/24", 52.37, 4.89),
           ("202.12.27.0/24 (Tokyo)", "202.12.27.0/24", 35.69, 139.69),
           ("1.1.1.0/24 (Sydney)", "1.1.1.0/24", -33.87, 151.21),
           ("200.160.0.0/24 (Sao Paulo)", "200.160.0.0/24", -23.55, -46.63),
           ("41.0.0.0/24 (Johannesburg)", "41.0.0.0/24", -26.20, 28.05),
           ("2001:4860::/48 (Mountain View)", "2001:4860::/48", 37.39, -122.08),
           ("2001:67c:2e8::/48 (Amsterdam)", "2001:67c:2e8::/48", 52.37, 4.89),
           ("2001:200::/48 (Tokyo)", "2001:200::/48", 35.69, 139.69)]


def gc(lat1, lon1, lat2, lon2):
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dl = math.radians(lon2 - lon1)
    return math.acos(max(-1, min(1, math.sin(p1) * math.sin(p2) + math.cos(p1) * math.cos(p2) * math.cos(dl))))


def expect():
    for label, ecs, lat, lon in CLIENTS:
        healthy = [r for r in REGIONS if r[4]]
        best = min(healthy, key=lambda r: gc(lat, lon, r[1], r[2]))
        print(f"{ecs or '-'}\t{best[3]}\t{label}\t{best[0]}")


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "dnsperf":
        dnsperf(sys.argv[2])
    elif cmd == "dnslat":
        dnslat(sys.argv[2])
    elif cmd == "dns-table":
        dns_table(sys.argv[2], sys.argv[3])
    elif cmd == "dns-ratios":
        dns_ratios(sys.argv[2], sys.argv[3])
    elif cmd == "wrk":
        wrk(sys.argv[2])
    elif cmd == "http-table":
        http_table(sys.argv[2])
    elif cmd == "expect":
        expect()
    else:
        sys.exit(__doc__)
