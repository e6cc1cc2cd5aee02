-- wrk script: masked device look-ups, GET /v1/devices/{imei}, cycling
-- through a file of real IMEIs (one a line).  Also drives the ceiling
-- (bench-serve-ceiling answers any request), so both send the same bytes.
--
--   wrk ... -s lookup.lua URL -- TOKEN[,TOKEN...] IMEI_FILE
--
-- With several tokens (several clerks), the requests take them in turn.
--
-- done() prints the RESULT line of result.lua.

local next_id = 0

function setup(thread)
    thread:set("thread_id", next_id)
    next_id = next_id + 1
end

local requests_list = {}
local n, i = 0, 0

function init(args)
    local token, file = args[1], args[2]
    if token == nil or file == nil then
        error("usage: wrk ... -s lookup.lua URL -- TOKEN IMEI_FILE")
    end
    local tokens = {}
    for t in token:gmatch("[^,]+") do
        tokens[#tokens + 1] = t
    end
    for imei in io.lines(file) do
        if imei ~= "" then
            n = n + 1
            local headers = { ["Authorization"] = "Bearer " .. tokens[n % #tokens + 1] }
            requests_list[n] = wrk.format("GET", "/v1/devices/" .. imei, headers)
        end
    end
    if n == 0 then
        error("no IMEIs in " .. file)
    end
    -- Threads start at different places in the list.
    i = ((thread_id or 0) * 7919) % n
end

function request()
    i = i % n + 1
    return requests_list[i]
end

-- the RESULT line (result.lua, beside this script)
done = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "result.lua")
