# Sourced by benches/load.sh, benches/ab.sh and benches/pgo.sh: the shell side of
# benches/load/replay.lua.
#
#   replay URL FILE TOKEN CONNECTIONS RATE MARKER OUT
#
# sends each request of FILE once through wrk (one thread, CONNECTIONS connections; RATE
# requests per second, 0 to saturate them) and leaves wrk's output, with the script's JSON
# line, in OUT. The script creates MARKER once every request is answered; wrk's main thread
# would sleep out its whole -d, so it is interrupted then. Returns wrk's status.
replay() {
    local url=$1 file=$2 token=$3 conns=$4 rate=$5 marker=$6 out=$7 pid
    rm -f "$marker"
    wrk -t1 -c"$conns" -d600s --timeout 10s -s benches/load/replay.lua "$url" \
        -- "$file" "$token" 1 "$marker" "$rate" > "$out" &
    pid=$!
    while kill -0 "$pid" 2>/dev/null; do
        if [ -f "$marker" ]; then kill -INT "$pid"; break; fi
        sleep 0.05
    done
    wait "$pid"
}
