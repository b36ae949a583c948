/* The provider form: per-kind secret policy default, discovered models filling the model
   fields, and htmx answers with 412 shown in place. Configured by data- attributes only. */
(function () {
  "use strict";

  function policySelect() { return document.getElementById("id_secret_policy"); }

  // A select the operator changed keeps the operator's choice; until then it follows the kind.
  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target.id === "id_secret_policy" && event.isTrusted) {
      target.dataset.touched = "1";
    }
    if (target.id === "id_kind") {
      var select = policySelect();
      if (!select || select.dataset.touched) { return; }
      var defaults = JSON.parse(select.dataset.kindDefaults || "{}");
      if (defaults[target.value]) { select.value = defaults[target.value]; }
    }
  });

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-use-model]");
    if (!button) { return; }
    var model = button.dataset.model;
    var field;
    if (button.dataset.useModel === "default") {
      field = document.getElementById("id_default_model");
      field.value = model;
    } else {
      field = document.getElementById("id_fallback_models");
      var lines = field.value.split("\n").map(function (l) { return l.trim(); }).filter(Boolean);
      if (lines.indexOf(model) === -1) { lines.push(model); }
      field.value = lines.join("\n");
    }
    field.dispatchEvent(new Event("change", { bubbles: true }));
  });

  // A 412 (someone else saved first) carries the page showing theirs and yours: swap it in.
  function configure() {
    if (!window.htmx) { return; }
    window.htmx.config.responseHandling = [
      { code: "204", swap: false },
      { code: "[23]..", swap: true },
      { code: "412", swap: true, error: false },
      { code: "[45]..", swap: false, error: true },
    ];
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", configure);
  } else {
    configure();
  }
})();
