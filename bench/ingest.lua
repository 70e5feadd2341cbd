-- wrk script for bench/ingest.py: POST pre-generated signed Messenger webhooks, none twice.
--
-- The file (env BENCH_BODIES) has one request per line: "<X-Hub-Signature-256> <body>". Thread k of n
-- takes lines k, k+n, k+2n...; when a thread runs out it starts over and counts a wrap (a repeated
-- message id: a redelivery, not an insert), which done() reports so the run can be flagged.
-- done() prints one machine-readable line: "BENCH_JSON {...}" with counts and latency percentiles (µs).

local threads = {}
local counter = 0

function setup(thread)
   thread:set("id", counter)
   counter = counter + 1
   table.insert(threads, thread)
end

function init(args)
   local path = os.getenv("BENCH_BODIES")
   local n = tonumber(os.getenv("BENCH_THREADS") or "1")
   requests_ = {}
   local i = 0
   for line in io.lines(path) do
      if i % n == id then
         local space = line:find(" ", 1, true)
         local headers = {
            ["Content-Type"] = "application/json",
            ["X-Hub-Signature-256"] = line:sub(1, space - 1),
         }
         table.insert(requests_, wrk.format("POST", "/webhooks/meta", headers, line:sub(space + 1)))
      end
      i = i + 1
   end
   available_ = #requests_
   position = 0
   wraps = 0
   statuses = {}
end

function request()
   position = position + 1
   if position > #requests_ then
      position = 1
      wraps = wraps + 1
   end
   return requests_[position]
end

function response(status, headers, body)
   statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
   local wraps_total, available, by_status = 0, 0, {}
   for _, thread in ipairs(threads) do
      wraps_total = wraps_total + thread:get("wraps")
      available = available + thread:get("available_")
      for status, count in pairs(thread:get("statuses")) do
         by_status[tostring(status)] = (by_status[tostring(status)] or 0) + count
      end
   end
   local parts = {}
   for status, count in pairs(by_status) do
      table.insert(parts, string.format('"%s":%d', status, count))
   end
   local e = summary.errors
   print(string.format(
      'BENCH_JSON {"requests":%d,"duration_us":%d,"status_errors":%d,"connect_errors":%d,"read_errors":%d,'
         .. '"write_errors":%d,"timeouts":%d,"wraps":%d,"bodies":%d,"statuses":{%s},"latency_us":{"p50":%d,'
         .. '"p90":%d,"p95":%d,"p99":%d,"p999":%d,"max":%d,"mean":%.1f}}',
      summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout, wraps_total, available,
      table.concat(parts, ","), latency:percentile(50), latency:percentile(90), latency:percentile(95),
      latency:percentile(99), latency:percentile(99.9), latency.max, latency.mean))
end
