"""static/js/events.js in a real browser: gaps in event ids are refilled from the events API,
events are delivered once and in order, reconnects catch up, and a revoked socket stays closed.

The websocket and `fetch` are stand-ins played by the test (the server side has its own tests);
the script under test is the file the pages load.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser import browser_page, launched_browser

pytestmark = pytest.mark.browser

SCRIPT = Path(__file__).resolve().parent.parent / "static" / "js" / "events.js"

HARNESS = """
window.harness = (() => {
  const sockets = [];
  const calls = [];
  const committed = [];
  class FakeSocket {
    constructor(url) { this.url = url; sockets.push(this); }
    close() { this.closed = true; }
  }
  const fetch = async (url) => {
    calls.push(url);
    const after = Number(/after_id=(\\d+)/.exec(url)[1]);
    const results = committed.filter((e) => e.id > after).sort((a, b) => b.id - a.id);
    return { ok: true, status: 200, json: async () => ({ count: results.length, next: null, previous: null, results }) };
  };
  const event = (id) => ({ id, event: "provider.tested", provider_id: "p" + id, summary: "e" + id, payload: {}, masked: true });
  const commit = (...ids) => ids.map((id) => { const e = event(id); committed.push(e); return e; });
  const frame = (socket, data) => socket.onmessage({ data: JSON.stringify(data) });
  const tick = (ms = 0) => new Promise((resolve) => setTimeout(resolve, ms));
  return { sockets, calls, commit, frame, tick, FakeSocket, fetch };
})();
"""


@pytest.fixture(scope="module")
def browser():
    # One Chromium for the module: these pages load static scripts only, no Django in between.
    with launched_browser() as browser:
        yield browser


@pytest.fixture
def page(browser):
    with browser_page(browser=browser) as page:
        page.set_content("<!doctype html><title>events</title>")
        page.add_script_tag(path=str(SCRIPT))
        page.add_script_tag(content=HARNESS)
        yield page


def test_a_gap_is_refilled_and_everything_is_delivered_once_in_order(page):
    result = page.evaluate(
        """async () => {
          const h = window.harness, got = [];
          const stream = new ProviderConsole.EventStream({
            url: "ws://site/ws/events/", WebSocket: h.FakeSocket, fetch: h.fetch,
            onEvent: (e) => got.push(e.id), safetyRefillMs: 0,
          }).start();
          const ws = h.sockets[0];
          ws.onopen();
          h.frame(ws, { type: "hello", role: "viewer" });
          const [e1, e2, e3, e4, e5, e6] = h.commit(1, 2, 3, 4, 5, 6);
          h.frame(ws, { type: "event", event: e1 });
          h.frame(ws, { type: "event", event: e2 });
          h.frame(ws, { type: "events", events: [e5, e6] });   // 3 and 4 were lost
          h.frame(ws, { type: "event", event: e2 });            // a duplicate
          await stream.idle();
          const [e7] = h.commit(7);
          h.frame(ws, { type: "event", event: e7 });
          return { got, calls: h.calls };
        }"""
    )
    assert result["got"] == [1, 2, 3, 4, 5, 6, 7]
    assert result["calls"] == ["/api/events?after_id=2&page_size=1000"]


def test_a_reconnection_fetches_what_was_committed_meanwhile(page):
    result = page.evaluate(
        """async () => {
          const h = window.harness, got = [];
          const stream = new ProviderConsole.EventStream({
            url: "ws://site/ws/events/", WebSocket: h.FakeSocket, fetch: h.fetch,
            onEvent: (e) => got.push(e.id), safetyRefillMs: 0,
          }).start();
          let ws = h.sockets[0];
          ws.onopen();
          h.frame(ws, { type: "hello", role: "admin" });
          const [e1] = h.commit(1);
          h.frame(ws, { type: "event", event: e1 });
          ws.onclose({ code: 1006 });          // the server restarted
          h.commit(2, 3);                      // committed while nobody listened
          while (h.sockets.length < 2) await h.tick(50);
          ws = h.sockets[1];
          ws.onopen();
          h.frame(ws, { type: "hello", role: "admin" });
          await stream.idle();
          return { got, calls: h.calls };
        }"""
    )
    assert result["got"] == [1, 2, 3]
    assert result["calls"] == ["/api/events?after_id=1&page_size=1000"]


def test_a_revoked_socket_is_not_reopened(page):
    result = page.evaluate(
        """async () => {
          const h = window.harness;
          let ended = null;
          new ProviderConsole.EventStream({
            url: "ws://site/ws/events/", WebSocket: h.FakeSocket, fetch: h.fetch,
            onEvent: () => {}, onEnd: (why) => { ended = why; }, safetyRefillMs: 0,
          }).start();
          h.sockets[0].onopen();
          h.sockets[0].onclose({ code: 4403 });
          await h.tick(1500);
          return { sockets: h.sockets.length, ended };
        }"""
    )
    assert result == {"sockets": 1, "ended": {"revoked": True}}


def test_the_safety_refill_finds_a_lost_last_frame(page):
    result = page.evaluate(
        """async () => {
          const h = window.harness, got = [];
          const stream = new ProviderConsole.EventStream({
            url: "ws://site/ws/events/", WebSocket: h.FakeSocket, fetch: h.fetch,
            onEvent: (e) => got.push(e.id), safetyRefillMs: 200,
          }).start();
          const ws = h.sockets[0];
          ws.onopen();
          h.frame(ws, { type: "hello", role: "viewer" });
          const [e1] = h.commit(1, 2);           // the frame of 2 never arrives
          h.frame(ws, { type: "event", event: e1 });
          await h.tick(500);
          stream.stop();
          return got;
        }"""
    )
    assert result == [1, 2]
