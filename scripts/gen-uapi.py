#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Generate module/logic/src/uapi.rs from the xfrm_nat netlink spec.

The YAML spec in Documentation/netlink/specs/xfrm_nat.yaml is the one
contract between the kernel module and its users.  This script turns it into
plain `no_std`-friendly Rust that both the module and xnatctl include with
`mod`, so no number is ever written down twice: the numbers, the bounds of
the attributes' `checks`, the validation policy of every attribute a request
can carry, and the table of request operations (`OPS`) with their flags and
request attributes, from which the module registers the family.

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
OUT_REL = "module/logic/src/uapi.rs"

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


# Rust type of an integer attribute's `checks: min/max`, and its range.
INT_TYPES = {
    "u8": ("u8", 0xFF),
    "u16": ("u16", 0xFFFF),
    "u32": ("u32", 0xFFFFFFFF),
    "u64": ("u64", 0xFFFFFFFFFFFFFFFF),
    "uint": ("u64", 0xFFFFFFFFFFFFFFFF),
}
# The attribute types a request may carry, as generated `AttrKind`s.
KIND = {
    "u8": "U8", "u16": "U16", "u32": "U32", "u64": "U64", "uint": "Uint",
    "flag": "Flag", "string": "String", "binary": "Binary",
}
LEN_CHECKS = ("min-len", "max-len", "exact-len")
INT_CHECKS = ("min", "max")

# Written out with the generated tables: the plain data the module turns
# into `nla_policy` and `genl_split_ops` arrays.
POLICY_TYPES = """
/// The type of a request attribute, as the netlink core validates it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttrKind {
    U8,
    U16,
    U32,
    U64,
    /// ynl `uint`: 4 or 8 bytes.
    Uint,
    Flag,
    /// NUL-terminated.
    String,
    Binary,
    /// The attributes the nest may carry; any other is refused.
    Nest(&'static [AttrPolicy]),
}

/// The spec's `checks` of an attribute: bounds of an integer's value
/// (`min`, `max`) or of a payload's length (`min-len`, `max-len`;
/// `exact-len` is both).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Checks {
    pub min: Option<u64>,
    pub max: Option<u64>,
    pub min_len: Option<u16>,
    pub max_len: Option<u16>,
}

impl Checks {
    /// No checks beyond the type's.
    pub const NONE: Self = Self { min: None, max: None, min_len: None, max_len: None };
}

/// How the netlink core validates an attribute of a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AttrPolicy {
    pub attr: u16,
    pub kind: AttrKind,
    pub checks: Checks,
}

/// A request operation: its do and dump, each with the attributes its
/// request may carry (`None`: the operation has no do, or no dump).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OpSpec {
    pub op: Op,
    pub cmd: u8,
    /// `flags: [admin-perm]`.
    pub admin_perm: bool,
    /// `flags: [uns-admin-perm]`.
    pub uns_admin_perm: bool,
    pub do_attrs: Option<&'static [AttrPolicy]>,
    pub dump_attrs: Option<&'static [AttrPolicy]>,
}""".lstrip("\n").split("\n")


def camel(name):
    return "".join(p.capitalize() for p in str(name).split("-"))


def attr_sets(spec):
    return {s["name"]: s for s in spec.get("attribute-sets") or []}


def real_attr(sets, set_name, attr_name):
    """(parent set name, attribute yaml) of `attr_name` in `set_name`,
    following `subset-of` to the set that defines it."""
    aset = sets.get(set_name)
    if aset is None:
        raise SpecError("unknown attribute set %s" % set_name)
    parent = aset.get("subset-of")
    if parent:
        if not any(a["name"] == attr_name for a in aset.get("attributes") or []):
            raise SpecError("attribute %s is not in subset %s" % (attr_name, set_name))
        return real_attr(sets, parent, attr_name)
    for a in aset.get("attributes") or []:
        if a["name"] == attr_name:
            return set_name, a
    raise SpecError("unknown attribute %s in set %s" % (attr_name, set_name))


def check_consts(sets):
    """Modules of the bounds of every attribute with `checks`, by set."""
    modules = []
    for aset in sets.values():
        if "subset-of" in aset:
            continue
        body = []
        for a in aset.get("attributes") or []:
            checks = a.get("checks") or {}
            what = "%s.%s" % (aset["name"], a["name"])
            for key in checks:
                if key not in INT_CHECKS + LEN_CHECKS:
                    raise SpecError("%s: unsupported check %s" % (what, key))
                if key in INT_CHECKS:
                    if a.get("type") not in INT_TYPES or a.get("byte-order"):
                        raise SpecError("%s: %s needs a host-order unsigned integer" % (what, key))
                    rtype, top = INT_TYPES[a["type"]]
                else:
                    if a.get("type") not in ("binary", "string"):
                        raise SpecError("%s: %s needs a binary or string attribute" % (what, key))
                    rtype, top = "u16", 0xFFFF
                val = as_int(checks[key], "%s %s" % (what, key))
                if not 0 <= val <= top:
                    raise SpecError("%s: %s %d does not fit %s" % (what, key, val, rtype))
                body.append("    pub const %s_%s: %s = %d;" % (upper(a["name"]), upper(key), rtype, val))
            lo = checks.get("min", checks.get("min-len"))
            hi = checks.get("max", checks.get("max-len"))
            if lo is not None and hi is not None and lo > hi:
                raise SpecError("%s: min %d above max %d" % (what, lo, hi))
        if body:
            modules.append(("%s_checks" % lower(aset["name"]),
                            "Bounds that the `checks` of the spec put on attributes of `%s`." % aset["name"],
                            body))
    return modules


def rust_checks(set_name, a):
    checks = a.get("checks") or {}
    if not checks:
        return "super::Checks::NONE"
    mod = "super::%s_checks::%s" % (lower(set_name), upper(a["name"]))

    def opt(key, cast):
        if key not in checks:
            return "None"
        return "Some(%s_%s%s)" % (mod, upper(key), cast)

    wide = "" if INT_TYPES.get(a.get("type"), ("u64",))[0] == "u64" else " as u64"
    min_len = opt("exact-len", "") if "exact-len" in checks else opt("min-len", "")
    max_len = opt("exact-len", "") if "exact-len" in checks else opt("max-len", "")
    return "super::Checks {\n%s\n        }" % "\n".join(
        "            %s: %s," % f
        for f in (("min", opt("min", wide)), ("max", opt("max", wide)), ("min_len", min_len), ("max_len", max_len)))


def policies(spec, sets, op_requests):
    """Policy modules for every attribute a request can carry, and the
    attribute lists of nests, from the operations' request attributes."""
    needed = {}  # parent set -> attribute names
    nests = []  # nest target sets, in discovery order
    todo = list(op_requests)
    while todo:
        set_name, names = todo.pop(0)
        for n in names:
            parent, a = real_attr(sets, set_name, n)
            needed.setdefault(parent, set()).add(n)
            if a.get("type") == "nest":
                target = a.get("nested-attributes")
                if not target:
                    raise SpecError("nest %s.%s has no nested-attributes" % (parent, n))
                if target not in nests:
                    nests.append(target)
                    todo.append((target, [x["name"] for x in sets[target].get("attributes") or []]))
            elif a.get("type") not in KIND:
                raise SpecError("request attribute %s.%s: unsupported type %s" % (parent, n, a.get("type")))
            elif a.get("byte-order"):
                raise SpecError("request attribute %s.%s: byte-order is not supported" % (parent, n))
    modules = {}
    for aset in sets.values():
        name = aset["name"]
        body = []
        for a in aset.get("attributes") or [] if "subset-of" not in aset else []:
            if a["name"] not in needed.get(name, ()):
                continue
            if a["type"] == "nest":
                kind = "super::AttrKind::Nest(&super::%s_policy::ALL)" % lower(a["nested-attributes"])
            else:
                kind = "super::AttrKind::%s" % KIND[a["type"]]
            body.append("    pub const %s: super::AttrPolicy = super::AttrPolicy {" % upper(a["name"]))
            body.append("        attr: super::%s_attr::%s," % (lower(name), upper(a["name"])))
            body.append("        kind: %s," % kind)
            body.append("        checks: %s," % rust_checks(name, a))
            body.append("    };")
        if name in nests:
            items = []
            for x in aset.get("attributes") or []:
                parent, _ = real_attr(sets, name, x["name"])
                items.append("super::%s_policy::%s" % (lower(parent), upper(x["name"])))
            body.append("    /// Every attribute of the set: the policy of a nest of it.")
            body.append("    pub const ALL: [super::AttrPolicy; %d] = [" % len(items))
            body.extend("        %s," % i for i in items)
            body.append("    ];")
        if body:
            modules[name] = body
    return [("%s_policy" % lower(n), "Validation of the attributes of `%s` that requests carry." % n, b)
            for n, b in modules.items()]


def op_table(spec, sets):
    """The `Op` enum, the `OPS` table and the policy modules it uses."""
    ops = number([(o["name"], o) for o in (spec.get("operations") or {}).get("list") or []], 1, "operation")
    rows, variants, requests, variants_named = [], [], [], []
    for name, val, op in ops:
        if "do" not in op and "dump" not in op:
            continue  # notifications and events: nothing to handle
        aset = op.get("attribute-set")
        flags = op.get("flags") or []
        for f in flags:
            if f not in ("admin-perm", "uns-admin-perm"):
                raise SpecError("operation %s: unsupported flag %s" % (name, f))
        lists = {}
        for kind in ("do", "dump"):
            if kind not in op:
                lists[kind] = "None"
                continue
            names = ((op[kind] or {}).get("request") or {}).get("attributes") or []
            if names and not aset:
                raise SpecError("operation %s: request attributes without attribute-set" % name)
            parents = [real_attr(sets, aset, n)[0] for n in names]
            if names:
                requests.append((aset, names))
            lists[kind] = "Some(&[%s])" % "".join(
                "\n            %s_policy::%s," % (lower(p), upper(n)) for p, n in zip(parents, names))
            if names:
                lists[kind] = lists[kind][:-2] + "\n        ])"
        variants.extend(doc_lines(op.get("doc"), "    "))
        variants.append("    %s," % camel(name))
        variants_named.append(name)
        rows.append("    OpSpec {")
        rows.append("        op: Op::%s," % camel(name))
        rows.append("        cmd: cmd::%s," % upper(name))
        rows.append("        admin_perm: %s," % ("true" if "admin-perm" in flags else "false"))
        rows.append("        uns_admin_perm: %s," % ("true" if "uns-admin-perm" in flags else "false"))
        rows.append("        do_attrs: %s," % lists["do"])
        rows.append("        dump_attrs: %s," % lists["dump"])
        rows.append("    },")
    out = ["", "/// The operations a request can name (those with a do or a dump)."]
    out.append("#[derive(Clone, Copy, Debug, PartialEq, Eq)]")
    out.append("pub enum Op {")
    out.extend(variants)
    out.append("}")
    out.append("")
    out.append("/// The request operations, in command order.")
    out.append("pub const OPS: [OpSpec; %d] = [" % len(variants_named))
    out.extend(rows)
    out.append("];")
    return out, policies(spec, sets, requests)


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

    sets = attr_sets(spec)
    modules.extend(check_consts(sets))
    ops_out, policy_modules = op_table(spec, sets)
    modules.extend(policy_modules)

    check_unique([m[0] for m in modules], "generated module")
    out.extend(consts)
    for mname, mdoc, body in modules:
        w("")
        out.extend(doc_lines(mdoc, ""))
        w("pub mod %s {" % mname)
        out.extend(body)
        w("}")
    w("")
    out.extend(POLICY_TYPES)
    out.extend(ops_out)
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
