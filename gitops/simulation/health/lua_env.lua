-- The environment Argo CD v3.5.1 gives a health.lua (util/lua/lua.go runLua, gopher-lua
-- v1.1.2), rebuilt for every call in one shared Lua 5.1 state: the object as the global `obj`,
-- `actionParams` (an empty table for a health check), the base library, `package`/`require`
-- and `table`; with the standard libraries (`useOpenLibs`, always for a built-in script) also
-- `string`, `math`, `os` and `coroutine`, and the string methods ("x"):upper(). Without them
-- `os` is only reachable as require("os"), with os.time and os.date (lua.go's
-- SafeOsLoader; its OpenSafeOs registers nothing, as "table" is already loaded).
-- Left out on purpose: io, debug, the os functions that touch the process or the files
-- (execute, exit, remove, rename, tmpname, setlocale), dofile, loadfile, module, and
-- gopher-lua's `channel`; `print` and `collectgarbage` do nothing.
-- The call runs with a deadline (lua.go gives the VM a 1 s context): past it, the next
-- instructions raise "context deadline exceeded", as gopher-lua's VM loop does.
local now, timeout, hook_every = ...

local _G, setfenv, select, pairs, error = _G, setfenv, select, pairs, error
local loadstring, load, tostring, setmetatable = loadstring, load, tostring, setmetatable
local sethook, string_mt = debug.sethook, debug.getmetatable("")
local create, resume, status = coroutine.create, coroutine.resume, coroutine.status
local os, string, math, coroutine = os, string, math, coroutine

local BASE = {
  "assert", "error", "getfenv", "getmetatable", "ipairs", "next", "pairs", "pcall",
  "rawequal", "rawget", "rawset", "select", "setfenv", "setmetatable", "tonumber",
  "tostring", "type", "unpack", "xpcall", "newproxy",
}
-- gopher-lua's table library (tablelib.go): Lua 5.1's without foreach, foreachi and setn.
local TABLE = {
  concat = table.concat, getn = table.getn, insert = table.insert, maxn = table.maxn,
  remove = table.remove, sort = table.sort,
}
local SAFE_OS = {time = os.time, date = os.date}
local OPEN_OS = {
  clock = os.clock, date = os.date, difftime = os.difftime, getenv = os.getenv, time = os.time,
}

local function copy(source)
  local target = {}
  for key, value in pairs(source) do target[key] = value end
  return target
end

local function nothing() end

local function new_env(open_libs)
  local env = {}
  for i = 1, #BASE do env[BASE[i]] = _G[BASE[i]] end
  env._G = env
  env._VERSION = "Lua 5.1"
  env.print = nothing
  env.collectgarbage = nothing
  -- Chunks a script loads see the script's globals, not this state's.
  env.loadstring = function(text, name)
    local chunk, err = loadstring(text, name)
    if chunk then setfenv(chunk, env) end
    return chunk, err
  end
  env.load = function(reader, name)
    local chunk, err = load(reader, name)
    if chunk then setfenv(chunk, env) end
    return chunk, err
  end
  local loaded = {_G = env}
  local preload = {os = function() return copy(SAFE_OS) end}
  env.package = {loaded = loaded, preload = preload}
  loaded.package = env.package
  env.table = copy(TABLE)
  loaded.table = env.table
  if open_libs then
    env.string = copy(string)
    env.math = copy(math)
    env.os = copy(OPEN_OS)
    env.coroutine = copy(coroutine)
    loaded.string, loaded.math, loaded.os = env.string, env.math, env.os
    loaded.coroutine = env.coroutine
  end
  env.require = function(name)
    local module = loaded[name]
    if module ~= nil then return module end
    local loader = preload[name]
    if loader == nil then error("module " .. tostring(name) .. " not found", 2) end
    module = loader(name)
    if module == nil then module = true end
    loaded[name] = module
    return module
  end
  return env
end

local deadline = 0
local function check_deadline()
  if now() > deadline then
    -- From now on every instruction fails, as gopher-lua's VM checks its context before
    -- each one: a script's pcall catches the error but cannot go on.
    sethook(check_deadline, "", 1)
    error("context deadline exceeded", 2)
  end
end

local function pack(...) return select("#", ...), {...} end

-- run(chunk, obj, open_libs) -> true, the last value the chunk returned (nil if none), or
-- false, the error as text (a runtime error without its stack trace, as gopher-lua's
-- ApiErrorRun reaches Argo CD). Argo CD reads the top of the stack (l.Get(-1)) after DoString.
-- The chunk runs in a coroutine of its own, so that the deadline hook watches the script and
-- nothing of this runner.
local function run(chunk, obj, open_libs)
  local env = new_env(open_libs)
  env.obj = obj
  env.actionParams = {}
  setfenv(chunk, env)
  local string_index = string_mt.__index
  if not open_libs then string_mt.__index = nil end
  local thread = create(chunk)
  deadline = now() + timeout
  sethook(thread, check_deadline, "", hook_every)
  local count, results = pack(resume(thread))
  string_mt.__index = string_index
  if not results[1] then return false, tostring(results[2]) end
  if status(thread) ~= "dead" then
    return false, "attempt to yield from outside a coroutine"
  end
  -- results[1] is resume's true; with nothing returned, the top of Argo CD's stack is nil.
  if count == 1 then return true, nil end
  return true, results[count]
end

-- A number per table, stable while the table lives: how a reader of the result in Python
-- tells two references to one table apart from two tables.
local ids, last_id = setmetatable({}, {__mode = "k"}), 0
local function identity(t)
  local id = ids[t]
  if id == nil then
    last_id = last_id + 1
    id = last_id
    ids[t] = id
  end
  return id
end

-- Compiles a script once; its chunk name makes errors read "<string>:LINE: ...", as the
-- chunks gopher-lua's DoString loads are named.
local function compile(source)
  return loadstring(source, "=<string>")
end

return {run = run, identity = identity, compile = compile}
