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

It also writes, from the same spec:
  * the name of every enum value (`NAMES`, `name()`, `from_name()`), which
    xnatctl prints and parses;
  * `Counter`, the counters of the set whose attributes are all `uint`
    (`stats`): the module's counters, their emission and xnatctl's
    decoding, JSON keys and column headers all iterate over it, so that a
    counter is added by adding it to the spec and counting it;
  * the spec's `const` definitions (the module parameters' defaults) as
    Rust constants, and as C macros in module/xnat_uapi.h for the
    `module_param()`s of module/xnat_helpers.c;
  * tools/xnatctl/src/proto/attrs.rs: xnatctl's codec of every attribute
    set, an enum per set with a variant per attribute, of the Rust type of
    the attribute's spec type and byte order.

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
C_OUT_REL = "module/xnat_uapi.h"
CLI_OUT_REL = "tools/xnatctl/src/proto/attrs.rs"

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
    check_unique([v for _, v, _ in items], "value of %s" % what)
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
    /// `min` and `max`; the one not given is the type's bound.
    pub range: Option<Range>,
    pub min_len: Option<u16>,
    pub max_len: Option<u16>,
}

/// The bounds of an integer attribute's value.  Laid out as the kernel's
/// `struct netlink_range_validation`, so that a policy built at compile
/// time can point to the bounds in these tables.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Range {
    pub min: u64,
    pub max: u64,
}

impl Checks {
    /// No checks beyond the type's.
    pub const NONE: Self = Self { range: None, min_len: None, max_len: None };
}

/// How the netlink core validates an attribute of a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AttrPolicy {
    pub attr: u16,
    pub kind: AttrKind,
    pub checks: Checks,
}

/// The spec's name of `value` in an enum's `NAMES`.
pub fn name_of<T: PartialEq>(names: &[(&'static str, T)], value: T) -> Option<&'static str> {
    names.iter().find(|(_, v)| *v == value).map(|(n, _)| *n)
}

/// The value an enum's `NAMES` names `name`.
pub fn value_of<T: Copy>(names: &[(&str, T)], name: &str) -> Option<T> {
    names.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
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

    def opt(key):
        if key not in checks:
            return "None"
        return "Some(%s_%s)" % (mod, upper(key))

    rtype, top = INT_TYPES.get(a.get("type"), ("u64", 0xFFFFFFFFFFFFFFFF))
    wide = "" if rtype == "u64" else " as u64"
    if "min" in checks or "max" in checks:
        lo = "%s_MIN%s" % (mod, wide) if "min" in checks else "0"
        hi = "%s_MAX%s" % (mod, wide) if "max" in checks else "%d" % top
        rng = "Some(super::Range { min: %s, max: %s })" % (lo, hi)
    else:
        rng = "None"
    min_len = opt("exact-len") if "exact-len" in checks else opt("min-len")
    max_len = opt("exact-len") if "exact-len" in checks else opt("max-len")
    return "super::Checks {\n%s\n        }" % "\n".join(
        "            %s: %s," % f for f in (("range", rng), ("min_len", min_len), ("max_len", max_len)))


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


def enum_names(items, rtype):
    """The names of an enum's values, as the spec spells them."""
    out = ["    /// Every value with its name in the spec, in value order; see"]
    out.append("    /// [`super::name_of`] and [`super::value_of`].")
    out.append("    pub const NAMES: [(&str, %s); %d] = [" % (rtype, len(items)))
    out.extend('        ("%s", %s),' % (n, upper(n)) for n, _, _ in items)
    out.append("    ];")
    return out


def counter_set(sets):
    """The attribute set whose attributes are all single `uint`s without
    checks: the counters.  At most one, so that `Counter` is unambiguous."""
    found = [a for a in sets.values()
             if "subset-of" not in a and a.get("attributes")
             and all(x.get("type") == "uint" and not x.get("multi-attr") and not x.get("checks")
                     for x in a["attributes"])]
    if len(found) > 1:
        raise SpecError("more than one counter set: %s" % ", ".join(a["name"] for a in found))
    return found[0] if found else None


def counters(sets):
    aset = counter_set(sets)
    if aset is None:
        return []
    items = number([(a["name"], a) for a in aset["attributes"]], 1, "attribute of %s" % aset["name"])
    mod = "%s_attr" % lower(aset["name"])
    out = ["", "/// The counters: the attributes of `%s`, in attribute order." % aset["name"]]
    out.append("#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]")
    out.append("pub enum Counter {")
    for name, _, a in items:
        out.extend(doc_lines(a.get("doc"), "    "))
        out.append("    %s," % camel(name))
    out.append("}")
    out.append("")
    out.append("impl Counter {")
    out.append("    /// How many there are.")
    out.append("    pub const COUNT: usize = %d;" % len(items))
    out.append("    /// All of them, in attribute order.")
    out.append("    pub const ALL: [Counter; Self::COUNT] = [")
    out.extend("        Counter::%s," % camel(n) for n, _, _ in items)
    out.append("    ];")
    out.append("")
    for fn, doc, val in (
        ("attr", "Its attribute type.", lambda n: "%s::%s" % (mod, upper(n))),
        ("name", "Its name in the spec.", lambda n: '"%s"' % n),
        ("key", "Its name as an identifier (the spec's, `-` as `_`).", lambda n: '"%s"' % lower(n)),
    ):
        rtype = "u16" if fn == "attr" else "&'static str"
        out.append("    /// %s" % doc)
        out.append("    pub const fn %s(self) -> %s {" % (fn, rtype))
        out.append("        match self {")
        out.extend("            Counter::%s => %s," % (camel(n), val(n)) for n, _, _ in items)
        out.append("        }")
        out.append("    }")
        out.append("")
    out.append("    /// Its position in [`Counter::ALL`].")
    out.append("    pub const fn index(self) -> usize {")
    out.append("        self as usize")
    out.append("    }")
    out.append("")
    out.append("    /// The counter of attribute type `attr`.")
    out.append("    pub fn of_attr(attr: u16) -> Option<Counter> {")
    out.append("        Self::ALL.into_iter().find(|c| c.attr() == attr)")
    out.append("    }")
    out.append("}")
    return out


# The marker of each attribute type (`uapi::kind`), by which the module
# puts and gets an attribute's value with the spec's width and byte order.
KIND_MARKER = {
    ("u8", None): "U8", ("u16", None): "U16", ("u16", "big-endian"): "U16Be",
    ("u32", None): "U32", ("s32", None): "S32", ("uint", None): "Uint",
    ("binary", None): "Binary", ("string", None): "String", ("flag", None): "Flag",
}
TYPED_HEAD = """
/// An attribute of the spec, with the type of its value: `K` is a marker
/// of [`kind`], the attribute's spec type and byte order.
pub struct Attr<K> {
    pub id: u16,
    kind: core::marker::PhantomData<K>,
}

impl<K> Attr<K> {
    const fn new(id: u16) -> Self {
        Self { id, kind: core::marker::PhantomData }
    }
}

impl<K> Clone for Attr<K> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<K> Copy for Attr<K> {}

/// The spec's attribute types, as markers of [`Attr`].
pub mod kind {
    pub struct U8;
    pub struct U16;
    /// A u16 in network byte order.
    pub struct U16Be;
    pub struct U32;
    pub struct S32;
    /// ynl `uint`: 4 or 8 bytes.
    pub struct Uint;
    pub struct Binary;
    /// NUL-terminated.
    pub struct String;
    pub struct Flag;
}""".lstrip("\n").split("\n")


def typed_attrs(sets):
    """`<set>` modules: each attribute of a set as an [`Attr`] typed by
    its spec type (nests are left out: they have no value of their own)."""
    out = [""] + TYPED_HEAD
    for aset in sets.values():
        if "subset-of" in aset or not aset.get("attributes"):
            continue
        out.append("")
        out.append("/// The attributes of `%s` with the types of their values." % aset["name"])
        out.append("pub mod %s {" % lower(aset["name"]))
        for a in aset["attributes"]:
            if a.get("type") == "nest":
                continue
            key = (a.get("type"), a.get("byte-order"))
            if key not in KIND_MARKER:
                raise SpecError("attribute %s.%s: no kind for %s %s" % (aset["name"], a["name"], key[0], key[1] or ""))
            out.append("    pub const %s: super::Attr<super::kind::%s> = super::Attr::new(super::%s_attr::%s);"
                       % (upper(a["name"]), KIND_MARKER[key], lower(aset["name"]), upper(a["name"])))
        out.append("}")
    return out


def c_header(c_consts, spec_rel):
    """module/xnat_uapi.h: the spec's constants, for the C helpers."""
    out = ["/* SPDX-License-Identifier: ((GPL-2.0 WITH Linux-syscall-note) OR BSD-3-Clause) */",
           "/* Generated from %s by scripts/gen-uapi.py. Do not edit. */" % spec_rel,
           "#ifndef XNAT_UAPI_H", "#define XNAT_UAPI_H", ""]
    for name, val, doc in c_consts:
        if doc:
            text = " ".join(str(doc).split())
            out.append("/* %s */" % text)
        out.append("#define XNAT_%s %d%s" % (upper(name), val, "ULL" if val > 0x7FFFFFFF else ""))
    out.extend(["", "#endif"])
    return "\n".join(out) + "\n"


# xnatctl's Rust type of an attribute's value, and how it is encoded and
# decoded: (type, encode expression on `v`, decode expression on `v`).
CLI_SCALARS = {
    "u8": ("u8", "vec![*v]", "fixed::<1>(what, v)?[0]"),
    "u16": ("u16", "v.to_ne_bytes().to_vec()", "u16::from_ne_bytes(fixed(what, v)?)"),
    "u32": ("u32", "v.to_ne_bytes().to_vec()", "u32::from_ne_bytes(fixed(what, v)?)"),
    "s32": ("i32", "v.to_ne_bytes().to_vec()", "i32::from_ne_bytes(fixed(what, v)?)"),
    "u64": ("u64", "v.to_ne_bytes().to_vec()", "u64::from_ne_bytes(fixed(what, v)?)"),
    # Always 8 bytes out, which every reader of a `uint` takes.
    "uint": ("u64", "v.to_ne_bytes().to_vec()", "uint(what, v)?"),
    "string": ("String", "[v.as_bytes(), &[0]].concat()", "string(v)"),
    "binary": ("Vec<u8>", "v.clone()", "v.to_vec()"),
}
# A binary with an address display hint is an IpAddr (4 or 16 bytes).
CLI_ADDR = ("IpAddr", "ip_bytes(v)", "ip(what, v)?")


def cli_codec(aset_name, a):
    t = a.get("type")
    order = a.get("byte-order")
    if t == "binary" and a.get("display-hint") in ("ipv4", "ipv6"):
        return CLI_ADDR
    if t not in CLI_SCALARS:
        raise SpecError("attribute %s.%s: xnatctl has no codec for type %s" % (aset_name, a["name"], t))
    rtype, enc, dec = CLI_SCALARS[t]
    if order == "big-endian":
        if t not in ("u16", "u32", "u64"):
            raise SpecError("attribute %s.%s: big-endian %s" % (aset_name, a["name"], t))
        enc = enc.replace("to_ne_bytes", "to_be_bytes")
        dec = dec.replace("from_ne_bytes", "from_be_bytes")
    elif order not in (None, "host"):
        raise SpecError("attribute %s.%s: byte-order %s" % (aset_name, a["name"], order))
    return rtype, enc, dec


def cli_attrs(spec, sets, spec_rel):
    """xnatctl's attribute enums (tools/xnatctl/src/proto/attrs.rs)."""
    top = {o.get("attribute-set") for o in (spec.get("operations") or {}).get("list") or []} - {None}
    cset = counter_set(sets)
    out = ["// SPDX-License-Identifier: GPL-2.0",
           "// Generated from %s by scripts/gen-uapi.py. Do not edit." % spec_rel,
           "//! The attributes of every set of the spec, as xnatctl encodes and",
           "//! decodes them: an enum per set, a variant per attribute, whose value",
           "//! has the Rust type of the attribute's type and byte order.  One of a",
           "//! type the spec does not know (a newer module's) is kept as it came",
           "//! in `Other`.",
           "",
           "use std::net::IpAddr;",
           "",
           "use netlink_packet_core::{DecodeError, DefaultNla, Nla, NlaBuffer, Parseable, NLA_F_NESTED};",
           "",
           "use super::codec::{fixed, ip, ip_bytes, nest_value, nla_by_payload, nlas, other_payload, string, uint};",
           "use crate::uapi::*;"]
    for aset in sets.values():
        if "subset-of" in aset or not aset.get("attributes"):
            continue
        sname = aset["name"]
        enum = "%sAttr" % camel(sname)
        mod = "%s_attr" % lower(sname)
        out.append("")
        out.extend(doc_lines(aset.get("doc") or "An attribute of the `%s` set." % sname, ""))
        out.append("#[derive(Debug, Clone, PartialEq, Eq)]")
        out.append("pub enum %s {" % enum)
        kind_arms, payload_arms, parse_arms = [], [], []
        if aset is cset:
            out.append("    /// A counter, as wide as it came (4 or 8 bytes) on input.")
            out.append("    Counter(Counter, u64),")
            kind_arms.append("%s::Counter(c, _) => c.attr()," % enum)
            payload_arms.append("%s::Counter(_, v) => v.to_ne_bytes().to_vec()," % enum)
        for a in aset["attributes"]:
            if aset is cset:
                break
            var = camel(a["name"])
            what = a["name"] if sname in top else "%s.%s" % (sname, a["name"])
            const = "%s::%s" % (mod, upper(a["name"]))
            out.extend(doc_lines(a.get("doc"), "    "))
            t = a.get("type")
            if t == "flag":
                out.append("    %s," % var)
                kind_arms.append("%s::%s => %s," % (enum, var, const))
                payload_arms.append("%s::%s => Vec::new()," % (enum, var))
                parse_arms.append("%s => %s::%s," % (const, enum, var))
            elif t == "nest":
                inner = "%sAttr" % camel(real_nest_set(sets, a["nested-attributes"]))
                out.append("    %s(Vec<%s>)," % (var, inner))
                kind_arms.append("%s::%s(_) => %s | NLA_F_NESTED," % (enum, var, const))
                payload_arms.append("%s::%s(v) => nest_value(v)," % (enum, var))
                parse_arms.append("%s => %s::%s(nlas(v)?)," % (const, enum, var))
            else:
                rtype, enc, dec = cli_codec(sname, a)
                out.append("    %s(%s)," % (var, rtype))
                kind_arms.append("%s::%s(_) => %s," % (enum, var, const))
                payload_arms.append("%s::%s(v) => %s," % (enum, var, enc))
                parse_arms.append("%s => %s::%s(%s)," % (const, enum, var, dec.replace("what", '"%s"' % what)))
        out.append("    Other(DefaultNla),")
        out.append("}")
        out.append("")
        out.append("nla_by_payload!(%s);" % enum)
        out.append("")
        out.append("impl %s {" % enum)
        out.append("    /// The type, NLA_F_NESTED set on nests: the kernel's strict")
        out.append("    /// validation refuses a nest without it.")
        out.extend(match_fn("kind_bits", "u16", kind_arms + ["%s::Other(nla) => nla.kind()," % enum]))
        out.append("")
        out.extend(match_fn("payload", "Vec<u8>", payload_arms + ["%s::Other(nla) => other_payload(nla)," % enum]))
        out.append("}")
        out.append("")
        out.append("impl<'a, T: AsRef<[u8]> + ?Sized> Parseable<NlaBuffer<&'a T>> for %s {" % enum)
        out.append("    fn parse(buf: &NlaBuffer<&'a T>) -> Result<Self, DecodeError> {")
        if aset is cset:
            out.append("        Ok(match Counter::of_attr(buf.kind()) {")
            out.append('            Some(c) => %s::Counter(c, uint(&format!("%s.{}", c.name()), buf.value())?),' % (enum, sname))
            out.append("            None => %s::Other(DefaultNla::parse(buf)?)," % enum)
            out.append("        })")
        else:
            out.append("        let v = buf.value();")
            out.append("        Ok(match buf.kind() {")
            out.extend("            " + x for x in parse_arms)
            out.append("            _ => %s::Other(DefaultNla::parse(buf)?)," % enum)
            out.append("        })")
        out.append("    }")
        out.append("}")
    return "\n".join(out) + "\n"


def match_fn(name, rtype, arms):
    """A method of an attribute enum that matches on `self`."""
    out = ["    fn %s(&self) -> %s {" % (name, rtype), "        match self {"]
    out.extend("            " + x for x in arms)
    return out + ["        }", "    }"]


def real_nest_set(sets, name):
    """The set that defines the attributes of `name` (a subset's parent)."""
    aset = sets.get(name)
    if aset is None:
        raise SpecError("unknown attribute set %s" % name)
    return real_nest_set(sets, aset["subset-of"]) if aset.get("subset-of") else name


def gen(spec, spec_rel):
    if spec.get("protocol", "genetlink") not in ("genetlink", "genetlink-c", "genetlink-legacy"):
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
    c_consts = []
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
            if kind == "enum":
                body.extend(enum_names(items, rust_uint(bits)))
            mdoc = d.get("doc") or "Values of the `%s` %s." % (name, kind)
            modules.append((lower(name), mdoc, body))
        elif kind == "const":
            val = as_int(d.get("value"), "const %s" % name)
            consts.extend(doc_lines(d.get("doc"), ""))
            consts.append("pub const %s: %s = %d;" % (upper(name), "i64" if val < 0 else "u64", val))
            c_consts.append((name, val, d.get("doc")))
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
    out.extend(counters(sets))
    out.extend(typed_attrs(sets))
    return "\n".join(out) + "\n", c_header(c_consts, spec_rel), cli_attrs(spec, sets, spec_rel)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--spec", default=os.path.join(ROOT, SPEC_REL))
    ap.add_argument("--out", default=os.path.join(ROOT, OUT_REL))
    ap.add_argument("--c-out", default=os.path.join(ROOT, C_OUT_REL))
    ap.add_argument("--cli-out", default=os.path.join(ROOT, CLI_OUT_REL))
    ap.add_argument(
        "--check",
        action="store_true",
        help="do not write; exit 1 if an output file differs from what would be generated",
    )
    args = ap.parse_args()

    try:
        with open(args.spec, encoding="utf-8") as f:
            spec = yaml.safe_load(f)
        rel = os.path.relpath(os.path.abspath(args.spec), ROOT)
        if rel.startswith(".."):
            rel = args.spec
        texts = gen(spec, rel)
    except (OSError, yaml.YAMLError, SpecError, KeyError, TypeError) as e:
        if isinstance(e, KeyError):
            e = "missing key %s" % e
        sys.exit("gen-uapi.py: %s: %s" % (args.spec, e))

    outs = list(zip((args.out, args.c_out, args.cli_out), texts))
    if args.check:
        stale = 0
        for out, text in outs:
            stale += check(out, text, args.spec)
        return 1 if stale else 0
    for out, text in outs:
        os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
        tmp = out + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, out)
    return 0


def check(out, text, spec):
    """1 (and a diff on stderr) if `out` is not `text`, else 0."""
    try:
        with open(out, encoding="utf-8") as f:
            current = f.read()
    except OSError as e:
        print("gen-uapi.py: %s: %s" % (out, e.strerror), file=sys.stderr)
        current = None
    if current == text:
        return 0
    if current is not None:
        sys.stderr.writelines(
            difflib.unified_diff(
                current.splitlines(True), text.splitlines(True), out + " (committed)", out + " (from spec)"
            )
        )
    print(
        "gen-uapi.py: %s is stale: it does not match %s; run scripts/gen-uapi.py and commit the result"
        % (out if os.path.relpath(out).startswith("..") else os.path.relpath(out), os.path.relpath(spec)),
        file=sys.stderr,
    )
    return 1


if __name__ == "__main__":
    sys.exit(main())
