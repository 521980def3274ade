// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// The Redis broker's Lua scripts (see redisbroker.h for the keys). Numbers
// that may be large (µs timestamps) stay strings: Lua 5.1 prints numbers
// above 1e14 in exponent notation.
#pragma once

namespace bfg::redisscripts {

// Shared by both scripts: the stream's epoch and last seq, made anew (with
// an empty history) when Redis has lost them; and the age bound, which
// drops from the front of the history what is older than the window.
inline constexpr char Head[] = R"lua(
local function stream_head(meta, hist, candidate)
  local head = redis.call('HMGET', meta, 'e', 's')
  if head[1] then return head[1], tonumber(head[2]) end
  redis.call('DEL', hist)
  redis.call('HSET', meta, 'e', candidate, 's', 0)
  return candidate, 0
end
local function trim_by_age(hist, cutoff)
  local first = redis.call('XRANGE', hist, '-', '+', 'COUNT', 1)
  if #first == 0 or tonumber(first[1][2][2]) >= cutoff then return end
  local start = '-'
  while true do
    local chunk = redis.call('XRANGE', hist, start, '+', 'COUNT', 100)
    local keep = nil
    for _, entry in ipairs(chunk) do
      if tonumber(entry[2][2]) >= cutoff then keep = entry[1] break end
    end
    if keep then redis.call('XTRIM', hist, 'MINID', keep) return end
    if #chunk < 100 then redis.call('XTRIM', hist, 'MAXLEN', 0) return end
    start = '(' .. chunk[#chunk][1]
  end
end
)lua";

// KEYS: meta, history, then the id keys of the items that have ids.
// ARGV: channel, candidate epoch, now (µs), history size, history age (µs),
//       stream TTL (ms), id TTL (s), item count, then per item: index of its
//       id key in KEYS (0: none), id, payload.
// Returns {epoch, seq1, duplicate1, seq2, duplicate2, ...}.
inline constexpr char Publish[] = R"lua(
local meta, hist = KEYS[1], KEYS[2]
local epoch, seq = stream_head(meta, hist, ARGV[2])
local now_us = ARGV[3]
local out = {epoch}
local batch = {}
for i = 0, tonumber(ARGV[8]) - 1 do
  local k = tonumber(ARGV[9 + 3 * i])
  local id = ARGV[10 + 3 * i]
  local payload = ARGV[11 + 3 * i]
  local known = nil
  if k > 0 then
    local v = redis.call('GET', KEYS[k])
    if v then
      local e, s = string.match(v, '^(%S+) (%d+)$')
      if e == epoch then known = tonumber(s) end
    end
  end
  if known then
    out[#out + 1] = known
    out[#out + 1] = 1
  else
    seq = seq + 1
    redis.call('XADD', hist, 'MAXLEN', ARGV[4], seq .. '-0', 't', now_us, 'i', id, 'p', payload)
    if k > 0 then redis.call('SET', KEYS[k], epoch .. ' ' .. seq, 'EX', ARGV[7]) end
    batch[#batch + 1] = seq .. ' ' .. now_us .. ' ' .. #id .. ' ' .. #payload .. '\n' .. id .. payload
    out[#out + 1] = seq
    out[#out + 1] = 0
  end
end
redis.call('HSET', meta, 's', seq)
trim_by_age(hist, tonumber(now_us) - tonumber(ARGV[5]))
redis.call('PEXPIRE', meta, ARGV[6])
redis.call('PEXPIRE', hist, ARGV[6])
if #batch > 0 then redis.call('PUBLISH', ARGV[1], epoch .. '\n' .. table.concat(batch)) end
return out
)lua";

// KEYS: meta, history.
// ARGV: candidate epoch, stream TTL (ms), "1" if a position follows,
//       position epoch, position seq, now (µs), history age (µs).
// Returns {epoch, seq, recovered (0/1), entries after the position up to seq}.
inline constexpr char Read[] = R"lua(
local meta, hist = KEYS[1], KEYS[2]
local epoch, seq = stream_head(meta, hist, ARGV[1])
trim_by_age(hist, tonumber(ARGV[6]) - tonumber(ARGV[7]))
redis.call('PEXPIRE', meta, ARGV[2])
redis.call('PEXPIRE', hist, ARGV[2])
if ARGV[3] ~= '1' then return {epoch, seq, 1, {}} end
-- A client that has seen nothing of the stream can take it from the start
-- in any epoch; otherwise the epoch must be the one it knew.
local from_seq = tonumber(ARGV[5])
local same = ARGV[4] == epoch
local after = 0
if same then after = from_seq end
if not (same or from_seq == 0) or after > seq then return {epoch, seq, 0, {}} end
if after == seq then return {epoch, seq, 1, {}} end
local entries = redis.call('XRANGE', hist, (after + 1) .. '-0', '+', 'COUNT', seq - after)
if #entries == 0 or entries[1][1] ~= (after + 1) .. '-0' then return {epoch, seq, 0, {}} end
return {epoch, seq, 1, entries}
)lua";

} // namespace bfg::redisscripts
