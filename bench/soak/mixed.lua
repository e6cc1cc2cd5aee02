-- wrk script for bench/soak: mixed staff traffic at a set rate.  Every
-- request goes out under one of many clerks in turn (each with a verified
-- case): 45% masked device look-ups, 45% reveals of name and phone, 10%
-- GET /v1/me.  delay() makes each connection pause PAUSE_MS between
-- requests (bench/soak/run.sh sets it to hold a rate).
--
--   wrk ... -s mixed.lua URL -- PAUSE_MS CLERKS_FILE IMEIS_FILE
--
-- CLERKS_FILE: one "TOKEN CASE_ID" a line.  done() prints the RESULT line of
-- bench/serve/result.lua.

local clerks, imeis = {}, {}
local pause_ms = 0
local n = 0

function init(args)
    pause_ms = tonumber(args[1])
    if pause_ms == nil or args[2] == nil or args[3] == nil then
        error("usage: wrk ... -s mixed.lua URL -- PAUSE_MS CLERKS_FILE IMEIS_FILE")
    end
    for line in io.lines(args[2]) do
        local token, case_id = line:match("^(%S+) (%S+)$")
        if token then clerks[#clerks + 1] = {token, case_id} end
    end
    for line in io.lines(args[3]) do imeis[#imeis + 1] = line end
    n = math.random(1, 1000003)
end

function delay()
    return pause_ms
end

function request()
    n = n + 1
    local c = clerks[n % #clerks + 1]
    local kind = n % 20
    local headers = {["Authorization"] = "Bearer " .. c[1]}
    if kind < 9 then
        return wrk.format("GET", "/v1/devices/" .. imeis[n % #imeis + 1], headers)
    elseif kind < 18 then
        headers["Content-Type"] = "application/json"
        return wrk.format("POST", "/v1/cases/" .. c[2] .. "/reveal", headers,
                          '{"fields":["name","phone"]}')
    end
    return wrk.format("GET", "/v1/me", headers)
end

-- the RESULT line (bench/serve/result.lua)
done = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "../serve/result.lua")
