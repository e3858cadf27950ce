#!/usr/bin/env python3
"""Fails when a public symbol of the named modules has no doc comment of its own.

Usage: doc_coverage.py SYMBOLGRAPH_DIR MODULE...

Reads MODULE.symbols.json (and MODULE@Other.symbols.json, the module's extensions of other modules'
types) as `swift package dump-symbol-graph --skip-synthesized-members --skip-inherited-docs` writes them.
Inherited docs are skipped on purpose: a `description` that only repeats CustomStringConvertible's
comment says nothing about our type. Symbols with no source location (an enum's `init(rawValue:)`,
the compiler's `!=`) are left out: there is nowhere to write their comment.
"""
import glob
import json
import os
import sys


def undocumented(path):
    graph = json.load(open(path))
    for symbol in graph["symbols"]:
        if symbol.get("accessLevel") not in ("public", "open"):
            continue
        if "::SYNTHESIZED::" in symbol["identifier"]["precise"] or "location" not in symbol:
            continue
        lines = symbol.get("docComment", {}).get("lines", [])
        if any(line["text"].strip() for line in lines):
            continue
        location = symbol["location"]
        where = location["uri"].removeprefix("file://")
        where = os.path.relpath(where) if where.startswith("/") else where
        yield (where, location["position"]["line"] + 1, symbol["kind"]["displayName"].lower(),
               ".".join(symbol["pathComponents"]))


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    directory, modules = sys.argv[1], sys.argv[2:]
    missing = []
    for module in modules:
        files = glob.glob(os.path.join(directory, module + ".symbols.json"))
        if not files:
            sys.exit("doc_coverage: no symbol graph for %s in %s" % (module, directory))
        files += glob.glob(os.path.join(directory, module + "@*.symbols.json"))
        for path in sorted(files):
            missing += undocumented(path)
    for entry in sorted(set(missing)):
        print("%s:%d: %s %s" % entry)
    if missing:
        print("doc_coverage: %d public symbol(s) of %s without a doc comment" % (len(set(missing)), ", ".join(modules)))
        sys.exit(1)
    print("doc_coverage: every public symbol of %s is documented" % ", ".join(modules))


if __name__ == "__main__":
    main()
