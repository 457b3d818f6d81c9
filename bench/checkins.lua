-- wrk: POST check-ins, each with a person token and a venue code from the data file
-- (one "token venue_code" pair per line), counting the answers by status.
-- With WRK_THINK_MS set, each connection waits a random time of that mean (exponential)
-- before each request, as people scanning at their own pace would: a load below
-- saturation, so the latency is the server's and not the queue's.
local counter = 0
local think = tonumber(os.getenv("WRK_THINK_MS") or "")
if think then
  function delay()
    return math.floor(-think * math.log(1 - math.random()))
  end
end
local threads = {}

function setup(thread)
  thread:set("id", counter)
  table.insert(threads, thread)
  counter = counter + 1
end

function init(args)
  pairs_list = {}
  for line in io.lines(args[1]) do
    local token, code = line:match("^(%S+) (%S+)$")
    if token then pairs_list[#pairs_list + 1] = { token, code } end
  end
  math.randomseed(os.time() * 1000 + id)
  sequential = args[2] == "sequential"
  position = id * 997
  created, repeated, failed = 0, 0, 0
end

function request()
  local pair
  if sequential then
    position = position % #pairs_list + 1
    pair = pairs_list[position]
    position = position + 1
  else
    pair = pairs_list[math.random(#pairs_list)]
  end
  return wrk.format("POST", wrk.path, {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. pair[1],
  }, '{"venue_code":"' .. pair[2] .. '"}')
end

function response(status, headers, body)
  if status == 201 then created = created + 1
  elseif status == 200 then repeated = repeated + 1
  else failed = failed + 1 end
end

function done(summary, latency, requests)
  local c, r, f = 0, 0, 0
  for _, thread in ipairs(threads) do
    c = c + thread:get("created")
    r = r + thread:get("repeated")
    f = f + thread:get("failed")
  end
  io.write(string.format("STATUS created=%d repeated=%d failed=%d\n", c, r, f))
  for _, p in ipairs({ 50, 90, 99 }) do
    io.write(string.format("LATENCY p%d=%.3f\n", p, latency:percentile(p) / 1000))
  end
  io.write(string.format("RPS %.1f\n", summary.requests / (summary.duration / 1e6)))
end
