#!/usr/bin/env bash
# Fails when `unsafe` is used as code (an unsafe block, fn, impl or trait)
# in a Rust file under module/ outside module/net/ and the generated
# bindings (module/bindings.rs, module/bindings_generated.rs): all unsafe
# code of the module lives in the net/ layer, where every use is justified.
# Comments, strings and character literals do not count.  Prints each use
# as FILE:LINE: TEXT.
#
#   scripts/check-unsafe.sh [ROOT]     ROOT defaults to the repository.
set -euo pipefail

root=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$root"

find module -name '*.rs' \
	-not -path 'module/net/*' -not -path '*/target/*' \
	-not -path 'module/bindings.rs' -not -path 'module/bindings_generated.rs' -print0 |
	sort -z |
	xargs -0 python3 -c '
import re, sys

def code_only(text):
    """`text` with comments, strings and char literals blanked, newlines kept."""
    out, i, n, depth = [], 0, len(text), 0
    while i < n:
        c = text[i]
        if depth:  # inside a (nestable) block comment
            if text.startswith("/*", i):
                depth += 1; out.append("  "); i += 2
            elif text.startswith("*/", i):
                depth -= 1; out.append("  "); i += 2
            else:
                out.append("\n" if c == "\n" else " "); i += 1
            continue
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i)); i = j
        elif text.startswith("/*", i):
            depth = 1; out.append("  "); i += 2
        else:
            m = re.compile(r"b?r(#*)\"").match(text, i)
            if m and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
                end = text.find("\"" + m.group(1), m.end())
                end = n if end < 0 else end + 1 + len(m.group(1))
                out.append(re.sub(r"[^\n]", " ", text[i:end])); i = end
            elif c == "\"":
                j = i + 1
                while j < n and text[j] != "\"":
                    j += 2 if text[j] == "\\" else 1
                out.append(re.sub(r"[^\n]", " ", text[i:j + 1])); i = j + 1
            elif c == "\x27":
                # A char literal, not a lifetime: closed within a few chars.
                m = re.compile(r"\x27(\\.[^\x27]*|[^\\\x27])\x27").match(text, i)
                if m:
                    out.append(" " * (m.end() - i)); i = m.end()
                else:
                    out.append(c); i += 1
            else:
                out.append(c); i += 1
    return "".join(out)

found = 0
for path in sys.argv[1:]:
    text = open(path, encoding="utf-8").read()
    code = code_only(text).split("\n")
    for no, (line, orig) in enumerate(zip(code, text.split("\n")), 1):
        if re.search(r"\bunsafe\b", line):
            print(f"{path}:{no}: {orig.strip()}")
            found += 1
if found:
    print(f"check-unsafe: {found} use(s) of unsafe outside module/net/ and the bindings", file=sys.stderr)
    sys.exit(1)
' || exit 1
echo "check-unsafe: no unsafe outside module/net/ and the bindings"
