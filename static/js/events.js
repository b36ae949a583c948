/*
 * The live audit stream of /ws/events/, for the console's pages: nothing is missed silently.
 *
 *   const stream = ProviderConsole.startEventStream({ onEvent: (event) => ... });
 *
 * Frames: {"type": "hello", "role": ...} once per connection, then {"type": "event", "event":
 * {...}} for an event written on its own and {"type": "events", "events": [...]} for the events
 * of a Run all (docs/events.md). Every event carries its id. The stream delivers each event once,
 * in id order, and refills from GET /api/events?after_id=N whenever it cannot be sure it has
 * everything:
 *   - a gap in the ids (an event id larger than the last one delivered + 1): the events after it
 *     are held back, the missing ones are fetched, then all are delivered in order; ids still
 *     missing after that (a rolled-back transaction, or one committing late) are asked for once
 *     more a little later;
 *   - a reconnection: what was committed while the socket was down is fetched;
 *   - every `safetyRefillMs` (60 s): a lost last frame would leave no gap to notice.
 * The socket reconnects with a growing delay (0.5 s to 30 s), except after close code 4403
 * (signed out, deactivated or role removed), which ends the stream.
 */
(function (root) {
  "use strict";

  var CLOSE_ACCESS_REVOKED = 4403;
  var REFILL_PAGE_SIZE = 1000;
  var RECHECK_HOLES_MS = 2000;
  var KEEP_SEEN = 20000;

  function defaultUrl() {
    var scheme = root.location.protocol === "https:" ? "wss://" : "ws://";
    return scheme + root.location.host + "/ws/events/";
  }

  function EventStream(options) {
    options = options || {};
    this.url = options.url || defaultUrl();
    this.apiUrl = options.apiUrl || "/api/events";
    this.onEvent = options.onEvent || function () {};
    this.onHello = options.onHello || function () {};
    this.onEnd = options.onEnd || function () {};
    this.WebSocket = options.WebSocket || root.WebSocket;
    this.fetch = options.fetch || root.fetch.bind(root);
    this.safetyRefillMs = options.safetyRefillMs === undefined ? 60000 : options.safetyRefillMs;
    this.highest = null; // the largest id delivered
    this.seen = new Set(); // ids delivered
    this.held = []; // events received while a refill runs
    this.refill = null; // the running refill (a promise)
    this.retries = 0;
    this.socket = null;
    this.ended = false;
    this.timer = null;
  }

  EventStream.prototype.start = function () {
    var stream = this;
    if (stream.safetyRefillMs > 0 && stream.timer === null) {
      stream.timer = root.setInterval(function () {
        if (stream.highest !== null && stream.refill === null) stream.refillAfter(stream.highest);
      }, stream.safetyRefillMs);
    }
    stream.connect();
    return stream;
  };

  EventStream.prototype.stop = function () {
    this.ended = true;
    if (this.timer !== null) root.clearInterval(this.timer);
    if (this.socket) this.socket.close();
  };

  EventStream.prototype.connect = function () {
    var stream = this;
    var socket = new stream.WebSocket(stream.url);
    stream.socket = socket;
    socket.onopen = function () {
      stream.retries = 0;
    };
    socket.onmessage = function (message) {
      stream.receiveFrame(JSON.parse(message.data));
    };
    socket.onclose = function (close) {
      if (stream.socket !== socket) return;
      stream.socket = null;
      if (stream.ended) return;
      if (close && close.code === CLOSE_ACCESS_REVOKED) {
        stream.stop();
        stream.onEnd({ revoked: true });
        return;
      }
      var delay = Math.min(30000, 500 * Math.pow(2, stream.retries++));
      root.setTimeout(function () {
        if (!stream.ended) stream.connect();
      }, delay * (0.75 + Math.random() / 2));
    };
  };

  EventStream.prototype.receiveFrame = function (frame) {
    if (frame.type === "hello") {
      this.onHello(frame);
      // Back after a disconnection: fetch what was committed meanwhile.
      if (this.highest !== null) this.refillAfter(this.highest);
      return;
    }
    var events = frame.type === "event" ? [frame.event] : frame.type === "events" ? frame.events : [];
    for (var i = 0; i < events.length; i++) this.receive(events[i]);
  };

  EventStream.prototype.receive = function (event) {
    if (this.seen.has(event.id)) return;
    if (this.refill !== null) {
      this.held.push(event);
      return;
    }
    if (this.highest !== null && event.id > this.highest + 1) {
      this.held.push(event);
      this.refillAfter(this.highest);
      return;
    }
    this.deliver(event);
  };

  EventStream.prototype.deliver = function (event) {
    if (this.seen.has(event.id)) return;
    this.seen.add(event.id);
    if (this.highest === null || event.id > this.highest) this.highest = event.id;
    if (this.seen.size > KEEP_SEEN) {
      var floor = this.highest - KEEP_SEEN / 2;
      this.seen.forEach(function (id, _, set) {
        if (id < floor) set.delete(id);
      });
    }
    try {
      this.onEvent(event);
    } catch (error) {
      if (root.console) root.console.error(error);
    }
  };

  // Every event with an id above `afterId`, oldest first (the API pages newest first).
  EventStream.prototype.fetchAfter = function (afterId) {
    var stream = this;
    var collected = [];
    function page(url) {
      return stream
        .fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) {
          if (!response.ok) throw new Error("GET " + url + " answered " + response.status);
          return response.json();
        })
        .then(function (body) {
          collected = collected.concat(body.results);
          return body.next ? page(body.next) : collected;
        });
    }
    return page(stream.apiUrl + "?after_id=" + afterId + "&page_size=" + REFILL_PAGE_SIZE).then(function (events) {
      return events.sort(function (a, b) {
        return a.id - b.id;
      });
    });
  };

  EventStream.prototype.refillAfter = function (afterId) {
    var stream = this;
    if (stream.refill !== null) return stream.refill;
    stream.refill = stream
      .fetchAfter(afterId)
      .then(function (events) {
        events.forEach(function (event) {
          stream.deliver(event);
        });
      })
      .catch(function (error) {
        if (root.console) root.console.warn("event refill failed; retrying later", error);
      })
      .then(function () {
        var held = stream.held.sort(function (a, b) {
          return a.id - b.id;
        });
        stream.held = [];
        stream.refill = null;
        var holes = [];
        held.forEach(function (event) {
          for (var id = stream.highest + 1; id < event.id && holes.length < 1000; id++) holes.push(id);
          stream.deliver(event);
        });
        if (holes.length) {
          // Committed late, or never (rolled back): ask once more, then let them be.
          root.setTimeout(function () {
            if (stream.refill === null) stream.fetchAfter(holes[0] - 1).then(function (late) {
              late.forEach(function (event) {
                if (event.id <= stream.highest) stream.deliver(event);
              });
            }).catch(function () {});
          }, RECHECK_HOLES_MS);
        }
      });
    return stream.refill;
  };

  // Resolves once no refill is running (tests, and pages that wait for a consistent view).
  EventStream.prototype.idle = function () {
    var stream = this;
    return stream.refill === null ? Promise.resolve() : stream.refill.then(function () {
      return stream.idle();
    });
  };

  function startEventStream(options) {
    options = options || {};
    var onEvent = options.onEvent;
    options.onEvent = function (event) {
      if (onEvent) onEvent(event);
      if (root.document) root.document.dispatchEvent(new root.CustomEvent("audit:event", { detail: event }));
    };
    return new EventStream(options).start();
  }

  root.ProviderConsole = root.ProviderConsole || {};
  root.ProviderConsole.EventStream = EventStream;
  root.ProviderConsole.startEventStream = startEventStream;
})(typeof window !== "undefined" ? window : globalThis);
