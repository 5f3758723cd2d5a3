-- wrk script for bench/wrk.ts: POSTs samples whose times never repeat within a client (the bodies of
-- bench/bodies.ts), counts the 202s and the samples they accepted, and prints the totals with wrk's latency
-- percentiles as one JSON line. Arguments after --: body kind, first time, thread count, then the client paths.
-- Each thread takes every thread-count-th path from its index on, and each request is from its next client in
-- turn at that client's next time, as bench/fleet.ts deals and rotates for the Node generators.

local threads = {}

function setup(thread)
  thread:set("index", #threads)
  table.insert(threads, thread)
end

local content_types = {
  form = "application/x-www-form-urlencoded",
  ["json-array"] = "application/json",
  ndjson = "application/x-ndjson",
}

function init(args)
  kind = args[1]
  local first_time = tonumber(args[2])
  local thread_count = tonumber(args[3])
  -- Built once: request() only picks from them.
  paths, next_times = {}, {}
  for i = 4 + index, #args, thread_count do
    paths[#paths + 1] = args[i]
    next_times[#next_times + 1] = first_time
  end
  client_count, current = #paths, 0
  per_body = kind == "form" and 1 or 1000
  headers = { ["Content-Type"] = content_types[kind] }
  sent, acked, samples, rejected = 0, 0, 0, 0
end

local function sample(t)
  return string.format('{"cpu_load":1.5,"mem":10,"storage":20,"time":%d}', t)
end

local function body(t)
  if kind == "form" then return string.format("cpu_load=1.5&mem=10&storage=20&time=%d", t) end
  local parts = {}
  for i = 0, per_body - 1 do parts[i + 1] = sample(t + i) end
  if kind == "ndjson" then return table.concat(parts, "\n") .. "\n" end
  return "[" .. table.concat(parts, ",") .. "]"
end

-- wrk calls this once per request it writes (and once more at start to check the script): `sent` is an
-- upper bound of what reached the server.
function request()
  current = current % client_count + 1
  local t = next_times[current]
  next_times[current] = t + per_body
  sent = sent + 1
  return wrk.format("POST", paths[current], headers, body(t))
end

function response(status, headers, body)
  if status == 202 then
    acked = acked + 1
    samples = samples + (per_body == 1 and 1 or (tonumber(body:match('"accepted":%s*(%d+)')) or 0))
  else
    rejected = rejected + 1
    if first_error == nil then first_error = status .. " " .. body:sub(1, 200):gsub("%s", " ") end
  end
end

function done(summary, latency, requests)
  local totals = { sent = 0, acked = 0, samples = 0, rejected = 0 }
  local first_error = nil
  for _, thread in ipairs(threads) do
    for key in pairs(totals) do totals[key] = totals[key] + thread:get(key) end
    first_error = first_error or thread:get("first_error")
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"sent": %d, "acked": %d, "samples": %d, "rejected": %d, "socketErrors": %d, "durationUs": %d, "p50Us": %d, "p99Us": %d}\n',
    totals.sent, totals.acked, totals.samples, totals.rejected, e.connect + e.read + e.write + e.timeout,
    summary.duration, latency:percentile(50), latency:percentile(99)))
  if first_error then io.write("BENCH_FIRST_ERROR " .. first_error .. "\n") end
end
