# Sourced by the benchmark scripts: the CPU time processes have used, from /proc.

ticks() { # pids... -> CPU ticks (user + system) of those still alive
    local t=0 p
    for p in "$@"; do
        [ -r "/proc/$p/stat" ] && t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0)))
    done
    echo "$t"
}

cpu_s() { # ticks -> seconds
    awk -v t="$1" -v hz="$(getconf CLK_TCK)" 'BEGIN {printf "%.2f", t / hz}'
}
