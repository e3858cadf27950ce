#!/usr/bin/env bash
# Builds the API documentation of the modules other packages use — the DocC catalogs of GoRuntime and
# GoTracePluginKit — with DocC's warnings as errors (broken links, undocumented parameters), and fails
# when any public symbol of either has no doc comment. Archives land in .build-docs/<Module>.doccarchive.
#
# Only these two modules are named: what they depend on (GoTrace, CGoTracePlugin, …) is internal
# machinery whose documentation is not promised to other packages.
set -euo pipefail
cd "$(dirname "$0")/.."

modules=(GoRuntime GoTracePluginKit)
output=.build-docs
mkdir -p "$output"

for module in "${modules[@]}"; do
    rm -rf "$output/$module.doccarchive"
    swift package --allow-writing-to-directory "$output" generate-documentation --target "$module" \
        --output-path "$output/$module.doccarchive" --warnings-as-errors
done

# DocC only warns about what it is shown, and an undocumented symbol is not a warning: check coverage
# on the symbol graphs themselves. dump-symbol-graph covers every module of the package and fails when
# one of them (the test bundles, if unbuilt) has none; ours only need to be fresh: written after the stamp.
stamp="$output/.symbol-graph-stamp"
touch "$stamp"
log=$(swift package dump-symbol-graph --minimum-access-level public --skip-synthesized-members \
    --skip-inherited-docs 2>&1) || true
graphs=$(sed -n 's/^Files written to //p' <<<"$log" | tail -n 1)
for module in "${modules[@]}"; do
    if [ -z "$graphs" ] || [ -z "$(find "$graphs" -maxdepth 1 -name "$module.symbols.json" -newer "$stamp")" ]; then
        echo "$log"
        echo "docs.sh: no fresh symbol graph for $module" >&2
        exit 1
    fi
done
python3 scripts/doc_coverage.py "$graphs" "${modules[@]}"
