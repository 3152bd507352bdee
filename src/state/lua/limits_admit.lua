local t = redis.call('TIME')
local now = t[1] * 1000000 + t[2]
local tokens, requests = now, now
local state = redis.call('GET', KEYS[1])
if state and #state == 16 then
  tokens, requests = struct.unpack('<dd', state)
end
local minute = 60000000
local tpm, rpm = tonumber(ARGV[1]), tonumber(ARGV[2])
local tokens_left, tokens_reset, requests_left, requests_reset = -1, 0, -1, 0
if tpm > 0 then
  local interval = minute / tpm
  tokens = math.max(tokens, now) + interval
  if tokens - minute > now then
    return struct.pack('<ddd', 0, 1, math.ceil(tokens - minute - now))
  end
  tokens_left = math.floor((now + minute - tokens) / interval)
  tokens_reset = math.ceil(tokens - now)
end
if rpm > 0 then
  local interval = minute / rpm
  requests = math.max(requests, now) + interval
  if requests - minute > now then
    return struct.pack('<ddd', 0, 2, math.ceil(requests - minute - now))
  end
  requests_left = math.floor((now + minute - requests) / interval)
  requests_reset = math.ceil(requests - now)
end
local longest = math.max(tokens_reset, requests_reset)
redis.call('SET', KEYS[1], struct.pack('<dd', tokens, requests), 'PX', math.ceil(longest / 1000) + 1000)
return struct.pack('<ddddd', 1, tokens_left, tokens_reset, requests_left, requests_reset)
