/**
 * The query-language runtime evaluated INSIDE the QuickJS sandbox, before the user's query.
 *
 * It is plain ES5-style JavaScript text: the host never shares a function or object with the
 * sandbox. Evaluating it defines the query API as globals (`fromAll`, `when`, `emit`, …) and leaves
 * as the script's completion value one dispatcher function, which the host keeps as a handle and
 * calls with a JSON command string; the dispatcher answers with a JSON string. Nothing of the
 * dispatcher is reachable from the user's code.
 *
 * Semantics follow the KurrentDB projection runtime (read from its public source, written anew):
 * handlers receive `(state, event)` and a handler returning `undefined` keeps the state; `$init`
 * gives a partition's first state (default `{}`); without any handler the default handler makes
 * the state the event's body; `filterBy`/`transformBy` chain over the state to give the result,
 * `null` meaning "no result"; unknown `options` fail with "Unrecognized option: <name>".
 *
 * @since 0.1.0
 * @internal
 */
export const prelude = String.raw`(function () {
"use strict";
var handlers = {};
var anyHandlers = [];
var deletedHandlers = [];
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
    resultStreamName: null, partitionResultStreamNamePattern: null, $forceProjectionName: null,
    $includeLinks: false, disableParallelism: false, reorderEvents: false, processingLag: 0, biState: false
  }
};
var defaultHandler = true;
var emitted = [];
var logs = [];
var hasOwn = Object.prototype.hasOwnProperty;
var jsonParse = JSON.parse, jsonStringify = JSON.stringify, isArray = Array.isArray;

function onType(name, fn) {
  defaultHandler = false; handlers[name] = fn; sources.allEvents = false;
  sources.events.push(name); sources.options.definesFold = true;
}
function onAny(fn) {
  defaultHandler = false; sources.allEvents = true; anyHandlers.push(fn); sources.options.definesFold = true;
}
function register(h) {
  if (h === null || typeof h !== "object") throw new TypeError("when() expects an object of handlers");
  for (var name in h) {
    if (!hasOwn.call(h, name)) continue;
    var fn = h[name];
    if (typeof fn !== "function") throw new TypeError("The handler '" + name + "' is not a function");
    if (name === "$init") { initHandler = fn; sources.options.definesFold = true; }
    else if (name === "$initShared") { initSharedHandler = fn; sources.options.definesFold = true; }
    else if (name === "$any") onAny(fn);
    else if (name === "$deleted") { deletedHandlers.push(fn); sources.options.handlesDeletedNotifications = true; sources.options.definesFold = true; }
    else if (name === "$created") { createdHandlers.push(fn); sources.options.handlesCreatedNotifications = true; sources.options.definesFold = true; }
    else onType(name, fn);
  }
}
function addTransform(fn) {
  transformers.push(fn); sources.options.definesStateTransform = true; sources.options.producesResults = true;
}
function setOptions(o) {
  for (var name in o) {
    if (!hasOwn.call(o, name)) continue;
    if (!hasOwn.call(sources.options, name)) throw "Unrecognized option: " + name;
    sources.options[name] = o[name];
  }
}
var afterTransform, afterWhen, afterPartition, afterSource;
function transformBy(fn) { addTransform(fn); return afterTransform; }
function filterBy(fn) { addTransform(function (s) { return fn(s) ? s : null; }); return afterTransform; }
function outputTo(resultStream, partitionPattern) {
  sources.options.definesStateTransform = true; sources.options.producesResults = true;
  sources.options.resultStreamName = resultStream === undefined ? null : resultStream;
  sources.options.partitionResultStreamNamePattern = partitionPattern === undefined ? null : partitionPattern;
}
function outputState() { sources.options.producesResults = true; return { transformBy: transformBy, filterBy: filterBy, outputTo: outputTo }; }
afterTransform = { transformBy: transformBy, filterBy: filterBy, outputState: outputState, outputTo: outputTo };
afterWhen = { transformBy: transformBy, filterBy: filterBy, outputState: outputState, outputTo: outputTo };
function when(h) { register(h); return afterWhen; }
function whenAny(fn) { onAny(fn); return afterWhen; }
afterPartition = { when: when, whenAny: whenAny };
function foreachStream() { sources.byStreams = true; return afterPartition; }
function partitionBy(fn) {
  if (typeof fn !== "function") throw new TypeError("partitionBy() expects a function");
  partitionHandler = fn; sources.byCustomPartitions = true; return afterPartition;
}
afterSource = { partitionBy: partitionBy, foreachStream: foreachStream, when: when, whenAny: whenAny, outputState: outputState };

function fromAll() { sources.allStreams = true; return afterSource; }
function fromStream(s) { sources.streams.push(String(s)); return { partitionBy: partitionBy, when: when, whenAny: whenAny, outputState: outputState }; }
function fromStreams(list) {
  var items = isArray(list) ? list : arguments;
  for (var i = 0; i < items.length; i++) sources.streams.push(String(items[i]));
  return { partitionBy: partitionBy, when: when, whenAny: whenAny, outputState: outputState };
}
function fromCategory(c) {
  var items = isArray(c) ? c : arguments;
  for (var i = 0; i < items.length; i++) sources.categories.push(String(items[i]));
  return afterSource;
}
function fromStreamsMatching(fn) {
  if (typeof fn !== "function") throw new TypeError("fromStreamsMatching() expects a function");
  sources.catalogStream = "$all"; sources.options.definesCatalogTransform = true; sources.byStreams = true;
  matcher = fn; return { when: when, whenAny: whenAny };
}
function requireStream(s, what) {
  if (typeof s !== "string" || s === "") throw new TypeError(what + ": the target stream must be a non-empty string");
}
function metaText(m) { return m === undefined || m === null ? null : jsonStringify(m); }
function emit(streamId, eventType, body, metadata) {
  requireStream(streamId, "emit");
  if (typeof eventType !== "string" || eventType === "") throw new TypeError("emit: the event type must be a non-empty string");
  emitted.push({ kind: "emit", streamId: streamId, eventType: eventType, data: jsonStringify(body), isJson: true, metadata: metaText(metadata) });
}
function linkTo(streamId, ev, metadata) {
  requireStream(streamId, "linkTo");
  emitted.push({ kind: "linkTo", streamId: streamId, eventType: "$>", data: ev.sequenceNumber + "@" + ev.streamId, isJson: false, metadata: metaText(metadata) });
}
function copyTo(streamId, ev, metadata) {
  requireStream(streamId, "copyTo");
  var m = {}, p, em = ev.metadata;
  if (em) for (p in em) if (hasOwn.call(em, p) && (p.indexOf("$") !== 0 || p === "$correlationId")) m[p] = em[p];
  if (metadata) for (p in metadata) if (hasOwn.call(metadata, p) && p.indexOf("$") !== 0) m[p] = metadata[p];
  emitted.push({ kind: "copyTo", streamId: streamId, eventType: ev.eventType, data: ev.bodyRaw, isJson: !!ev.isJson, metadata: jsonStringify(m) });
}
function linkStreamTo(streamId, linkedStreamId, metadata) {
  requireStream(streamId, "linkStreamTo");
  emitted.push({ kind: "linkStreamTo", streamId: streamId, eventType: "$@", data: String(linkedStreamId), isJson: false, metadata: metaText(metadata) });
}
function log(m) { if (logs.length < 100) logs.push(typeof m === "string" ? m : jsonStringify(m)); }

function Envelope(e, partition) {
  this.isJson = false;
  this.data = null;
  this.body = null;
  this.bodyRaw = e.bodyRaw;
  this.eventType = e.eventType;
  this.streamId = e.streamId;
  this.sequenceNumber = e.sequenceNumber;
  this.metadataRaw = e.metadataRaw;
  this.linkMetadataRaw = e.linkMetadataRaw;
  this.partition = partition;
  if (e.isJson) {
    try {
      var parsed = e.bodyRaw === "" ? {} : jsonParse(e.bodyRaw);
      this.body = parsed; this.data = parsed; this.isJson = true;
    } catch (x) {
      this.body = undefined; this.data = undefined; this.jsonError = String(x);
    }
  }
}
Object.defineProperty(Envelope.prototype, "metadata", { get: function () {
  if (this.metadata_ === undefined) this.metadata_ = this.metadataRaw ? jsonParse(this.metadataRaw) : null;
  return this.metadata_;
} });
Object.defineProperty(Envelope.prototype, "linkMetadata", { get: function () {
  if (this.linkMetadata_ === undefined) this.linkMetadata_ = this.linkMetadataRaw ? jsonParse(this.linkMetadataRaw) : {};
  return this.linkMetadata_;
} });

function call(fn, state, ev) { var s = fn(state, ev); return s === undefined ? state : s; }
function fold(state, shared, ev, eventType) {
  var bi = sources.options.biState === true;
  var s = bi ? [state, shared] : state, i;
  if (defaultHandler) s = call(function (st, e) { return e.isJson ? e.body : { $e: e.bodyRaw }; }, s, ev);
  for (i = 0; i < anyHandlers.length; i++) s = call(anyHandlers[i], s, ev);
  if (hasOwn.call(handlers, eventType)) s = call(handlers[eventType], s, ev);
  return bi ? { state: s[0], shared: s[1] } : { state: s, shared: shared };
}
function toResult(state) {
  var r = state;
  for (var i = 0; i < transformers.length; i++) { r = transformers[i](r); if (r === null || r === undefined) return null; }
  return jsonStringify(r);
}
function loadState(text, init) { return text === null ? (init ? init() : {}) : jsonParse(text); }
function stringify(v) { var t = jsonStringify(v); return t === undefined ? "null" : t; }
function answer(out) { out.emitted = emitted; out.logs = logs; emitted = []; logs = []; return jsonStringify(out); }

var globalObject = globalThis;
var api = {
  fromAll: fromAll, fromStream: fromStream, fromStreams: fromStreams, fromCategory: fromCategory,
  fromStreamsMatching: fromStreamsMatching, options: setOptions, emit: emit, linkTo: linkTo,
  copyTo: copyTo, linkStreamTo: linkStreamTo, log: log
};
for (var k in api) Object.defineProperty(globalObject, k, { value: api[k], writable: false, configurable: false, enumerable: false });

function describe(x) {
  try { return x instanceof Error ? String(x.message) : String(x); } catch (y) { return "The handler threw a value that cannot be described"; }
}
return function dispatch(text) {
  try { return run(jsonParse(text)); } catch (x) { emitted = []; logs = []; return jsonStringify({ fault: describe(x) }); }
};
function run(c) {
  emitted = []; logs = [];
  switch (c.op) {
    case "sources": return jsonStringify(sources);
    case "partition": {
      var pe = new Envelope(c.event, null);
      var p = partitionHandler(pe);
      return answer({ partition: p === undefined || p === null || p === "" ? "" : String(p) });
    }
    case "matches": {
      var me = new Envelope(c.event, null);
      return answer({ matches: !!matcher(c.event.streamId, me) });
    }
    case "process": {
      var state = loadState(c.state, initHandler);
      var shared = sources.options.biState === true ? loadState(c.shared, initSharedHandler) : null;
      var r = fold(state, shared, new Envelope(c.event, c.partition), c.event.eventType);
      var out = { state: stringify(r.state), shared: sources.options.biState === true ? stringify(r.shared) : null };
      if (sources.options.producesResults) out.result = toResult(r.state);
      return answer(out);
    }
    case "deleted": {
      if (sources.options.biState === true) throw "Bi-State projections do not support delete notifications";
      var ds = loadState(c.state, initHandler);
      for (var d = 0; d < deletedHandlers.length; d++) ds = call(deletedHandlers[d], ds, { partition: c.partition, isSoftDeleted: c.isSoftDeleted });
      var dout = { state: stringify(ds), shared: null };
      if (sources.options.producesResults) dout.result = toResult(ds);
      return answer(dout);
    }
    case "result": return answer({ result: toResult(jsonParse(c.state)) });
    default: throw new Error("unknown command " + c.op);
  }
}
})()`
