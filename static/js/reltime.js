/*
 * Relative times ("checked 12 s ago") on every console page (loaded from templates/base.html).
 * The server draws `<time datetime="…" title="exact UTC" data-relative data-prefix="checked">`
 * (console/templatetags/reltime.py) with the text right at that moment; this recomputes the
 * text of every such element each second, with the same words: "just now", "12 s ago",
 * "3 min ago", "2 h ago", "4 d ago", "in 5 s" ahead, by this browser's clock. Elements added
 * later (a refreshed list) are picked up on the next tick; `ProviderConsole.reltime.refresh()`
 * updates at once.
 */
(function (root) {
  "use strict";

  var doc = root.document;
  var UNITS = [[86400, "d"], [3600, "h"], [60, "min"], [1, "s"]];

  function text(seconds) {
    var ahead = seconds < 0;
    var amount = Math.floor(Math.abs(seconds));
    if (amount < 1) return "just now";
    for (var i = 0; i < UNITS.length; i++) {
      if (amount >= UNITS[i][0]) {
        var count = Math.floor(amount / UNITS[i][0]);
        return ahead ? "in " + count + " " + UNITS[i][1] : count + " " + UNITS[i][1] + " ago";
      }
    }
    return "just now";
  }

  function refresh(scope) {
    var now = Date.now();
    var nodes = (scope || doc).querySelectorAll("time[data-relative]");
    for (var i = 0; i < nodes.length; i++) {
      var moment = Date.parse(nodes[i].getAttribute("datetime"));
      if (isNaN(moment)) continue;
      var prefix = nodes[i].getAttribute("data-prefix") || "";
      var words = text((now - moment) / 1000);
      var wanted = prefix ? prefix + " " + words : words;
      if (nodes[i].textContent !== wanted) nodes[i].textContent = wanted;
    }
  }

  root.ProviderConsole = root.ProviderConsole || {};
  root.ProviderConsole.reltime = { text: text, refresh: refresh };
  if (doc.readyState === "loading") doc.addEventListener("DOMContentLoaded", function () { refresh(); });
  else refresh();
  root.setInterval(refresh, 1000);
})(window);
