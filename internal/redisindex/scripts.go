package redisindex

import "github.com/redis/go-redis/v9"

// Layout. A target's entries live in one field of a Redis hash: the field
// is the target's key bytes (keyOf: its 24 ID bytes, after its partition's
// 8 when partitioned), and the hash is its bucket's key for the time slot
// the entries were added in:
//
//	key_prefix {bucket} position
//
// bucket is bucketOf the field (one of buckets, in hexadecimal, in braces:
// a Redis Cluster hash tag, so that a bucket's keys are on one node and a
// script can compose them), position is the slot number modulo 3, a slot
// lasting the lifetime + 1s (the TTL), counted on the Redis clock from the
// Unix epoch. Each key expires the TTL after its last write, so an entry
// lives at least its lifetime; a slot's key is written only during its
// slot, so it has expired (at most two slots after its slot began) before
// its position comes round again, three slots after. An entry is kept
// until its slot's key expires: 1 to 2 TTLs, 1.5 on average.
//
// The scripts read the positions of the slots that can hold an entry they
// want: from the lifetime's start (add: an entry within the lifetime holds
// its linker) or since (lookup) to ahead after the later of Redis's TIME
// and the collector's latest time; two slots at most for an add, one or
// two for a lookup. A key holds at most a slot's worth of stale entries
// more, which the time filters drop.
//
// Grouping targets into few large hashes is what makes an entry cheap: a
// hash of up to 512 short fields is one listpack allocation, against a
// key, an object and an expiry entry per target for one key per target.
//
// A field's value lists the target's entries of that slot, one after
// another, in arrival order:
//
//	time    8 bytes, big-endian double: when it was added, in Redis-clock
//	        microseconds
//	linker 24 bytes: trace ID and span ID
//	error   1 byte: 1 when the linker ended with status Error
//	length  2 bytes, big-endian: of the name
//	name    up to maxName bytes
//
// Go sends the last four fields (a record); the add script adds the time.
// A value of more than 64 bytes (names over 29 bytes, or a second linker)
// turns its hash into a hash table, which costs that bucket memory, not
// answers: 161.5 bytes/entry at 1M entries with 40-byte names, every
// bucket a hash table, against 87.6 with 14-byte names.
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

// ahead is how far after the later of Redis's TIME and a collector's latest
// time (on the Redis clock) the scripts look for entries: an entry is
// stamped with the Redis-clock time of the collector that added it, which
// the offset measured with TIME keeps within milliseconds of Redis's own;
// ahead covers that and a collector whose latest time lags its clock.
const ahead = 1_000_000 // microseconds

// positionsLua defines target(blob, at, prefix), which reads a target of a
// blob, and positions(lo, hi, slot): the positions of the slots
// from lo's to hi's (microseconds), at most all three, in that order; none when hi
// is before lo. A script reads only these: every other position holds
// entries stamped at or before lo, or after hi, which no one adds. The
// positions are strings, ready to end a key: Lua formats a number that it
// joins to a string with sprintf, each time.
const positionsLua = `
local function positions(lo, hi, slot)
  local s0, s1 = math.floor(lo / slot), math.floor(hi / slot)
  local ps = {}
  for s = s0, math.min(s1, s0 + 2) do ps[#ps + 1] = tostring(s % 3) end
  return ps
end
local byte, sub, unpack = string.byte, string.sub, struct.unpack
-- target(blob, at): the key base (key prefix and bucket tag in braces) and
-- the field of the target at at in blob (blob.go), and where what follows
-- it starts.
local function target(blob, at, prefix)
  local tl = byte(blob, at)
  local base = prefix .. '{' .. sub(blob, at + 1, at + tl) .. '}'
  at = at + 1 + tl
  local fl = byte(blob, at)
  return base, sub(blob, at + 1, at + fl), at + 1 + fl
end
local function redisNow()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000000 + tonumber(t[2])
end
`

// addScript adds a batch's links on one node, atomically.
//
// KEYS[1] is the node's route key (it only routes the call; nothing is
// written to it). ARGV: now (microseconds), lifetime (microseconds), ttl (ms), key prefix, slot
// length (microseconds), ahead (microseconds), and the blob of the targets, each with its
// records (blob.go). Every new entry is stamped with now
// and appended to the target's value at the position of now's slot. A
// linker already held for a target within the lifetime, in any slot from
// the lifetime's start to ahead after now (or after Redis's TIME, when
// later), is not added again, so each linker counts once per target
// whichever slot holds it. Each written key lives ttl after its last
// write. Returns the number of entries added.
//
// A value is searched for a linker's 24 bytes as a plain substring before
// it is parsed: a value that does not contain them holds no entry of that
// linker, which is the common case (a new linker for its target), so a
// value is parsed only for a linker sent again. An append keeps the
// entries already in the value, those past the lifetime too: a slot's key
// takes writes for a slot, so they are at most a second's worth, and every
// reader drops them by their time.
var addScript = redis.NewScript(scriptFlags + positionsLua + `
local now, life, ttl, prefix = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3], ARGV[4]
local slot, ahead = tonumber(ARGV[5]), tonumber(ARGV[6])
local cutoff = now - life
local pos = tostring(math.floor(now / slot) % 3)
local others = {}
for _, p in ipairs(positions(cutoff, math.max(now, redisNow()) + ahead, slot)) do
  if p ~= pos then others[#others + 1] = p end
end
local hdr = struct.pack('>d', now)
local find = string.find
-- holds(v, ref): v holds an entry of linker ref added after cutoff.
local function holds(v, ref)
  if not v or not find(v, ref, 1, true) then return false end
  local at = 1
  while at <= #v do
    if sub(v, at + 8, at + 31) == ref and unpack('>d', v, at) > cutoff then return true end
    at = at + 35 + unpack('>H', v, at + 33)
  end
  return false
end
-- held(old, ref): one of the values old holds an entry of linker ref.
local function held(old, ref)
  for j = 1, #old do
    if holds(old[j], ref) then return true end
  end
  return false
end
local added = 0
local touched = {}
local blob = ARGV[7]
local recs = {}
local at = 1
while at <= #blob do
  local base, field, k
  base, field, at = target(blob, at, prefix)
  k, at = unpack('>I4', blob, at)
  for j = 1, k do
    local q = at + 27 + unpack('>H', blob, at + 25)
    recs[j] = sub(blob, at, q - 1)
    at = q
  end
  local key = base .. pos
  local old = {}
  for j = 1, #others do
    old[#old + 1] = redis.call('HGET', base .. others[j], field)
  end
  local written = false
  local cur = nil
  if k == 1 and not held(old, sub(recs[1], 1, 24)) and
      redis.call('HSETNX', key, field, hdr .. recs[1]) == 1 then
    -- A new target with one linker: one write.
    added = added + 1
    written = true
  else
    cur = redis.call('HGET', key, field)
    local new, seen = {}, {}
    for j = 1, k do
      local ref = sub(recs[j], 1, 24)
      if not seen[ref] and not holds(cur, ref) and not held(old, ref) then
        seen[ref] = true
        new[#new + 1] = hdr .. recs[j]
      end
    end
    if #new > 0 then
      redis.call('HSET', key, field, (cur or '') .. table.concat(new))
      added = added + #new
      written = true
    end
  end
  if written and not touched[key] then
    touched[key] = true
    redis.call('PEXPIRE', key, ttl)
  end
end
return added
`)

// lookupScript looks a batch's spans up on one node; it writes nothing.
//
// KEYS[1] is the node's route key. ARGV: since (microseconds), limit, key prefix,
// slot length (microseconds), the collector's latest time (microseconds, 0 when it has none),
// ahead (microseconds), and the blob of the spans (blob.go). It reads the span's
// field at the positions of the slots from since's to ahead after the
// later of the latest time and Redis's TIME. For every span with entries
// added after since it returns four values: the span's place among the
// spans (from 1), the count, the error count, and the oldest limit
// records, concatenated.
var lookupScript = redis.NewScript(scriptFlags + positionsLua + `
local since, limit, prefix = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3]
local slot, latest, ahead = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local ps = positions(since, math.max(latest, redisNow()) + ahead, slot)
local out = {}
local place = 0
local blob = ARGV[7]
local at = 1
while at <= #blob do
  place = place + 1
  local base, field
  base, field, at = target(blob, at, prefix)
  local vals = {}
  for j = 1, #ps do
    local v = redis.call('HGET', base .. ps[j], field)
    if v then vals[#vals + 1] = v end
  end
  local n, e, parts = 0, 0, {}
  if #vals == 1 then
    -- One slot, the common case: its entries are in arrival order.
    local v = vals[1]
    local at = 1
    while at <= #v do
      local t = struct.unpack('>d', v, at)
      local q = at + 35 + struct.unpack('>H', v, at + 33)
      if t > since then
        n = n + 1
        if string.byte(v, at + 32) == 1 then e = e + 1 end
        if #parts < limit then parts[#parts + 1] = string.sub(v, at + 8, q - 1) end
      end
      at = q
    end
  elseif #vals > 1 then
    -- Several slots: the oldest first, each value in its own order.
    local ents = {}
    for vi = 1, #vals do
      local v = vals[vi]
      local at = 1
      while at <= #v do
        local t = struct.unpack('>d', v, at)
        local q = at + 35 + struct.unpack('>H', v, at + 33)
        if t > since then
          n = n + 1
          if string.byte(v, at + 32) == 1 then e = e + 1 end
          ents[#ents + 1] = {t, vi, at, q}
        end
        at = q
      end
    end
    table.sort(ents, function(a, b)
      if a[1] ~= b[1] then return a[1] < b[1] end
      if a[2] ~= b[2] then return a[2] < b[2] end
      return a[3] < b[3]
    end)
    for j = 1, math.min(limit, #ents) do
      local en = ents[j]
      parts[j] = string.sub(vals[en[2]], en[3] + 8, en[4] - 1)
    end
  end
  if n > 0 then
    out[#out + 1] = place
    out[#out + 1] = n
    out[#out + 1] = e
    out[#out + 1] = table.concat(parts)
  end
end
return out
`)
