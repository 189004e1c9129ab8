-- wrk -t1 -c8 -d10s -s benches/entra_cycle/wrk_filter_users.lua http://127.0.0.1:PORT   (env: TOKEN, SC, TAG, USERS)
-- GET /Users?filter=userName eq "…" for random existing users (created by entra_cycle --tag TAG).
local token = os.getenv("TOKEN")
local sc = os.getenv("SC")
local tag = os.getenv("TAG")
local users = tonumber(os.getenv("USERS") or "2000")
local headers = { ["Authorization"] = "Bearer " .. token }
math.randomseed(42)
local paths = {}
for i = 0, users - 1 do
  paths[i + 1] = string.format("/scim/%s/v2/Users?filter=userName+eq+%%22user%06d.%s%%40%s.example%%22", sc, i, tag, sc)
end
misses = 0
request = function()
  return wrk.format("GET", paths[math.random(users)], headers)
end
response = function(status, hdrs, body)
  if status ~= 200 or not string.find(body, '"totalResults":1', 1, true) then misses = misses + 1 end
end
local threads = {}
setup = function(thread) table.insert(threads, thread) end
done = function(summary, latency, requests)
  for _, t in ipairs(threads) do print("responses without exactly one match: " .. tostring(t:get("misses"))) end
end
