#!/usr/bin/env python3
"""Report of `make bench-insns`: guest instructions per new NATed flow.

    insns.py OUTDIR [--top K]

Reads OUTDIR/windows.txt and OUTDIR/kallsyms (written by insns.sh in the
guest) and OUTDIR/tb.N (written by tbcount.c).  Prints, per N, each tool's
instructions per flow sent (min/median/max over the rounds) and its ratio
to nft's median, then the kernel functions whose cost per flow differs most
between the tools, and the sums of the tools' own functions.  Lower is
better; a ratio above 1.00 means more work per flow than nft.
"""
import argparse
import bisect
import collections
import re
import statistics
import subprocess
import sys


def load_symbols(path):
    syms = []
    with open(path) as f:
        for line in f:
            p = line.split()
            if len(p) < 3 or p[1] not in "tTwW" or int(p[0], 16) == 0:
                continue
            syms.append((int(p[0], 16), p[2] + (" " + p[3] if len(p) > 3 else "")))
    syms.sort()
    return [a for a, _ in syms], [s for _, s in syms]


def readable(names):
    """Rust symbols (`_R...`) demangled by c++filt (binutils), short: no
    crate hashes nor module paths, e.g. `<SnatHook as Hook>::hook`; the
    names as they are where c++filt is missing."""
    rust = sorted({n.split(" ")[0] for n in names if n.startswith("_R")})
    try:
        out = subprocess.run(["c++filt"], input="\n".join(rust), capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return {}
    short = lambda d: re.sub(r"\b[a-z_][a-z0-9_]*::", "", re.sub(r"\[[0-9a-f]+\]", "", d))
    return {m: short(d) for m, d in zip(rust, out.splitlines())}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("outdir")
    ap.add_argument("--top", type=int, default=25)
    a = ap.parse_args()
    addrs, names = load_symbols(f"{a.outdir}/kallsyms")
    cache = {}

    def symbol(va):
        s = cache.get(va)
        if s is None:
            if va < 1 << 63:
                s = "[user space]"
            else:
                i = bisect.bisect_right(addrs, va) - 1
                s = names[i] if i >= 0 else "[unknown]"
            cache[va] = s
        return s

    # (n, tool) -> per-round instructions per flow; per-symbol sums.
    per_round = collections.defaultdict(list)
    by_symbol = collections.defaultdict(collections.Counter)
    flows = collections.Counter()
    with open(f"{a.outdir}/windows.txt") as f:
        windows = [line.split() for line in f if line.strip()]
    if not windows:
        sys.exit("insns.py: no window in windows.txt")
    for tool, n, _round, dump, sent, _recv in windows:
        n, sent = int(n), int(sent)
        if sent == 0:
            sys.exit(f"insns.py: {tool} at N={n} sent nothing")
        counts = collections.Counter()
        with open(f"{a.outdir}/tb.{dump}") as f:
            for line in f:
                va, insns, runs = line.split()
                counts[symbol(int(va, 16))] += int(insns) * int(runs)
        per_round[(n, tool)].append(sum(counts.values()) / sent)
        by_symbol[(n, tool)].update(counts)
        flows[(n, tool)] += sent

    tools = list(dict.fromkeys(w[0] for w in windows))
    ns = sorted({k[0] for k in per_round})
    try:
        with open(f"{a.outdir}/traffic") as f:
            traffic = f.read().strip()
    except FileNotFoundError:
        traffic = "mapped"
    if traffic == "unmapped":
        print("Guest instructions per new unmapped flow (LAN host -> router, outside every mapping; whole path)")
    else:
        print("Guest instructions per new NATed flow (whole path: sender, both gateways, receiver)")
    print(f"{'N':>6} {'tool':<9} {'flows':>7} {'min':>9} {'median':>9} {'max':>9} {'vs nft':>7}")
    for n in ns:
        ref = statistics.median(per_round[(n, "nft")]) if (n, "nft") in per_round else None
        for t in tools:
            v = per_round.get((n, t))
            if not v:
                continue
            med = statistics.median(v)
            ratio = f"{med / ref:.3f}" if ref else "-"
            print(f"{n:>6} {t:<9} {flows[(n, t)]:>7} {min(v):>9.0f} {med:>9.0f} {max(v):>9.0f} {ratio:>7}")
    for n in ns:
        present = [t for t in tools if (n, t) in by_symbol]
        rows = []
        for s in set().union(*(by_symbol[(n, t)] for t in present)):
            v = [by_symbol[(n, t)][s] / flows[(n, t)] for t in present]
            rows.append((max(v) - min(v), s, v))
        rows.sort(reverse=True)
        demangled = readable(s for _, s, _ in rows[: a.top])
        print(f"\nN={n}: functions whose instructions per flow differ most between the tools")
        print(f"{'':<60}" + "".join(f"{t:>10}" for t in present))
        for _, s, v in rows[: a.top]:
            name, _, module = s.partition(" ")
            s = demangled.get(name, name) + (" " + module if module else "")
            if len(s) > 60:  # the end of a path says most
                s = "..." + s[-57:]
            print(f"{s:<60}" + "".join(f"{x:>10.1f}" for x in v))
        # What the NAT tools' own code takes: the module's functions, and
        # nf_tables' (which also runs iptables-nft's rules) with xtables'.
        groups = {
            "functions of the module (xfrm_nat)": lambda s: s.endswith(" [xfrm_nat]"),
            "functions of nf_tables and xtables (nft_*, xt_*)": lambda s: s.startswith(("nft_", "__nft_", "xt_")),
        }
        print()
        for label, member in groups.items():
            v = [sum(c for s, c in by_symbol[(n, t)].items() if member(s)) / flows[(n, t)] for t in present]
            print(f"{label:<60}" + "".join(f"{x:>10.1f}" for x in v))


if __name__ == "__main__":
    main()
