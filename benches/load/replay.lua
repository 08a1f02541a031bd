-- wrk script: replays the requests of a file, each once, then stops; prints a JSON line.
--
--   wrk -t1 -c16 -d600s -s benches/load/replay.lua URL -- FILE TOKEN 1 MARKER [RATE]
--
-- FILE holds one request per line, tab-separated: METHOD, PATH and an optional JSON body.
-- Each of the threads (T, the third argument; run with 1) takes every T-th line, so no
-- request is sent twice (a booking must not be retried). Once its share is sent, a thread
-- keeps its connections busy with `GET /health` until as many answers as requests have
-- come back, then creates MARKER: wrk's main thread sleeps for -d whatever happens, so the
-- caller interrupts it (SIGINT) on the marker and the run is bounded by the file, not by
-- the clock. The few requests still in flight then are not counted and the few /health
-- answers are: a handful among thousands. Answers that are not 2xx count as errors.
--
-- With RATE (requests per second), requests leave on a fixed schedule, one every 1/RATE
-- seconds whatever the answers, as an app's users send them: latency then is what a request
-- meets at that load, not the queue that a saturating run builds by design. A connection
-- waits for its slot before sending; when all are busy the schedule slips, and the caller
-- compares the achieved rate with RATE to tell whether the server kept up.

local ffi = require("ffi")
ffi.cdef [[
    typedef struct { long tv_sec; long tv_nsec; } mosaic_timespec;
    int clock_gettime(int clock, mosaic_timespec *ts);
]]
local CLOCK_MONOTONIC = 1
local ts = ffi.new("mosaic_timespec")

local function now_ms()
    ffi.C.clock_gettime(CLOCK_MONOTONIC, ts)
    return tonumber(ts.tv_sec) * 1e3 + tonumber(ts.tv_nsec) / 1e6
end

local threads = {}

function setup(thread)
    thread:set("id", #threads)
    table.insert(threads, thread)
end

local function split(line)
    local fields = {}
    for field in string.gmatch(line, "[^\t]+") do
        table.insert(fields, field)
    end
    return fields
end

function init(args)
    local file, token = args[1], args[2]
    marker = args[4]
    local headers = { ["Authorization"] = "Bearer " .. token }
    local body_headers = {
        ["Authorization"] = "Bearer " .. token,
        ["Content-Type"] = "application/json",
    }
    requests = {}
    local n, line_no = tonumber(args[3] or "1"), 0
    filler = wrk.format("GET", "/health", headers)
    for line in io.lines(file) do
        if line_no % n == id then
            local f = split(line)
            if f[3] then
                table.insert(requests, wrk.format(f[1], f[2], body_headers, f[3]))
            else
                table.insert(requests, wrk.format(f[1], f[2], headers))
            end
        end
        line_no = line_no + 1
    end
    local rate = tonumber(args[5] or "0")
    interval_ms = rate > 0 and 1e3 / rate or nil
    next_slot_ms = nil
    next_request = 1
    answered = 0
    errors = 0
    statuses = {}
end

function delay()
    if not interval_ms then
        return 0
    end
    -- Each call takes the next slot of the schedule; a late one leaves at once.
    local now = now_ms()
    local slot = next_slot_ms or now
    next_slot_ms = slot + interval_ms
    return math.max(0, math.floor(slot - now))
end

function request()
    if next_request > #requests then
        return filler
    end
    local r = requests[next_request]
    next_request = next_request + 1
    return r
end

function response(status, headers, body)
    answered = answered + 1
    if status < 200 or status > 299 then
        errors = errors + 1
        statuses[status] = (statuses[status] or 0) + 1
    end
    if answered == #requests then
        -- wrk's main thread sleeps for -d whatever its threads do: the marker file tells
        -- the caller to interrupt it (SIGINT) so the run ends with its requests.
        wrk.thread:stop()
        io.open(marker, "w"):close()
    end
end

function done(summary, latency, requests_)
    local errors_, by_status = 0, {}
    for _, t in ipairs(threads) do
        errors_ = errors_ + t:get("errors")
        for status, count in pairs(t:get("statuses")) do
            by_status[#by_status + 1] = string.format('"%d": %d', status, count)
        end
    end
    io.write(string.format(
        '{"requests": %d, "seconds": %.3f, "errors": %d, "statuses": {%s}, '
            .. '"socket_errors": %d, "p50_ms": %.3f, "p90_ms": %.3f, "p99_ms": %.3f, "max_ms": %.3f}\n',
        summary.requests,
        summary.duration / 1e6,
        errors_,
        table.concat(by_status, ", "),
        summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
        latency:percentile(50) / 1e3,
        latency:percentile(90) / 1e3,
        latency:percentile(99) / 1e3,
        latency.max / 1e3
    ))
end
