#!/usr/bin/env python3
"""The table and the plots of `make bench` (tests/bench/run.sh), from the
raw samples the VM wrote.

  report.py RESULTS [--svg DIR]...

RESULTS holds samples.csv (measure,tool,n,round,value,sent,received,seconds)
and meta.txt.  Prints the table (median [min-max] of the rounds, ratios of
medians), writes RESULTS/summary.json, and the SVG plots into each DIR:
flows.svg (new NATed flows/s against N), inbound.svg (inbound new flows/s,
started by the office host towards a 1:1-mapped LAN host, against N),
install.svg (install time against N) and unmapped.svg (unmapped traffic with 0 and N mappings, against
iptables and nft loaded and no NAT).  The children_* samples (children.sh)
make the table of "10,000 children up at once", with the seconds of each
thousand.  The SVG is written by hand: no
plotting library is needed.
"""
import argparse
import csv
import json
import math
import os
import statistics
import sys
from collections import defaultdict

TOOLS = ["xfrm-nat", "iptables", "nft"]
COLORS = {"xfrm-nat": "#1f77b4", "iptables": "#d62728", "nft": "#2ca02c", "none": "#7f7f7f"}
LABELS = {"xfrm-nat": "xfrm-nat (xnatctl restore)", "iptables": "iptables-restore (nf_tables backend)", "nft": "nft -f (interval map)"}


def load(results):
    samples = defaultdict(list)
    with open(os.path.join(results, "samples.csv")) as f:
        for row in csv.DictReader(f):
            key = (row["measure"], row["tool"], int(row["n"]))
            samples[key].append(row)
    meta = {}
    try:
        with open(os.path.join(results, "meta.txt")) as f:
            for line in f:
                k, _, v = line.rstrip("\n").partition("=")
                meta[k] = v
    except OSError:
        pass
    return samples, meta


def stats(rows):
    v = [float(r["value"]) for r in rows]
    return {"min": min(v), "median": statistics.median(v), "max": max(v), "rounds": len(v), "values": v}


def fmt(x, kind):
    if x is None:
        return "-"
    if kind == "s":
        return f"{x:.3f}" if x < 10 else f"{x:.1f}"
    return f"{x:,.0f}"


def cell(st, kind):
    if not st:
        return "-"
    return f"{fmt(st['median'], kind)} [{fmt(st['min'], kind)}-{fmt(st['max'], kind)}]"


def ratio(a, b):
    if not a or not b or not b["median"]:
        return None
    return a["median"] / b["median"]


def rfmt(r):
    return "-" if r is None else f"{r:.2f}"


def summarize(samples):
    out = defaultdict(dict)
    for (measure, tool, n), rows in samples.items():
        out[measure].setdefault(tool, {})[n] = stats(rows)
    return out


def table(summary, meta):
    if not any(m in summary for m in ("install_s", "flows_per_s", "inbound_flows_per_s")):
        return ""
    lines = []
    ns = sorted({n for m in ("install_s", "dump_s", "flows_per_s", "inbound_flows_per_s") for t in summary.get(m, {}).values() for n in t})
    rounds = meta.get("rounds", "?")
    lines.append(f"xfrm-nat vs iptables ({meta.get('iptables', 'iptables')}) and nft ({meta.get('nft', 'nft')})")
    lines.append(f"one VM run ({meta.get('vm_seconds', '?')} s) of {meta.get('commit', '?')} on {meta.get('date', '?')}: kernel {meta.get('kernel', '?')}, "
                 f"QEMU TCG, {meta.get('cpus', '?')} vCPUs, {rounds} rounds, {meta.get('seconds', '?')} s per traffic figure")
    lines.append("cells: median [min-max] of the rounds; ratios: xfrm-nat median / the other's median")
    lines.append("(times: below 1 means xfrm-nat is faster; rates: above 1 means xfrm-nat is faster)")
    lines.append("")
    w = 24
    hdr = f"{'measure':<28}{'N':>6}  " + "".join(f"{t:<{w}}" for t in TOOLS) + f"{'x/ipt':>7}{'x/nft':>7}"
    lines.append(hdr)
    lines.append("-" * len(hdr))
    rows = [
        ("install_s", "install, s", "s"),
        ("dump_s", "dump, s", "s"),
        ("add_one_s", "add one to the N, s", "s"),
        ("flows_per_s", "new NATed flows/s", "r"),
        ("inbound_flows_per_s", "inbound new flows/s", "r"),
    ]
    for measure, label, kind in rows:
        m = summary.get(measure, {})
        for n in ns:
            st = {t: m.get(t, {}).get(n) for t in TOOLS}
            if not any(st.values()):
                continue
            lines.append(f"{label:<28}{n:>6}  " + "".join(f"{cell(st[t], kind):<{w}}" for t in TOOLS)
                         + f"{rfmt(ratio(st['xfrm-nat'], st['iptables'])):>7}{rfmt(ratio(st['xfrm-nat'], st['nft'])):>7}")
        lines.append("")
    m = summary.get("install_absent_s", {}).get("xfrm-nat", {})
    if m:
        lines.append("xfrm-nat restore to absent policies (inactive mappings), s; ratio to restore with the policies present:")
        for n in sorted(m):
            present = summary.get("install_s", {}).get("xfrm-nat", {}).get(n)
            lines.append(f"{'':<28}{n:>6}  {cell(m[n], 's'):<{w}}ratio {rfmt(ratio(m[n], present))}")
        lines.append("")
    un = unmapped_rows(summary)
    if un:
        lines.append("unmapped traffic (LAN host -> the router, outside every policy), through the home box:")
        lines.append(f"{'configuration':<40}{'new flows/s':<24}{'one flow, packets/s':<24}")
        for label, new, one in un:
            lines.append(f"{label:<40}{cell(new, 'r'):<24}{cell(one, 'r'):<24}")
        d = dict((label, (new, one)) for label, new, one in un)
        base = [v for k, v in d.items() if k.startswith("xfrm-nat,") and not k.startswith("xfrm-nat, 0")]
        if base:
            xn = base[0]
            for k, v in d.items():
                if k.startswith(("iptables", "nft", "no NAT", "xfrm-nat, 0")):
                    lines.append(f"  xfrm-nat with mappings / {k}: new flows {rfmt(ratio(xn[0], v[0]))}, one flow {rfmt(ratio(xn[1], v[1]))}")
        lines.append("")
    spreads = sorted((st["max"] - st["min"]) / st["median"] for measure, tools in summary.items()
                     if not measure.startswith("children_")
                     for d in tools.values() for st in d.values() if st["median"])
    lines.append("Noise: QEMU TCG on a host whose cores other VMs share; only ratios within one run")
    lines.append("mean anything, and only where they are well outside the spreads.  Spread (max-min)/median")
    if spreads:
        lines.append(f"over all cells of this run: median {statistics.median(spreads):.0%}, largest {spreads[-1]:.0%}.")
    lines.append("Install and dump times include the start of the command (0.1-0.3 s under TCG),")
    lines.append("which is most of the figure below 1,000.")
    return "\n".join(lines)


def children_table(summary, meta):
    """The "10,000 children up at once" table: xfrm-nat against nft."""
    totals = [
        ("children_one_by_one_up_s", "one by one, until bound"),
        ("children_one_by_one_down_s", "one by one, unbind all"),
        ("children_all_in_one_up_s", "all in one, until bound"),
    ]
    if not any(m in summary for m, _ in totals):
        return ""
    n = meta.get("children", "?")
    named = "named rw-k" if meta.get("children_named") == "1" else "unnamed (no name attribute in this uapi)"
    lines = [f"{n} children up at once: mappings by reqid, {named}, against nft map elements",
             f"one VM run ({meta.get('vm_seconds', '?')} s) of {meta.get('commit', '?')} on {meta.get('date', '?')}: kernel {meta.get('kernel', '?')}, "
             f"QEMU TCG, {meta.get('cpus', '?')} vCPUs, {meta.get('children_rounds', '?')} round(s); cells: seconds, median [min-max];",
             "until bound: until xnatctl -j show reports all active (nft list map: all elements), that check included;",
             "one by one: xfrm-nat a map-new (map-del) request per child over one socket, nft an add (delete)",
             "element transaction per child (nft -i, a process per thousand); all in one: xnatctl restore",
             "(one map-set), one nft -f.  Ratio: xfrm-nat / nft (below 1: xfrm-nat is faster)", ""]
    w = 26
    hdr = f"{'measure':<28}{'xfrm-nat':<{w}}{'nft':<{w}}{'x/nft':>7}"
    lines += [hdr, "-" * len(hdr)]
    for measure, label in totals:
        m = summary.get(measure, {})
        x = next(iter(m.get("xfrm-nat", {}).values()), None)
        nst = next(iter(m.get("nft", {}).values()), None)
        if x or nst:
            lines.append(f"{label:<28}{cell(x, 's'):<{w}}{cell(nst, 's'):<{w}}{rfmt(ratio(x, nst)):>7}")
    up = summary.get("children_per_thousand_up_s", {})
    down = summary.get("children_per_thousand_down_s", {})
    ks = sorted({k for d in (up, down) for t in d.values() for k in t})
    if ks:
        lines += ["", "one by one, seconds per thousand (flat: O(log n) or O(1) a request; growing: O(n));",
                  "unmap goes in the same order, the table shrinking from the whole:",
                  f"{'children':<14}{'map-new':>10}{'add elem':>10}{'x/nft':>7}   {'map-del':>10}{'del elem':>10}{'x/nft':>7}"]
        prev = 0
        for k in ks:
            row = f"{f'{prev + 1}-{k}':<14}"
            for d in (up, down):
                x, nf = d.get("xfrm-nat", {}).get(k), d.get("nft", {}).get(k)
                row += f"{fmt(x and x['median'], 's'):>10}{fmt(nf and nf['median'], 's'):>10}{rfmt(ratio(x, nf)):>7}   "
            lines.append(row.rstrip())
            prev = k
        start = summary.get("children_nft_start_s", {}).get("nft", {}).get(0)
        if start:
            lines.append(f"nft's seconds per thousand include the start of one nft -i process ({fmt(start['median'], 's')} s with no input).")
    return "\n".join(lines)


def unmapped_rows(summary):
    new = summary.get("unmapped_new_per_s", {})
    one = summary.get("unmapped_one_pps", {})
    rows = []
    for tool, n, label in [("none", 0, "no NAT (no hooks, no conntrack)"),
                           ("xfrm-nat", 0, "xfrm-nat, 0 mappings (after flush)")]:
        if n in new.get(tool, {}):
            rows.append((label, new[tool][n], one.get(tool, {}).get(n)))
    for tool in TOOLS:
        for n in sorted(new.get(tool, {})):
            if n == 0:
                continue
            what = {"xfrm-nat": "mappings", "iptables": "rules", "nft": "map elements"}[tool]
            rows.append((f"{tool}, {n} {what}", new[tool][n], one.get(tool, {}).get(n)))
    return rows


# ---------------------------------------------------------------- SVG

def esc(s):
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def nice_ticks(lo, hi, count=5):
    if hi <= lo:
        hi = lo + 1
    span = hi - lo
    step = 10 ** math.floor(math.log10(span / count))
    for m in (1, 2, 2.5, 5, 10):
        if span / (step * m) <= count:
            step *= m
            break
    start = math.floor(lo / step) * step
    end = math.ceil(hi / step - 1e-9) * step
    ticks = []
    t = start
    while t <= end + step * 1e-9:
        ticks.append(round(t, 10))
        t += step
    return ticks


def si(v):
    if v >= 1000 and v % 1000 == 0:
        return f"{v / 1000:g}k"
    return f"{v:g}"


class Plot:
    W, H = 640, 400
    L, R, T, B = 80, 20, 48, 110

    def __init__(self, title, xlabel, ylabel):
        self.title, self.xlabel, self.ylabel = title, xlabel, ylabel
        self.el = []

    def frame(self, xticks, yticks, xfmt, yfmt):
        W, H, L, R, T, B = self.W, self.H, self.L, self.R, self.T, self.B
        el = self.el
        el.append(f'<rect x="0" y="0" width="{W}" height="{H}" fill="white"/>')
        el.append(f'<text x="{W / 2}" y="24" text-anchor="middle" font-size="15" font-weight="bold">{esc(self.title)}</text>')
        for t in yticks:
            y = self.py(t)
            el.append(f'<line x1="{L}" y1="{y:.1f}" x2="{W - R}" y2="{y:.1f}" stroke="#ddd"/>')
            el.append(f'<text x="{L - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11">{esc(yfmt(t))}</text>')
        for t in xticks:
            x = self.px(t)
            el.append(f'<line x1="{x:.1f}" y1="{T}" x2="{x:.1f}" y2="{H - B}" stroke="#eee"/>')
            el.append(f'<text x="{x:.1f}" y="{H - B + 16}" text-anchor="middle" font-size="11">{esc(xfmt(t))}</text>')
        el.append(f'<rect x="{L}" y="{T}" width="{W - L - R}" height="{H - T - B}" fill="none" stroke="black"/>')
        el.append(f'<text x="{(L + W - R) / 2}" y="{H - B + 36}" text-anchor="middle" font-size="12">{esc(self.xlabel)}</text>')
        el.append(f'<text x="16" y="{(T + H - B) / 2}" text-anchor="middle" font-size="12" '
                  f'transform="rotate(-90 16 {(T + H - B) / 2})">{esc(self.ylabel)}</text>')

    def legend(self, items, note=None):
        y = self.H - self.B + 56
        x = self.L
        for name, color in items:
            self.el.append(f'<rect x="{x}" y="{y - 9}" width="14" height="10" fill="{color}"/>')
            self.el.append(f'<text x="{x + 19}" y="{y}" font-size="11">{esc(name)}</text>')
            x += 19 + 6.2 * len(name) + 18
            if x > self.W - 160:
                x, y = self.L, y + 16
        if note:
            self.el.append(f'<text x="{self.L}" y="{self.H - 8}" font-size="10" fill="#555">{esc(note)}</text>')

    def write(self, path):
        with open(path, "w") as f:
            f.write(f'<svg xmlns="http://www.w3.org/2000/svg" width="{self.W}" height="{self.H}" '
                    f'viewBox="0 0 {self.W} {self.H}" font-family="sans-serif">\n')
            f.write("\n".join(self.el))
            f.write("\n</svg>\n")


def line_plot(path, title, ylabel, series, logy, note):
    """series: {tool: {n: stats}}; x is N on a log scale."""
    p = Plot(title, "N (mappings / rules / map elements), log scale", ylabel)
    xs = sorted({n for s in series.values() for n in s})
    if not xs:
        return False
    ys = [v for s in series.values() for st in s.values() for v in (st["min"], st["max"])]
    x0, x1 = math.log10(min(xs)), math.log10(max(xs))
    if x1 == x0:
        x1 = x0 + 1
    pad = 0.08 * (x1 - x0)
    x0, x1 = x0 - pad, x1 + pad
    if logy:
        y0 = math.floor(math.log10(min(ys)))
        y1 = math.ceil(math.log10(max(ys)))
        if y1 == y0:
            y1 += 1
        mult = (1, 2, 5) if y1 - y0 <= 3 else (1,)
        yticks = [m * 10 ** e for e in range(y0, y1 + 1) for m in mult if m * 10 ** e <= 10 ** y1]
        fy = math.log10
        ymin, ymax = y0, y1
    else:
        yticks = nice_ticks(0, max(ys) * 1.05)
        fy = lambda v: v  # noqa: E731
        ymin, ymax = 0, yticks[-1]
    p.px = lambda n: p.L + (math.log10(n) - x0) / (x1 - x0) * (p.W - p.L - p.R)
    p.py = lambda v: p.H - p.B - (fy(v) - ymin) / (ymax - ymin) * (p.H - p.T - p.B)
    xticks = [n for n in (1, 10, 100, 1000, 10000, 100000) if min(xs) <= n <= max(xs)]
    p.frame(xticks, yticks, lambda n: si(n), (lambda v: f"{v:g} s") if logy else si)
    for tool in TOOLS:
        s = series.get(tool)
        if not s:
            continue
        c = COLORS[tool]
        pts = [(p.px(n), p.py(s[n]["median"])) for n in sorted(s)]
        p.el.append(f'<polyline fill="none" stroke="{c}" stroke-width="2" points="'
                    + " ".join(f"{x:.1f},{y:.1f}" for x, y in pts) + '"/>')
        for n in sorted(s):
            x = p.px(n)
            ylo, yhi = p.py(s[n]["min"]), p.py(s[n]["max"])
            p.el.append(f'<line x1="{x:.1f}" y1="{ylo:.1f}" x2="{x:.1f}" y2="{yhi:.1f}" stroke="{c}"/>')
            p.el.append(f'<circle cx="{x:.1f}" cy="{p.py(s[n]["median"]):.1f}" r="3.5" fill="{c}"/>')
    p.legend([(LABELS[t] if "install" in path else t, COLORS[t]) for t in TOOLS if t in series], note)
    p.write(path)
    return True


def bar_plot(path, rows, note):
    """rows: [(label, new stats, one stats)]: two groups of bars."""
    p = Plot("Unmapped traffic through the home box", "", "packets/s (median; whiskers: min-max)")
    p.B = 130
    groups = [("new flow per packet", 1), ("one flow", 2)]
    ys = [st["max"] for r in rows for st in r[1:] if st]
    yticks = nice_ticks(0, max(ys) * 1.05)
    gw = (p.W - p.L - p.R) / len(groups)
    p.px = lambda i: p.L + gw * (i + 0.5)
    p.py = lambda v: p.H - p.B - v / yticks[-1] * (p.H - p.T - p.B)
    p.frame([0, 1], yticks, lambda i: groups[i][0], si)
    palette = ["#7f7f7f", "#9ecae1", "#1f77b4", "#d62728", "#2ca02c"]
    bw = gw * 0.8 / len(rows)
    for gi, (_, col) in enumerate(groups):
        for ri, r in enumerate(rows):
            st = r[col]
            if not st:
                continue
            x = p.L + gw * gi + gw * 0.1 + ri * bw
            y = p.py(st["median"])
            c = palette[ri % len(palette)]
            p.el.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{bw * 0.9:.1f}" height="{p.H - p.B - y:.1f}" fill="{c}"/>')
            xm = x + bw * 0.45
            p.el.append(f'<line x1="{xm:.1f}" y1="{p.py(st["min"]):.1f}" x2="{xm:.1f}" y2="{p.py(st["max"]):.1f}" stroke="black"/>')
    p.legend([(r[0], palette[i % len(palette)]) for i, r in enumerate(rows)], note)
    p.write(path)


def plots(summary, meta, dirs):
    note = (f"one VM run (QEMU TCG, {meta.get('cpus', '?')} vCPUs on a shared host), {meta.get('rounds', '?')} rounds;"
            " only ratios within the run mean anything")
    written = []
    for d in dirs:
        os.makedirs(d, exist_ok=True)
        for name, title, ylabel, measure, logy in [
                ("flows.svg", "New NATed flows/s through the tunnel",
                 "new flows/s (median; whiskers: min-max)", "flows_per_s", False),
                ("inbound.svg", "Inbound new flows/s to a 1:1-mapped LAN host",
                 "new flows/s (median; whiskers: min-max)", "inbound_flows_per_s", False),
                ("install.svg", "Install time of N mappings / rules / map elements",
                 "seconds, log scale", "install_s", True)]:
            if line_plot(os.path.join(d, name), title, ylabel, summary.get(measure, {}), logy, note):
                written.append(os.path.join(d, name))
        rows = unmapped_rows(summary)
        if rows:
            bar_plot(os.path.join(d, "unmapped.svg"), rows, note)
            written.append(os.path.join(d, "unmapped.svg"))
    return written


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("results")
    ap.add_argument("--svg", action="append", default=[])
    a = ap.parse_args()
    samples, meta = load(a.results)
    if not samples:
        sys.exit("no samples")
    summary = summarize(samples)
    text = "\n\n".join(t for t in (table(summary, meta), children_table(summary, meta)) if t)
    print(text)
    js = {"meta": meta,
          "figures": {m: {t: {str(n): st for n, st in sorted(d.items())} for t, d in tools.items()}
                      for m, tools in summary.items()}}
    with open(os.path.join(a.results, "summary.json"), "w") as f:
        json.dump(js, f, indent=1)
    written = plots(summary, meta, a.svg)
    if written:
        print(f"plots: {', '.join(written)}")


if __name__ == "__main__":
    main()
