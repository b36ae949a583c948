// The alert channel form (templates/alerts/channel_form.html): show the URL for a webhook or
// Slack channel and the recipients for an email channel, following the Kind select. Without
// this script both rows show, each with its help text saying which kind it is for.
(function () {
  "use strict";

  function follow(select) {
    const kind = select.value;
    document.querySelectorAll("[data-for-kinds]").forEach(function (row) {
      row.hidden = row.getAttribute("data-for-kinds").split(" ").indexOf(kind) === -1;
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    const select = document.querySelector("select[data-channel-kind]");
    if (!select) return;
    follow(select);
    select.addEventListener("change", function () { follow(select); });
  });
})();
