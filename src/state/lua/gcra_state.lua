-- Prelude of the GCRA scripts: the server's clock in µs, and a key's two arrival times (tokens,
-- requests; 'now' when the key is missing or not 16 bytes).
local t = redis.call('TIME')
local now = t[1] * 1000000 + t[2]
local minute = 60000000
local tokens, requests = now, now
local state = redis.call('GET', KEYS[1])
if state and #state == 16 then
  tokens, requests = struct.unpack('<dd', state)
end
