/**
 * The query-language runtime evaluated INSIDE the QuickJS sandbox, before the user's query.
 *
 * It is plain ES5-style JavaScript text: the host never shares a function or object with the
 * sandbox. Evaluating it defines the query API as globals (`fromAll`, `options`, `emit`, …) and
 * leaves as the script's completion value one dispatcher function, which the host keeps as a handle
 * and calls with a JSON command string; the dispatcher answers with a JSON string. Nothing of the
 * dispatcher is reachable from the user's code.
 *
 * Two dialects, read from the KurrentDB sources (behaviour only; the text is our own):
 *
 * - `current` — the interpreted runtime of every gRPC-era server (JintProjectionStateHandler): one
 *   handler per event (the type's own, else `$any`, else the state becomes the raw body); `$init`
 *   gives a new partition's state (default `{}`); `$initShared` turns on `biState`; `$deleted` gets
 *   `(state, null, partition, false)`; `filterBy` keeps the state only on `true`; `options` knows
 *   `$includeLinks`, `reorderEvents`, `processingLag`, `resultStreamName`, `biState` (keys compared
 *   case-insensitively, values type-checked); `fromCategory` with several categories reads their
 *   `$ce-` streams; the definition functions are removed from the global object once compiled;
 *   `copyTo` writes nothing; `fromStreamsMatching` does not exist; events with an empty body reach
 *   no handler.
 * - `legacy` — the pre-6.0 JS prelude: default handler + every `$any` + the type's handler, all in
 *   turn; `fromStreamsMatching`; `copyTo` copies the event with its non-`$` metadata and
 *   `$correlationId`; `$deleted` gets `(state, { partition, isSoftDeleted })`.
 *
 * @since 0.1.0
 * @category internal
 * @internal
 */
export const preludeFor = (legacy: boolean): string => preludeText.replace("__LEGACY__", legacy ? "true" : "false")

const preludeText = String.raw`(function () {
"use strict";
var legacy = __LEGACY__;
var hasOwn = Object.prototype.hasOwnProperty;
var jsonParse = JSON.parse, jsonStringify = JSON.stringify, isArray = Array.isArray;
var handlers = {};
var anyHandlers = [];
var deletedHandler = null;
var createdHandlers = [];
var transformers = [];
var initHandler = null;
var initSharedHandler = null;
var partitionHandler = null;
var matcher = null;
var sources = {
  allStreams: false, allEvents: true, byStreams: false, byCustomPartitions: false,
  categories: [], streams: [], catalogStream: null, events: [],
  options: {
    definesStateTransform: false, definesCatalogTransform: false, handlesDeletedNotifications: false,
    handlesCreatedNotifications: false, producesResults: false, definesFold: false,
    resultStreamName: null, partitionResultStreamNamePattern: null,
    $includeLinks: false, reorderEvents: false, processingLag: 0, biState: false
  }
};
var noHandler = true;
var emitted = [];
var logs = [];
var globalObject = globalThis;

function isFunction(f) { return typeof f === "function"; }
function isObject(v) { return v !== null && (typeof v === "object" || typeof v === "function"); }
function nullArgument(name) { return new TypeError("Value cannot be null. (Parameter '" + name + "')"); }
function badArgument(message, name) { return new TypeError(message + (name ? " (Parameter '" + name + "')" : "")); }

function addHandler(name, fn) {
  sources.options.definesFold = true;
  if (name === "$init" || (legacy && name === "0")) { initHandler = fn; return; }
  if (name === "$initShared") { initSharedHandler = fn; if (!legacy) sources.options.biState = true; return; }
  if (name === "$any") { noHandler = false; sources.allEvents = true; anyHandlers = legacy ? anyHandlers.concat([fn]) : [fn]; return; }
  if (name === "$created") { createdHandlers.push(fn); sources.options.handlesCreatedNotifications = true; return; }
  if (name === "$deleted") {
    if (!legacy && sources.options.biState === true) throw new Error("Cannot handle deletes in bi-state projections");
    deletedHandler = fn; sources.options.handlesDeletedNotifications = true; return;
  }
  noHandler = false; sources.allEvents = false;
  if (!hasOwn.call(handlers, name)) sources.events.push(name);
  handlers[name] = fn;
}
function register(h) {
  if (!isObject(h)) { if (legacy) throw new TypeError("when() expects an object of handlers"); sources.options.definesFold = true; return; }
  var keys = Object.keys(h);
  for (var i = 0; i < keys.length; i++) {
    var fn = h[keys[i]];
    if (isFunction(fn)) addHandler(keys[i], fn);
    else if (legacy) throw new TypeError("The handler '" + keys[i] + "' is not a function");
  }
  sources.options.definesFold = true;
}
function transforms() { sources.options.definesStateTransform = true; sources.options.producesResults = true; }

// The chain: each step answers an object with the steps allowed after it.
var chain = {};
function step(names) {
  var o = {};
  for (var i = 0; i < names.length; i++) if (legacy || names[i] !== "whenAny") o[names[i]] = chain[names[i]];
  return o;
}
chain.when = function (h) { register(h); return step(["transformBy", "filterBy", "outputState", "outputTo", "$defines_state_transform"]); };
chain.whenAny = function (fn) { addHandler("$any", fn); return step(["transformBy", "filterBy", "outputState", "outputTo"]); };
chain.partitionBy = function (fn) {
  if (!isFunction(fn)) throw badArgument("partitionBy");
  partitionHandler = fn; sources.byCustomPartitions = true; return step(["when", "whenAny"]);
};
chain.foreachStream = function () { sources.byStreams = true; return step(["when", "whenAny"]); };
chain.outputState = function () { sources.options.producesResults = true; return step(["transformBy", "filterBy", "outputTo"]); };
chain.transformBy = function (fn) {
  if (!isFunction(fn)) throw badArgument("expected function");
  transforms(); transformers.push({ filter: false, fn: fn }); return step(["transformBy", "filterBy", "outputState", "outputTo"]);
};
chain.filterBy = function (fn) {
  if (!isFunction(fn)) throw badArgument("expected function");
  transforms(); transformers.push({ filter: true, fn: fn }); return step(["transformBy", "filterBy", "outputState", "outputTo"]);
};
chain.outputTo = function (resultStream, partitionPattern) {
  var n = arguments.length;
  if (n !== 1 && n !== 2) throw badArgument("invalid number of parameters");
  if (typeof resultStream !== "string") throw badArgument("expected string value", "resultStream");
  if (n === 2 && typeof partitionPattern !== "string") throw badArgument("expected string value", "partitionResultStreamPattern");
  transforms();
  sources.options.resultStreamName = resultStream;
  if (n === 2) sources.options.partitionResultStreamNamePattern = partitionPattern;
  return {};
};
chain.$defines_state_transform = function () { transforms(); };

var afterSource = ["when", "whenAny", "partitionBy", "outputState", "foreachStream"];
var afterStream = ["when", "whenAny", "partitionBy", "outputState"];
function fromAll() { sources.allStreams = true; return step(afterSource); }
function fromStream(s) {
  if (typeof s !== "string") throw badArgument("stream");
  sources.streams.push(s); return step(afterStream);
}
function fromStreams(list) {
  var items = isArray(list) ? list : arguments;
  for (var i = 0; i < items.length; i++) {
    if (typeof items[i] !== "string") throw badArgument("streams");
    sources.streams.push(items[i]);
  }
  return step(afterStream);
}
function fromCategory(c) {
  var n = arguments.length, i;
  if (n === 1 && isArray(c)) {
    for (i = 0; i < c.length; i++) { if (typeof c[i] !== "string") throw badArgument("categories"); sources.streams.push("$ce-" + c[i]); }
  } else if (n > 1) {
    for (i = 0; i < n; i++) { if (typeof arguments[i] !== "string") throw badArgument("categories"); sources.streams.push("$ce-" + arguments[i]); }
  } else if (n === 1) {
    if (typeof c !== "string") throw badArgument("category");
    sources.categories.push(c);
  }
  return step(afterSource);
}
function fromStreamsMatching(fn) {
  if (!isFunction(fn)) throw new TypeError("fromStreamsMatching() expects a function");
  sources.catalogStream = "$all"; sources.options.definesCatalogTransform = true; sources.byStreams = true;
  matcher = fn; return step(["when", "whenAny"]);
}

var optionKinds = { "$includelinks": ["$includeLinks", "boolean"], "reorderevents": ["reorderEvents", "boolean"],
  "processinglag": ["processingLag", "number"], "resultstreamname": ["resultStreamName", "string"], "bistate": ["biState", "boolean"] };
function options(o) {
  if (!isObject(o)) return;
  var keys = Object.keys(o);
  for (var i = 0; i < keys.length; i++) {
    var kind = hasOwn.call(optionKinds, keys[i].toLowerCase()) ? optionKinds[keys[i].toLowerCase()] : undefined;
    if (kind === undefined) throw new Error("Unrecognized option: " + keys[i]);
    var v = o[keys[i]];
    if (typeof v !== kind[1]) throw new Error("Invalid value");
    sources.options[kind[0]] = kind[1] === "number" ? (v < 0 ? Math.ceil(v) : Math.floor(v)) : v;
  }
}

function requireText(v, name) {
  if (typeof v === "string" && v.trim() !== "") return v;
  if (v === null || v === undefined || typeof v === "string") throw nullArgument(name);
  throw badArgument("string expected", name);
}
function requireObject(v, name) {
  if (v === null || v === undefined) throw nullArgument(name);
  if (!isObject(v)) throw badArgument("object expected", name);
  return v;
}
function metadataOf(md) {
  var keys = Object.keys(md), out = {}, any = false;
  for (var i = 0; i < keys.length; i++) if (md[keys[i]] !== undefined) { out[keys[i]] = md[keys[i]]; any = true; }
  return jsonStringify(out);
}
function emit(streamId, eventType, body, metadata) {
  if (arguments.length < 3) throw badArgument("invalid number of parameters");
  var stream = requireText(streamId, "streamId");
  var type = requireText(eventType, "eventName");
  requireObject(body, "eventBody");
  if (arguments.length >= 4 && !isObject(metadata)) throw badArgument("object expected", "metadata");
  emitted.push({ kind: "emit", streamId: stream, eventType: type, data: jsonStringify(body), isJson: true,
    metadata: arguments.length >= 4 ? metadataOf(metadata) : null });
}
function linkTo(streamId, ev, metadata) {
  if (arguments.length !== 2 && arguments.length !== 3) throw badArgument("wrong number of parameters");
  var stream = requireText(streamId, "streamId");
  requireObject(ev, "event");
  if (typeof ev.sequenceNumber !== "number" || typeof ev.streamId !== "string") {
    throw new Error("Invalid link to event " + ev.sequenceNumber + "@" + ev.streamId);
  }
  if (arguments.length === 3) requireObject(metadata, "metaData");
  emitted.push({ kind: "linkTo", streamId: stream, eventType: "$>", data: Math.trunc(ev.sequenceNumber) + "@" + ev.streamId,
    isJson: false, metadata: arguments.length === 3 ? metadataOf(metadata) : null });
}
function linkStreamTo(streamId, linkedStreamId, metadata) {
  var stream = requireText(streamId, "streamId");
  var linked = requireText(linkedStreamId, "linkedStreamId");
  emitted.push({ kind: "linkStreamTo", streamId: stream, eventType: "$@", data: linked, isJson: false,
    metadata: isObject(metadata) ? metadataOf(metadata) : null });
}
function copyTo(streamId, ev, metadata) {
  if (!legacy) return undefined;
  var stream = requireText(streamId, "streamId");
  requireObject(ev, "event");
  var m = {}, p, em = ev.metadata;
  if (isObject(em)) for (p in em) if (hasOwn.call(em, p) && (p.indexOf("$") !== 0 || p === "$correlationId")) m[p] = em[p];
  if (isObject(metadata)) for (p in metadata) if (hasOwn.call(metadata, p) && p.indexOf("$") !== 0) m[p] = metadata[p];
  emitted.push({ kind: "copyTo", streamId: stream, eventType: String(ev.eventType), data: String(ev.bodyRaw), isJson: !!ev.isJson,
    metadata: jsonStringify(m) });
}
function log(m) { if (logs.length < 100) logs.push(typeof m === "string" ? m : jsonStringify(m)); }

function Envelope(e, partition) {
  this.isJson = e.isJson;
  this.bodyRaw = e.bodyRaw;
  this.eventType = e.eventType;
  this.streamId = e.streamId;
  this.sequenceNumber = e.sequenceNumber;
  this.eventId = e.eventId;
  this.category = e.category;
  this.metadataRaw = e.metadataRaw;
  this.linkMetadataRaw = e.linkMetadataRaw;
  this.partition = partition;
}
function lazy(name, compute) {
  Object.defineProperty(Envelope.prototype, name, { configurable: true, get: function () {
    var v = compute(this);
    Object.defineProperty(this, name, { value: v, writable: false, enumerable: true, configurable: false });
    return v;
  } });
}
function parsedBody(env) {
  if (!env.isJson) return legacy ? null : undefined;
  if (legacy) { try { return env.bodyRaw === "" ? {} : jsonParse(env.bodyRaw); } catch (x) { return undefined; } }
  return jsonParse(env.bodyRaw);
}
lazy("body", parsedBody);
lazy("data", function (env) { return env.body; });
lazy("metadata", function (env) { return env.metadataRaw ? jsonParse(env.metadataRaw) : null; });
lazy("linkMetadata", function (env) { return env.linkMetadataRaw ? jsonParse(env.linkMetadataRaw) : (legacy ? {} : null); });

function call(fn, state, ev) { var s = fn(state, ev); return s === undefined ? state : s; }
function handle(state, ev) {
  var type = ev.eventType, i;
  if (legacy) {
    if (noHandler) state = call(function (st, e) { return e.isJson ? e.body : { $e: e.bodyRaw }; }, state, ev);
    for (i = 0; i < anyHandlers.length; i++) state = call(anyHandlers[i], state, ev);
    if (hasOwn.call(handlers, type)) state = call(handlers[type], state, ev);
    return state;
  }
  if (hasOwn.call(handlers, type)) return call(handlers[type], state, ev);
  if (anyHandlers.length > 0) return call(anyHandlers[0], state, ev);
  return ev.bodyRaw;
}
function toResult(state) {
  var r = state;
  for (var i = 0; i < transformers.length; i++) {
    var t = transformers[i];
    if (t.filter) {
      var keep = t.fn(r);
      if (legacy ? !keep : keep !== true) return null;
    } else {
      r = t.fn(r);
    }
    if (r === null || r === undefined) return null;
  }
  return serialize(r);
}
function serialize(v) {
  if (v === null || v === undefined) return null;
  if (typeof v === "string" && !legacy) return v;
  var t = jsonStringify(v);
  return t === undefined ? null : t;
}
function initial(fn) { return fn === null ? {} : fn(); }
function loadState(text, init) { return text === null ? initial(init) : jsonParse(text); }
function answer(out) { out.emitted = emitted; out.logs = logs; emitted = []; logs = []; return jsonStringify(out); }
function emptyBody(e) { return e.isJson ? e.bodyRaw.trim() === "" : e.bodyRaw === ""; }

var api = { fromAll: fromAll, fromStream: fromStream, fromStreams: fromStreams, fromCategory: fromCategory,
  fromCategories: fromCategory, options: options, on_event: function (name, fn) {
    if (arguments.length !== 2) throw badArgument("invalid number of parameters");
    if (typeof name !== "string") throw badArgument("eventName");
    if (!isFunction(fn)) throw badArgument("eventHandler");
    addHandler(name, fn);
  }, on_any: function (fn) {
    if (arguments.length !== 1) throw badArgument("invalid number of parameters");
    if (!isFunction(fn)) throw badArgument("eventHandler");
    addHandler("$any", fn);
  } };
if (legacy) api.fromStreamsMatching = fromStreamsMatching;
var definitionNames = Object.keys(api);
api.emit = emit; api.linkTo = linkTo; api.linkStreamTo = linkStreamTo; api.copyTo = copyTo; api.log = log;
var names = Object.keys(api);
for (var k = 0; k < names.length; k++) {
  Object.defineProperty(globalObject, names[k], { value: api[names[k]], writable: false, enumerable: false, configurable: true });
}

function describe(x) {
  try { return x instanceof Error ? String(x.message) : String(x); } catch (y) { return "The handler threw a value that cannot be described"; }
}
return function dispatch(text) {
  try { return run(jsonParse(text)); } catch (x) { emitted = []; logs = []; return jsonStringify({ fault: describe(x) }); }
};
var liveState = null, liveShared = null;
function run(c) {
  emitted = []; logs = [];
  switch (c.op) {
    case "sources": {
      if (!legacy) for (var d = 0; d < definitionNames.length; d++) delete globalObject[definitionNames[d]];
      return jsonStringify(sources);
    }
    case "partition": {
      var p = partitionHandler(new Envelope(c.event, ""));
      if (legacy) return answer({ partition: p === undefined || p === null || p === "" ? "" : String(p) });
      return answer({ partition: typeof p === "string" || typeof p === "number" ? String(p) : null });
    }
    case "matches": return answer({ matches: !!matcher(c.event.streamId, new Envelope(c.event, null)) });
    case "process": {
      var bi = sources.options.biState === true;
      var isNew = c.state === null;
      // the partition handled last keeps its live value (a real node loads a state only when the
      // partition changes), so a state that is not JSON (a raw body) is kept as it is
      var state = c.live === true ? liveState : loadState(c.state, initHandler);
      var shared = bi ? (c.live === true ? liveShared : loadState(c.shared, initSharedHandler)) : null;
      var ev = new Envelope(c.event, c.partition);
      if (isNew && !legacy) for (var h = 0; h < createdHandlers.length; h++) createdHandlers[h](bi ? [state, shared] : state, ev);
      if (legacy || !emptyBody(c.event)) {
        var folded = handle(bi ? [state, shared] : state, ev);
        if (bi) {
          state = isArray(folded) ? folded[0] : folded;
          shared = isArray(folded) ? folded[1] : shared;
        } else {
          state = folded;
        }
      }
      liveState = state; liveShared = shared;
      var out = { state: serialize(state), shared: bi ? serialize(shared) : null };
      if (sources.options.producesResults) out.result = toResult(state);
      return answer(out);
    }
    case "deleted": {
      if (sources.options.biState === true) throw new Error("Bi-State projections do not support delete notifications");
      var ds = c.live === true ? liveState : loadState(c.state, initHandler);
      if (legacy) ds = call(deletedHandler, ds, { partition: c.partition, isSoftDeleted: c.isSoftDeleted });
      else deletedHandler(ds, null, c.partition, false);
      liveState = ds; liveShared = null;
      var dout = { state: serialize(ds), shared: null };
      if (sources.options.producesResults) dout.result = toResult(ds);
      return answer(dout);
    }
    default: throw new Error("unknown command " + c.op);
  }
}
})()`
