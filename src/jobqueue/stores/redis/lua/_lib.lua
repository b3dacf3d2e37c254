-- Helpers shared by every jobqueue script: the store prepends this file to each one.
-- ARGV[1] is the key prefix and ARGV[2] the caller's clock in epoch microseconds; scripts
-- never read Redis's own clock. Times are integer microseconds, exact in a Lua number.
local prefix = ARGV[1]
local now = tonumber(ARGV[2])

-- tostring keeps only 14 digits of a number, so integers are formatted explicitly.
local function int(n)
  return string.format('%d', n)
end

-- An optional argument: '' for none, else '=' followed by the value.
local function optional(arg)
  if arg == '' then
    return nil
  end
  return arg:sub(2)
end

local function job_key(id)
  return prefix .. 'job:' .. id
end

local function ready_key(task)
  return prefix .. 'ready:' .. task
end

local function delayed_key(task)
  return prefix .. 'delayed:' .. task
end

-- The job's member in the listing index: created_at, fixed width, then the id, so that
-- Redis's byte order is the listing order.
local function index_member(id, job)
  return string.format('%018d', tonumber(job.created_at)) .. ':' .. id
end

local function load(id)
  local flat = redis.call('HGETALL', job_key(id))
  if #flat == 0 then
    return nil
  end
  local job = {}
  for i = 1, #flat, 2 do
    job[flat[i]] = flat[i + 1]
  end
  return job
end

-- Only the named fields of a job (HGETALL of every field costs several times more), or nil
-- when it has no status, so does not exist.
local function load_fields(id, ...)
  local names, values = {...}, redis.call('HMGET', job_key(id), ...)
  local job = {}
  for i, name in ipairs(names) do
    job[name] = values[i] or nil -- HMGET gives false for an absent field
  end
  return job.status and job or nil
end

-- A table `load` made, as the flat {field, value, ...} reply HGETALL would give.
local function flatten(job)
  local flat = {}
  for field, value in pairs(job) do
    flat[#flat + 1] = field
    flat[#flat + 1] = value
  end
  return flat
end

-- The job as `get` sees it: nil when unknown or past expires_at.
local function live(id)
  local job = load(id)
  if job and (job.expires_at == nil or tonumber(job.expires_at) > now) then
    return job
  end
  return nil
end

-- The job when *token* is its current lease (the fencing check), else nil: every field, or
-- with field names, only those (and status and token).
local function leased(id, token, ...)
  local job
  if select('#', ...) == 0 then
    job = load(id)
  else
    job = load_fields(id, 'status', 'token', ...)
  end
  if job and job.status == 'processing' and job.token == token then
    return job
  end
  return nil
end

-- The per task and status counts that `stats` reads instead of scanning jobs.
local function count(task, status, delta)
  local field = status .. ':' .. task
  if redis.call('HINCRBY', prefix .. 'counts', field, delta) == 0 then
    redis.call('HDEL', prefix .. 'counts', field)
  end
end

-- The running jobs per task and concurrency key, which claims under key_concurrency read;
-- a job without a key is not counted. The field is the task's length, ':', task, key.
local function running_key(task, key)
  return #task .. ':' .. task .. key
end

local function count_running(job, delta)
  if job.concurrency_key then
    local field = running_key(job.task, job.concurrency_key)
    if redis.call('HINCRBY', prefix .. 'running_keys', field, delta) <= 0 then
      redis.call('HDEL', prefix .. 'running_keys', field)
    end
  end
end

-- Count the job out of its status and into *status* (needs its task, status and key).
local function recount(job, status)
  count(job.task, job.status, -1)
  count(job.task, status, 1)
  if job.status == 'processing' then
    count_running(job, -1)
  elseif status == 'processing' then
    count_running(job, 1)
  end
end

local function set_status(id, job, status)
  recount(job, status)
  job.status = status
  redis.call('HSET', job_key(id), 'status', status)
end

-- Queue the job at *run_at*: in its task's ready set when due, else in the delayed set.
-- Ready sets score by -priority; among equal scores Redis orders members bytewise, so
-- the member starts with run_at, created_at and a store-wide sequence number, fixed width.
local function enqueue(id, job, run_at)
  local seq = redis.call('INCR', prefix .. 'seq')
  local member = string.format('%018d%018d%018d', run_at, tonumber(job.created_at), seq) .. id
  redis.call('HSET', job_key(id), 'run_at', int(run_at), 'queue_member', member)
  if run_at <= now then
    redis.call('ZADD', ready_key(job.task), -tonumber(job.priority), member)
  else
    redis.call('ZADD', delayed_key(job.task), int(run_at), member)
  end
end

-- Delayed jobs of *task* whose time has come join its ready set, earliest first. The move
-- is bounded so that one call stays cheap; whatever is left moves on the next.
local PROMOTE_LIMIT = 1000
local function promote_due(task)
  local due = redis.call('ZRANGEBYSCORE', delayed_key(task), '-inf', int(now),
    'LIMIT', 0, PROMOTE_LIMIT)
  for _, member in ipairs(due) do
    local priority = redis.call('HGET', job_key(member:sub(55)), 'priority')
    redis.call('ZADD', ready_key(task), -tonumber(priority), member)
    redis.call('ZREM', delayed_key(task), member)
  end
end

-- Take the job out of whichever index holds it while it waits or runs.
local function detach(id, job)
  if job.queue_member then
    redis.call('ZREM', ready_key(job.task), job.queue_member)
    redis.call('ZREM', delayed_key(job.task), job.queue_member)
    redis.call('HDEL', job_key(id), 'queue_member')
  else
    redis.call('HDEL', job_key(id), 'worker_id', 'lease_expires_at', 'token')
    redis.call('ZREM', prefix .. 'leased', id)
  end
end

-- Move the job to a terminal *status*, writing the field/value pairs that follow too; purge
-- deletes it ttl seconds from now. Needs the job's task, status, ttl_us, queue_member and
-- concurrency_key.
local function finish(id, job, status, ...)
  local expires_at = now + tonumber(job.ttl_us)
  detach(id, job)
  recount(job, status)
  job.status = status
  redis.call('HSET', job_key(id), 'status', status, 'completed_at', int(now),
    'expires_at', int(expires_at), ...)
  redis.call('ZADD', prefix .. 'expiring', int(expires_at), id)
end

-- Put the job back to queued, to run again no earlier than *run_at*.
local function requeue(id, job, run_at)
  detach(id, job)
  set_status(id, job, 'queued')
  enqueue(id, job, run_at)
end

-- Tell every process that the job is now at *version* with *status*; and the workers, on a
-- channel of their own (`RedisStore.worker_changes`; its name stays 'signals' so that
-- versions before the rename still hear it), when it is work (queued) or a running job
-- whose cancellation was requested (*cancel* '1'). `RedisStore._announced` applies the
-- same rule in-process.
local function announce_status(id, version, status, cancel)
  local change = id .. ':' .. int(version) .. ':' .. status
  redis.call('PUBLISH', prefix .. 'changes', change)
  if status == 'queued' or (status == 'processing' and cancel == '1') then
    redis.call('PUBLISH', prefix .. 'signals', change)
  end
end

-- `announce_status` of the job as stored.
local function publish(id, version)
  local status, cancel = unpack(redis.call('HMGET', job_key(id), 'status', 'is_cancel_requested'))
  announce_status(id, version, status, cancel)
end

-- Bump the version of a job that changed, announce it, and return the new version.
local function bump(id)
  local version = redis.call('HINCRBY', job_key(id), 'version', 1)
  publish(id, version)
  return version
end

-- Bump the version of a job that changed, announce it, and return its fields.
local function changed(id)
  bump(id)
  return redis.call('HGETALL', job_key(id))
end

-- The whole of a script that ends an attempt as terminal *status* (`complete`,
-- `finish_cancelled`): the job ARGV[3] under the lease token ARGV[4] is finished, with
-- *field* set to *value*. Returns {'ok', fields} or {'lost'}.
local function finish_leased(status, field, value)
  local id = ARGV[3]
  local job = leased(id, ARGV[4])
  if not job then
    return {'lost'}
  end
  finish(id, job, status, field, value)
  return {'ok', changed(id)}
end
