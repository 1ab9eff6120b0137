#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Generate module/core/src/uapi.rs from the xfrm_nat netlink spec.

The YAML spec in Documentation/netlink/specs/xfrm_nat.yaml is the one
contract between the kernel module and its users.  This script turns it into
plain `no_std`-friendly Rust constants that both the module and xnatctl
include with `mod`, so no number is ever written down twice.

Numbering follows the ynl rules for genetlink specs:
  * operations (unified model, the only one genetlink allows): from 1 in list
    order, an explicit `value:` restarts the count;
  * attributes of an attribute set: from 1 in list order, `value:` restarts
    the count; `subset-of` sets reuse their parent's numbers and get no
    module of their own;
  * enum entries: from `value-start` (default 0), `value:` restarts the count;
    flags entries are bit numbers counted the same way and rendered as masks.

Usage: scripts/gen-uapi.py [--spec FILE] [--out FILE] [--check]
"""

import argparse
import difflib
import os
import sys

try:
    import yaml
except ImportError:  # pragma: no cover - environment problem
    sys.exit("gen-uapi.py: PyYAML is required (apt-get install python3-yaml)")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SPEC_REL = "Documentation/netlink/specs/xfrm_nat.yaml"
OUT_REL = "module/core/src/uapi.rs"

# Width of the Rust integer for scalar netlink attribute types, used to pick
# the type of an enum's constants from the attributes that carry it.
SCALAR_BITS = {"u8": 8, "u16": 16, "u32": 32, "u64": 64, "uint": 64}


class SpecError(Exception):
    pass


def upper(name):
    """ynl-style C name: dashes to underscores, upper case."""
    return str(name).replace("-", "_").upper()


def lower(name):
    return str(name).replace("-", "_").lower()


def doc_lines(doc, indent):
    """Render a spec `doc:` string as `///` lines at the given indent."""
    if not doc:
        return []
    lines = str(doc).strip("\n").rstrip().split("\n")
    out = []
    for line in lines:
        line = line.rstrip()
        out.append(indent + ("/// " + line if line else "///"))
    return out


def as_int(value, what):
    if isinstance(value, bool) or not isinstance(value, int):
        raise SpecError("%s: value %r is not an integer literal" % (what, value))
    return value


def number(items, start, what):
    """Assign ynl values to a list of (name, yaml) items."""
    out = []
    val = start
    for name, elem in items:
        if isinstance(elem, dict) and "value" in elem:
            val = as_int(elem["value"], "%s %s" % (what, name))
        out.append((name, val, elem))
        val += 1
    return out


def check_unique(names, what):
    seen = set()
    for n in names:
        if n in seen:
            raise SpecError("duplicate %s %s" % (what, n))
        seen.add(n)


def rust_uint(bits):
    return "u%d" % bits


def enum_widths(spec):
    """Map enum name -> widest scalar width among attributes using it."""
    widths = {}
    for aset in spec.get("attribute-sets") or []:
        for attr in aset.get("attributes") or []:
            enum = attr.get("enum")
            if not enum:
                continue
            bits = SCALAR_BITS.get(attr.get("type"))
            if bits is None:
                raise SpecError(
                    "attribute %s.%s: enum %s on non-unsigned type %s"
                    % (aset["name"], attr["name"], enum, attr.get("type"))
                )
            widths[enum] = max(widths.get(enum, 0), bits)
    return widths


def id_consts(elems, what, rtype, limit, max_doc):
    """Body of a module of ids numbered from 1 (operations, attributes)."""
    items = number([(e["name"], e) for e in elems], 1, what)
    check_unique([upper(n) for n, _, _ in items], what)
    body = []
    for name, val, elem in items:
        if not 0 < val <= limit:
            raise SpecError("%s %s: value %d out of range 1..%d" % (what, name, val, limit))
        body.extend(doc_lines(elem.get("doc"), "    "))
        body.append("    pub const %s: %s = %d;" % (upper(name), rtype, val))
    body.append("    /// " + max_doc)
    body.append("    pub const MAX: %s = %d;" % (rtype, max(v for _, v, _ in items)))
    return body


def gen(spec, spec_rel):
    if spec.get("protocol", "genetlink") not in ("genetlink", "genetlink-c"):
        raise SpecError("unsupported protocol %r" % spec.get("protocol"))
    ops = spec.get("operations") or {}
    if ops.get("enum-model", "unified") != "unified":
        raise SpecError("only the unified operations model is supported")

    out = []
    w = out.append
    w("// SPDX-License-Identifier: ((GPL-2.0 WITH Linux-syscall-note) OR BSD-3-Clause)")
    w("// Generated from %s by scripts/gen-uapi.py. Do not edit." % spec_rel)
    w("")

    # Family.
    out.extend(doc_lines(spec.get("doc"), ""))
    w('pub const FAMILY_NAME: &str = "%s";' % spec["name"])
    w("/// Generic netlink family version (genlmsghdr.version).")
    w("pub const FAMILY_VERSION: u8 = %d;" % as_int(spec.get("version", 1), "version"))

    groups = (spec.get("mcast-groups") or {}).get("list") or []
    check_unique([upper(g["name"]) for g in groups], "multicast group")
    for g in groups:
        lines = doc_lines(g.get("doc"), "")
        out.extend(lines or ["/// Multicast group `%s`." % g["name"]])
        w('pub const MCGRP_%s: &str = "%s";' % (upper(g["name"]), g["name"]))

    modules = []

    # Operations.
    op_list = ops.get("list") or []
    if op_list:
        body = id_consts(op_list, "operation", "u8", 255, "Highest command value.")
        modules.append(("cmd", "Generic netlink commands (genlmsghdr.cmd).", body))

    # Attribute sets.
    for aset in spec.get("attribute-sets") or []:
        if "subset-of" in aset or not aset.get("attributes"):
            continue
        what = "attribute of %s" % aset["name"]
        body = id_consts(aset["attributes"], what, "u16", 0x3FFF, "Highest attribute type.")
        mdoc = aset.get("doc") or "Attributes of the `%s` attribute set." % aset["name"]
        modules.append(("%s_attr" % lower(aset["name"]), mdoc, body))

    # Definitions.
    widths = enum_widths(spec)
    consts = []
    for d in spec.get("definitions") or []:
        kind = d.get("type")
        name = d["name"]
        if kind in ("enum", "flags"):
            entries = [
                (e if isinstance(e, str) else e["name"], e) for e in d.get("entries") or []
            ]
            start = as_int(d.get("value-start", 0), "value-start of %s" % name)
            items = number(entries, start, "%s entry" % name)
            check_unique([upper(n) for n, _, _ in items], "entry in %s" % name)
            bits = widths.get(name, 32)
            limit = 1 << bits
            body = []
            for ename, val, elem in items:
                if kind == "flags":
                    val = 1 << val
                if not 0 <= val < limit:
                    raise SpecError("%s %s: value %d does not fit u%d" % (name, ename, val, bits))
                if isinstance(elem, dict):
                    body.extend(doc_lines(elem.get("doc"), "    "))
                body.append("    pub const %s: %s = %d;" % (upper(ename), rust_uint(bits), val))
            mdoc = d.get("doc") or "Values of the `%s` %s." % (name, kind)
            modules.append((lower(name), mdoc, body))
        elif kind == "const":
            val = as_int(d.get("value"), "const %s" % name)
            consts.extend(doc_lines(d.get("doc"), ""))
            consts.append("pub const %s: %s = %d;" % (upper(name), "i64" if val < 0 else "u64", val))
        elif kind == "struct":
            # Fixed headers carry no numbers of their own.
            continue
        else:
            raise SpecError("definition %s: unsupported type %r" % (name, kind))

    check_unique([m[0] for m in modules], "generated module")
    out.extend(consts)
    for mname, mdoc, body in modules:
        w("")
        out.extend(doc_lines(mdoc, ""))
        w("pub mod %s {" % mname)
        out.extend(body)
        w("}")
    return "\n".join(out) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--spec", default=os.path.join(ROOT, SPEC_REL))
    ap.add_argument("--out", default=os.path.join(ROOT, OUT_REL))
    ap.add_argument(
        "--check",
        action="store_true",
        help="do not write; exit 1 if the output file differs from what would be generated",
    )
    args = ap.parse_args()

    try:
        with open(args.spec, encoding="utf-8") as f:
            spec = yaml.safe_load(f)
        rel = os.path.relpath(os.path.abspath(args.spec), ROOT)
        if rel.startswith(".."):
            rel = args.spec
        text = gen(spec, rel)
    except (OSError, yaml.YAMLError, SpecError, KeyError, TypeError) as e:
        if isinstance(e, KeyError):
            e = "missing key %s" % e
        sys.exit("gen-uapi.py: %s: %s" % (args.spec, e))

    if args.check:
        try:
            with open(args.out, encoding="utf-8") as f:
                current = f.read()
        except OSError as e:
            print("gen-uapi.py: %s: %s" % (args.out, e.strerror), file=sys.stderr)
            current = None
        if current == text:
            return 0
        if current is not None:
            sys.stderr.writelines(
                difflib.unified_diff(
                    current.splitlines(True),
                    text.splitlines(True),
                    args.out + " (committed)",
                    args.out + " (from spec)",
                )
            )
        print(
            "gen-uapi.py: %s is stale: it does not match %s; run scripts/gen-uapi.py and commit the result"
            % (args.out if os.path.relpath(args.out).startswith("..") else os.path.relpath(args.out), os.path.relpath(args.spec)),
            file=sys.stderr,
        )
        return 1

    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    tmp = args.out + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
