package redisindex

import "github.com/redis/go-redis/v9"

// An entry, as the scripts store it, one after another in the string value
// of its target's key, in arrival order:
//
//	time    8 bytes, big-endian double: when it was added, in Redis-clock
//	        microseconds
//	linker 24 bytes: trace ID and span ID
//	error   1 byte: 1 when the linker ended with status Error
//	length  2 bytes, big-endian: of the name
//	name    up to maxName bytes
//
// Go sends the last four fields (a record); the add script adds the time.
const (
	headerLen = 8 // time
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
// KEYS[1] is the node's route key (it only routes the call; nothing is
// written to it). ARGV: now (µs), lifetime (µs), ttl (ms), key prefix, then
// for each target its 24-byte IDs, its record count k and k records. Every
// new entry is stamped with now. A linker already held for a target within
// the lifetime is not added again; entries past the lifetime are dropped as
// the key is rewritten. Each written key lives ttl after its last write.
// Returns the number of entries added.
var addScript = redis.NewScript(scriptFlags + `
local now, life, ttl, prefix = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3], ARGV[4]
local cutoff = now - life
local hdr = struct.pack('>d', now)
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
      local t = struct.unpack('>d', v, p)
      local q = p + 35 + struct.unpack('>H', v, p + 33)
      if t > cutoff then
        held[string.sub(v, p + 8, p + 31)] = true
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
return added
`)

// lookupScript looks a batch's spans up on one node; it writes nothing.
//
// KEYS[1] is the node's route key. ARGV: since (µs), limit, key prefix,
// then each span's 24-byte IDs. For every span with entries added after
// since it returns four values: the span's place among the arguments (from
// 1), the count, the error count, and the first limit records,
// concatenated.
var lookupScript = redis.NewScript(scriptFlags + `
local since, limit, prefix = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3]
local out = {}
for i = 4, #ARGV do
  local v = redis.call('GET', prefix .. ARGV[i])
  if v then
    local n, e, parts = 0, 0, {}
    local p = 1
    while p <= #v do
      local t = struct.unpack('>d', v, p)
      local q = p + 35 + struct.unpack('>H', v, p + 33)
      if t > since then
        n = n + 1
        if string.byte(v, p + 32) == 1 then e = e + 1 end
        if #parts < limit then parts[#parts + 1] = string.sub(v, p + 8, q - 1) end
      end
      p = q
    end
    if n > 0 then
      out[#out + 1] = i - 3
      out[#out + 1] = n
      out[#out + 1] = e
      out[#out + 1] = table.concat(parts)
    end
  end
end
return out
`)
