local t = redis.call('TIME')
local now = t[1] * 1000000 + t[2]
local minute = 60000000
local tokens, requests = now, now
local state = redis.call('GET', KEYS[1])
if state and #state == 16 then
  tokens, requests = struct.unpack('<dd', state)
end
tokens = math.min(math.max(tokens, now) + minute / tonumber(ARGV[1]) * tonumber(ARGV[2]), now + minute)
local longest = math.max(tokens, requests) - now
redis.call('SET', KEYS[1], struct.pack('<dd', tokens, requests), 'PX', math.ceil(longest / 1000) + 1000)
return 1
