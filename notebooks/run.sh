#!/usr/bin/env bash
# Executes every notebook here headless, in a venv of its own with the pinned
# requirements, over the exports of `mosaic analytics --out DIR`.
#
#   MOSAIC_ANALYTICS  the exports (default: data/analytics from the repository root)
#   MOSAIC_EVAL       where `mosaic eval` wrote eval.csv (optional; default data/eval)
#   MOSAIC_SIMULATE   where `mosaic simulate` wrote simulation.csv (optional; default data/simulation)
#
# Executed copies and the figures land in notebooks/out/.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
export MOSAIC_ANALYTICS="$(cd "${MOSAIC_ANALYTICS:-$root/data/analytics}" && pwd)"
export MOSAIC_EVAL="${MOSAIC_EVAL:-$root/data/eval}"
export MOSAIC_SIMULATE="${MOSAIC_SIMULATE:-$root/data/simulation}"
export MOSAIC_FIGURES="$here/out"
venv="${MOSAIC_NOTEBOOK_VENV:-$here/.venv}"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt"
mkdir -p "$here/out"
for nb in "$here"/*.ipynb; do
    echo "executing $(basename "$nb")"
    "$venv/bin/jupyter" nbconvert --to notebook --execute \
        --ExecutePreprocessor.timeout=600 --ExecutePreprocessor.kernel_name=python3 \
        --output-dir "$here/out" "$nb"
done
echo "notebooks: all executed; figures in $here/out"
