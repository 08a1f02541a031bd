#!/usr/bin/env bash
# End-to-end test of the curator console (/console) in headless Chromium: seeds a ci world
# into a temporary SQLite file, creates a curator and a user token, serves it on a free
# port of 127.0.0.1, and runs e2e/console.spec.mjs (Playwright, pinned in package-lock.json).
# MOSAIC_BIN=path skips the build and uses that binary.
# The screenshot is left in target/console-e2e.png. Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"

chromium_bin="${CHROMIUM:-/usr/bin/chromium}"
if [ ! -x "$chromium_bin" ]; then
    echo "== installing chromium"
    sudo_cmd=""
    [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
    $sudo_cmd apt-get update -qq
    $sudo_cmd apt-get install -y -qq chromium chromium-driver
fi
export CHROMIUM="$chromium_bin"

echo "== npm ci (playwright-core)"
(cd console && npm ci --no-audit --no-fund --silent)

mosaic="${MOSAIC_BIN:-}"
if [ -z "$mosaic" ]; then
    echo "== building mosaic"
    # All targets of the workspace: the features `cargo test --workspace` built with, so
    # after the tests (as in .ci/run) nothing is compiled again.
    cargo build --quiet --workspace --all-targets
    mosaic="$root/target/debug/mosaic"
fi

work="$(mktemp -d)"
server=""
cleanup() {
    if [ -n "$server" ]; then
        kill "$server" 2>/dev/null || true
        wait "$server" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

export DATABASE_URL="sqlite://$work/ci.db"
echo "== seeding a ci world into $work/ci.db"
"$mosaic" seed --profile ci >/dev/null 2>"$work/seed.log" || { cat "$work/seed.log"; exit 1; }
user_id="${USER_ID:-1}"
curator_token="$("$mosaic" token create --role curator 2>/dev/null | awk 'END { print $NF }')"
user_token="$("$mosaic" token create --role user --user "$user_id" 2>/dev/null | awk 'END { print $NF }')"

port="$(node -e "const s = require('net').createServer().listen(0, '127.0.0.1', () => { console.log(s.address().port); s.close(); })")"
url="http://127.0.0.1:$port"
echo "== serving on $url"
# No taste model: the feed runs on affinities, the same on every machine.
"$mosaic" serve --addr "127.0.0.1:$port" --model "$work/no-model.bin" >"$work/serve.log" 2>&1 &
server=$!
for _ in $(seq 1 240); do
    if curl -fsS "$url/health" >/dev/null 2>&1; then break; fi
    if ! kill -0 "$server" 2>/dev/null; then cat "$work/serve.log"; exit 1; fi
    sleep 0.5
done
curl -fsS "$url/health" >/dev/null || { echo "the server did not come up"; cat "$work/serve.log"; exit 1; }

mkdir -p "$root/target"
echo "== console.spec.mjs"
status=0
MOSAIC_URL="$url" CURATOR_TOKEN="$curator_token" USER_TOKEN="$user_token" USER_ID="$user_id" \
    SCREENSHOT="$root/target/console-e2e.png" node console/e2e/console.spec.mjs || status=$?
if [ "$status" -ne 0 ]; then
    echo "== server log (tail)"
    tail -n 40 "$work/serve.log"
fi
exit "$status"
