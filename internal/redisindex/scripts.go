package redisindex

import "github.com/redis/go-redis/v9"

// An entry, as the scripts store it, one after another in the string value
// of its target's key, in arrival order:
//
//	stamp   8 bytes, big-endian double: the node's counter when it was added
//	time    8 bytes, big-endian double: when, in Redis-clock microseconds
//	linker 24 bytes: trace ID and span ID
//	error   1 byte: 1 when the linker ended with status Error
//	length  2 bytes, big-endian: of the name
//	name    up to maxName bytes
//
// Go sends the last four fields (a record); the scripts add the first two.
const (
	headerLen = 16 // stamp and time
	refLen    = 24
	recordMin = refLen + 1 + 2
	// maxName is the most bytes of a linker's name an entry keeps, so that a
	// hostile name cannot grow the index.
	maxName = 256
)

// scriptFlags lets a script on a Cluster node touch keys of every slot
// that node serves: the one declared key routes the call to the node, and
// the targets, which Go has grouped by node, come as arguments.
const scriptFlags = "#!lua flags=allow-cross-slot-keys\n"

// addScript adds a batch's links on one node, atomically.
//
// KEYS[1] is the node's counter. ARGV: now (µs), window (µs), ttl (ms),
// key prefix, then for each target its 24-byte IDs, its record count k and
// k records. The counter is incremented once, and every new entry is
// stamped with it, so that a cursor read from the counter afterwards lies
// at or beyond each of them, and one read before lies below. A linker
// already held for a target within the window is not added again; entries
// past the window are dropped as the key is rewritten. Each written key
// lives ttl after its last write. Returns {stamp, entries added}.
var addScript = redis.NewScript(scriptFlags + `
local s = redis.call('INCR', KEYS[1])
if s == 1 then
  -- A new counter (a new or restarted Redis) starts at the server's clock,
  -- in microseconds, so that it never goes back below a cursor read before.
  local t = redis.call('TIME')
  s = tonumber(t[1]) * 1000000 + tonumber(t[2])
  redis.call('SET', KEYS[1], string.format('%.0f', s))
end
local now, win, ttl, prefix = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3], ARGV[4]
local cutoff = now - win
local hdr = struct.pack('>dd', s, now)
local added = 0
local i = 5
while i <= #ARGV do
  local key = prefix .. ARGV[i]
  local k = tonumber(ARGV[i + 1])
  local v = redis.call('GET', key)
  if not v and k == 1 then
    -- A new target with one linker, the common case: one SET.
    redis.call('SET', key, hdr .. ARGV[i + 2], 'PX', ttl)
    added = added + 1
  else
    v = v or ''
    local held, kept, pruned = {}, {}, false
    local p = 1
    while p <= #v do
      local _, t = struct.unpack('>dd', v, p)
      local q = p + 43 + struct.unpack('>H', v, p + 41)
      if t > cutoff then
        held[string.sub(v, p + 16, p + 39)] = true
        kept[#kept + 1] = string.sub(v, p, q - 1)
      else
        pruned = true
      end
      p = q
    end
    local new = {}
    for j = i + 2, i + 1 + k do
      local ref = string.sub(ARGV[j], 1, 24)
      if not held[ref] then
        held[ref] = true
        new[#new + 1] = hdr .. ARGV[j]
      end
    end
    added = added + #new
    if pruned then
      for _, e in ipairs(new) do kept[#kept + 1] = e end
      if #kept == 0 then
        redis.call('DEL', key)
      else
        redis.call('SET', key, table.concat(kept), 'PX', ttl)
      end
    elseif #new > 0 then
      redis.call('APPEND', key, table.concat(new))
      redis.call('PEXPIRE', key, ttl)
    end
  end
  i = i + 2 + k
end
return {string.format('%.0f', s), added}
`)

// lookupScript looks a batch's spans up on one node; it writes nothing.
//
// KEYS[1] is the node's counter (it only routes the call). ARGV: now (µs),
// window (µs), from and to (stamps; to < 0: no bound), limit, key prefix,
// then each span's 24-byte IDs. For every span with entries stamped in
// (from, to] and within the window before now it returns four values: the
// span's place among the arguments (from 1), the count, the error count,
// and the first limit records, concatenated.
var lookupScript = redis.NewScript(scriptFlags + `
local now, win = tonumber(ARGV[1]), tonumber(ARGV[2])
local from, to, limit, prefix = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5]), ARGV[6]
local cutoff = now - win
local out = {}
for i = 7, #ARGV do
  local v = redis.call('GET', prefix .. ARGV[i])
  if v then
    local n, e, parts = 0, 0, {}
    local p = 1
    while p <= #v do
      local st, t = struct.unpack('>dd', v, p)
      local q = p + 43 + struct.unpack('>H', v, p + 41)
      if t > cutoff and st > from and (to < 0 or st <= to) then
        n = n + 1
        if string.byte(v, p + 40) == 1 then e = e + 1 end
        if #parts < limit then parts[#parts + 1] = string.sub(v, p + 16, q - 1) end
      end
      p = q
    end
    if n > 0 then
      out[#out + 1] = i - 6
      out[#out + 1] = n
      out[#out + 1] = e
      out[#out + 1] = table.concat(parts)
    end
  end
end
return out
`)

// cursorScript reads the node's counter (KEYS[1]); 0 when there is none
// yet. It is a script, not a GET, so that every command the index sends is
// a script call, which Redis's command statistics count apart from the
// commands scripts run.
var cursorScript = redis.NewScript(scriptFlags + `
return tonumber(redis.call('GET', KEYS[1]) or '0')
`)
