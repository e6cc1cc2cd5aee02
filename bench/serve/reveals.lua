-- wrk script: reveals of name and phone by several clerks, each on its own
-- verified customer_support case, taken in turn.
--
--   wrk ... -s reveals.lua URL -- CLERKS_FILE
--
-- CLERKS_FILE: one "TOKEN CASE_ID" a line.  done() prints the RESULT line
-- of result.lua.

local requests_list = {}
local n, i = 0, 0

function init(args)
    if args[1] == nil then
        error("usage: wrk ... -s reveals.lua URL -- CLERKS_FILE")
    end
    for line in io.lines(args[1]) do
        local token, case_id = line:match("^(%S+) (%S+)$")
        if token then
            n = n + 1
            requests_list[n] = wrk.format("POST", "/v1/cases/" .. case_id .. "/reveal",
                { ["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json" },
                '{"fields":["name","phone"]}')
        end
    end
    if n == 0 then
        error("no clerks in " .. args[1])
    end
    i = math.random(0, n - 1)
end

function request()
    i = i % n + 1
    return requests_list[i]
end

-- the RESULT line (result.lua, beside this script)
done = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "result.lua")
