// The console's evidence check: the browser hashes the chosen (or dropped) file
// with WebCrypto SHA-256 and compares it with the report's evidence digest.
// Nothing is uploaded: the file never leaves the page. The words come from the
// page (data-* attributes), so they are in the staff member's language.
(function () {
  "use strict";

  function b64url(bytes) {
    let text = "";
    for (const b of new Uint8Array(bytes)) {
      text += String.fromCharCode(b);
    }
    return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function start() {
    const box = document.getElementById("evidence-check");
    const input = document.getElementById("evidence-file");
    const result = document.getElementById("check-result");
    const shown = document.getElementById("check-digest");
    if (!box || !input || !result || !shown) {
      return;
    }
    const expected = box.dataset.expected || "";

    async function check(file) {
      result.className = "check-result";
      result.textContent = result.dataset.working;
      shown.textContent = "";
      try {
        const digest = b64url(await crypto.subtle.digest("SHA-256", await file.arrayBuffer()));
        const same = digest === expected;
        result.className = "check-result " + (same ? "check-match" : "check-mismatch");
        result.textContent = same ? result.dataset.match : result.dataset.mismatch;
        shown.textContent = result.dataset.computed + " " + digest;
        box.dataset.outcome = same ? "match" : "mismatch";
      } catch (error) {
        result.className = "check-result check-mismatch";
        result.textContent = result.dataset.failed;
        box.dataset.outcome = "failed";
      }
    }

    input.addEventListener("change", function () {
      if (input.files && input.files.length > 0) {
        check(input.files[0]);
      }
    });
    box.addEventListener("dragover", function (event) {
      event.preventDefault();
    });
    box.addEventListener("drop", function (event) {
      event.preventDefault();
      const files = event.dataTransfer ? event.dataTransfer.files : null;
      if (files && files.length > 0) {
        check(files[0]);
      }
    });
    // A file chosen while this script was still loading is checked now.
    if (input.files && input.files.length > 0) {
      check(input.files[0]);
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
