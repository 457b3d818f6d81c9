-- wrk: POST check-ins, each with a person token and a venue code from the data file
-- (lines "person TOKEN" and "venue CODE"), counting the answers by status. A scan is a
-- person and a venue drawn apart, so that with 5,000 people and 200 venues few of a
-- run's scans repeat one (person, venue) of the last minutes, as few do in the field.
-- "sequential" walks the people in order instead (the warm-up meets each one early).
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
  people, venues = {}, {}
  for line in io.lines(args[1]) do
    local kind, value = line:match("^(%a+) (%S+)$")
    if kind == "person" then people[#people + 1] = value
    elseif kind == "venue" then venues[#venues + 1] = value end
  end
  math.randomseed(os.time() * 1000 + id)
  sequential = args[2] == "sequential"
  position = id * 997
  created, repeated, failed = 0, 0, 0
end

function request()
  local person, venue
  if sequential then  -- each pass over the people at other venues
    local pass = math.floor(position / #people)
    person = people[position % #people + 1]
    venue = venues[(position + pass * 7) % #venues + 1]
    position = position + 1
  else
    person = people[math.random(#people)]
    venue = venues[math.random(#venues)]
  end
  return wrk.format("POST", wrk.path, {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. person,
  }, '{"venue_code":"' .. venue .. '"}')
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
