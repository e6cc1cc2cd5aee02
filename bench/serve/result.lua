-- The done() of the bench wrk scripts (bench/serve, bench/soak): one line,
--
--   RESULT requests=N rps=R p50_ms=A p99_ms=B non2xx=S connect=C read=R write=W timeout=T
--
-- where non2xx counts the answers wrk counts as failed (status 400 and
-- above; the API sends no 3xx).  bench/lib.sh's wrk_result reads it.
-- A script takes it with: done = dofile(<its folder> .. "result.lua").

return function(summary, latency, requests)
    local e = summary.errors
    io.write(string.format(
        "RESULT requests=%d rps=%.1f p50_ms=%.3f p99_ms=%.3f non2xx=%d connect=%d read=%d write=%d timeout=%d\n",
        summary.requests, summary.requests / (summary.duration / 1e6),
        latency:percentile(50) / 1000, latency:percentile(99) / 1000,
        e.status, e.connect, e.read, e.write, e.timeout))
end
