-- wrk script for bench/wrk.ts: POSTs samples whose times never repeat within a client (the bodies and requests of
-- bench/bodies.ts), counts the 202s (and a line-protocol write's 204s) and the samples they accepted, and prints the
-- totals with wrk's latency percentiles as one JSON line. Arguments after --: body kind, first time, thread count,
-- then the client paths. Each thread takes every thread-count-th path from its index on, and each request is from
-- its next client in turn at that client's next time, as bench/fleet.ts deals and rotates for the Node generators.

local threads = {}

function setup(thread)
  thread:set("index", #threads)
  table.insert(threads, thread)
end

local content_types = {
  form = "application/x-www-form-urlencoded",
  ["json-array"] = "application/json",
  ndjson = "application/x-ndjson",
  ["line-protocol"] = "text/plain; charset=utf-8",
}

-- A line-protocol body goes to InfluxDB's v2 write route, the client's client_id (from its path) as its token.
local write_path = "/api/v2/write?org=bench&bucket=bench&precision=s"
local function unescape(s)
  return (s:gsub("%%(%x%x)", function(hex) return string.char(tonumber(hex, 16)) end))
end

function init(args)
  kind = args[1]
  local first_time = tonumber(args[2])
  local thread_count = tonumber(args[3])
  -- Built once: request() only picks from them.
  paths, headers, next_times = {}, {}, {}
  for i = 4 + index, #args, thread_count do
    local path, header = args[i], { ["Content-Type"] = content_types[kind] }
    if kind == "line-protocol" then
      header["Authorization"] = "Token " .. unescape(path:sub(#"/client/" + 1))
      path = write_path
    end
    paths[#paths + 1] = path
    headers[#headers + 1] = header
    next_times[#next_times + 1] = first_time
  end
  client_count, current = #paths, 0
  per_body = kind == "form" and 1 or 1000
  sent, acked, samples, rejected = 0, 0, 0, 0
end

local function sample(t)
  return string.format('{"cpu_load":1.5,"mem":10,"storage":20,"time":%d}', t)
end

local function line(t)
  return string.format("system cpu_load=1.5,mem=10i,storage=20i %d", t)
end

local function body(t)
  if kind == "form" then return string.format("cpu_load=1.5&mem=10&storage=20&time=%d", t) end
  local parts = {}
  local one = kind == "line-protocol" and line or sample
  for i = 0, per_body - 1 do parts[i + 1] = one(t + i) end
  if kind == "json-array" then return "[" .. table.concat(parts, ",") .. "]" end
  return table.concat(parts, "\n") .. "\n"
end

-- wrk calls this once per request it writes (and once more at start to check the script): `sent` is an
-- upper bound of what reached the server.
function request()
  current = current % client_count + 1
  local t = next_times[current]
  next_times[current] = t + per_body
  sent = sent + 1
  return wrk.format("POST", paths[current], headers[current], body(t))
end

function response(status, headers, body)
  if status == 202 then
    acked = acked + 1
    samples = samples + (per_body == 1 and 1 or (tonumber(body:match('"accepted":%s*(%d+)')) or 0))
  elseif status == 204 and kind == "line-protocol" then
    acked = acked + 1
    samples = samples + per_body
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
