tokens = math.min(math.max(tokens, now) + minute / tonumber(ARGV[1]) * tonumber(ARGV[2]), now + minute)
local longest = math.max(tokens, requests) - now
redis.call('SET', KEYS[1], struct.pack('<dd', tokens, requests), 'PX', math.ceil(longest / 1000) + 1000)
return 1
