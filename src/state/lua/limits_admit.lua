-- One limit of `per_minute` (0: none) whose arrival time is `tat`: the new arrival time, what is
-- left and µs until whole again; or nil and the µs to wait.
local function admit(tat, per_minute)
  if per_minute <= 0 then
    return tat, -1, 0
  end
  local interval = minute / per_minute
  tat = math.max(tat, now) + interval
  if tat - minute > now then
    return nil, math.ceil(tat - minute - now)
  end
  return tat, math.floor((now + minute - tat) / interval), math.ceil(tat - now)
end
local tokens_left, tokens_reset, requests_left, requests_reset
tokens, tokens_left, tokens_reset = admit(tokens, tonumber(ARGV[1]))
if not tokens then
  return struct.pack('<ddd', 0, 1, tokens_left)
end
requests, requests_left, requests_reset = admit(requests, tonumber(ARGV[2]))
if not requests then
  return struct.pack('<ddd', 0, 2, requests_left)
end
local longest = math.max(tokens_reset, requests_reset)
redis.call('SET', KEYS[1], struct.pack('<dd', tokens, requests), 'PX', math.ceil(longest / 1000) + 1000)
return struct.pack('<ddddd', 1, tokens_left, tokens_reset, requests_left, requests_reset)
