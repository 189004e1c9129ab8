-- wrk -t1 -c8 -d10s -s benches/entra_cycle/wrk_post_users.lua http://127.0.0.1:PORT   (env: TOKEN, SC)
-- POST /Users with a unique Entra-shaped user per request.
local token = os.getenv("TOKEN")
local sc = os.getenv("SC")
local prefix = string.format("w%x", os.time())
local counter = 0
local path = "/scim/" .. sc .. "/v2/Users"
local headers = {
  ["Content-Type"] = "application/scim+json; charset=utf-8",
  ["Authorization"] = "Bearer " .. token,
}
local template = '{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],'
  .. '"externalId":"%s","userName":"%s@%s.example","active":true,"displayName":"Given %s","title":"Site Lead",'
  .. '"emails":[{"primary":true,"type":"work","value":"%s@%s.example"}],'
  .. '"name":{"formatted":"Given %s","givenName":"Given","familyName":"%s"},'
  .. '"phoneNumbers":[{"type":"mobile","value":"+33 6 00 00 00 17"}],'
  .. '"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"Operations","employeeNumber":"E-20931"},'
  .. '"meta":{"resourceType":"User"},"roles":[]}'

request = function()
  counter = counter + 1
  local l = string.format("%s-%07d", prefix, counter)
  local body = string.format(template, l, l, sc, l, l, sc, l, l)
  return wrk.format("POST", path, headers, body)
end
