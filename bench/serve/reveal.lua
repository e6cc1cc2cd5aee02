-- wrk script: reveals, POST /v1/cases/{id}/reveal {"fields":["name","phone"]}
-- on one verified customer_support case; each answered reveal is a durable
-- audit entry.
--
--   wrk ... -s reveal.lua URL -- TOKEN CASE_ID
--
-- done() prints the same RESULT line as lookup.lua.

function init(args)
    local token, case_id = args[1], args[2]
    if token == nil or case_id == nil then
        error("usage: wrk ... -s reveal.lua URL -- TOKEN CASE_ID")
    end
    -- No request() function: wrk builds this request once and resends it.
    wrk.method = "POST"
    wrk.path = "/v1/cases/" .. case_id .. "/reveal"
    wrk.body = '{"fields":["name","phone"]}'
    wrk.headers["Authorization"] = "Bearer " .. token
    wrk.headers["Content-Type"] = "application/json"
end

function done(summary, latency, requests)
    local e = summary.errors
    io.write(string.format(
        "RESULT requests=%d rps=%.1f p50_ms=%.3f p99_ms=%.3f non2xx=%d connect=%d read=%d write=%d timeout=%d\n",
        summary.requests, summary.requests / (summary.duration / 1e6),
        latency:percentile(50) / 1000, latency:percentile(99) / 1000,
        e.status, e.connect, e.read, e.write, e.timeout))
end
