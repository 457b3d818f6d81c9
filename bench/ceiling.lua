-- wrk: the trivial POST endpoint, with a body of the same size as a check-in's.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"

function init(args)
  wrk.body = '{"venue_code":"' .. string.rep("x", 180) .. '"}'
end

function done(summary, latency, requests)
  for _, p in ipairs({ 50, 90, 99 }) do
    io.write(string.format("LATENCY p%d=%.3f\n", p, latency:percentile(p) / 1000))
  end
  io.write(string.format("RPS %.1f\n", summary.requests / (summary.duration / 1e6)))
  io.write(string.format("STATUS failed=%d\n", summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
