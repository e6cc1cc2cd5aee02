-- wrk script: reveals, POST /v1/cases/{id}/reveal {"fields":["name","phone"]}
-- on one verified customer_support case; each answered reveal is a durable
-- audit entry.
--
--   wrk ... -s reveal.lua URL -- TOKEN CASE_ID
--
-- done() prints the RESULT line of result.lua.

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

-- the RESULT line (result.lua, beside this script)
done = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "result.lua")
