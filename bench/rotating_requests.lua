-- Sends the requests of a file in turn: `wrk -s rotating_requests.lua URL -- FILE`.
-- One request a line, fields separated by tabs: METHOD, PATH, BODY (may be empty), then
-- headers as "Name: value". Built once in init(), so request() costs a table lookup.

local requests = {}
local count = 0
local next_index = 0

local function split(line)
  local fields = {}
  local start = 1
  while true do
    local tab = string.find(line, "\t", start, true)
    if tab == nil then
      table.insert(fields, string.sub(line, start))
      return fields
    end
    table.insert(fields, string.sub(line, start, tab - 1))
    start = tab + 1
  end
end

function init(args)
  for line in io.lines(args[1]) do
    local fields = split(line)
    local headers = {}
    for i = 4, #fields do
      local name, value = string.match(fields[i], "^([^:]+):%s*(.*)$")
      headers[name] = value
    end
    local body = fields[3]
    if body == "" then
      body = nil
    end
    count = count + 1
    requests[count] = wrk.format(fields[1], fields[2], headers, body)
  end
  if count == 0 then
    error("no requests in " .. args[1])
  end
end

function request()
  next_index = next_index % count + 1
  return requests[next_index]
end
