// The webhook secret panel (templates/alerts/_secret_panel.html): "Generate" fills the value
// field with 32 random bytes (hex) from the browser's cryptographic generator and shows them
// once, so the operator can copy the value to the receiver before saving it. Nothing is sent
// anywhere until the form is submitted; the server never renders the value back.
(function () {
  "use strict";

  function randomHex(bytes) {
    const values = new Uint8Array(bytes);
    window.crypto.getRandomValues(values);
    return Array.from(values, function (b) { return b.toString(16).padStart(2, "0"); }).join("");
  }

  document.addEventListener("DOMContentLoaded", function () {
    if (!window.crypto || !window.crypto.getRandomValues) return;
    document.querySelectorAll("[data-generate-secret]").forEach(function (button) {
      const input = document.getElementById(button.getAttribute("data-generate-secret"));
      if (!input || input.disabled || button.closest("fieldset:disabled")) return;
      button.hidden = false;
      button.addEventListener("click", function () {
        input.type = "text";
        input.value = randomHex(32);
        input.focus();
        input.select();
        const note = button.closest("form").querySelector("[data-generated-note]");
        if (note) note.hidden = false;
      });
    });
  });
})();
