// kumahc operator pages: re-read the open page every second and swap its <main> in place, so ACKs, NACKs and
// reloads show without reloading the page. The pages work without this script.
"use strict";
(function () {
  const PERIOD_MS = 1000;
  const main = document.getElementById("live");
  if (!main || document.querySelector("form.login")) {
    return;
  }
  let busy = false;
  async function refresh() {
    if (busy) {
      return;
    }
    busy = true;
    try {
      const response = await fetch(window.location.href, {credentials: "same-origin", cache: "no-store",
                                                           redirect: "manual"});
      if (response.status !== 200) {
        return;
      }
      const next = new DOMParser().parseFromString(await response.text(), "text/html").getElementById("live");
      // Keep what the reader has open or is typing in.
      if (!next || next.innerHTML === main.innerHTML || main.contains(document.activeElement) &&
          document.activeElement.tagName === "INPUT") {
        return;
      }
      const open = new Set(Array.from(main.querySelectorAll("details[open]"), (d) => d.id));
      main.replaceChildren(...Array.from(next.childNodes, (n) => document.importNode(n, true)));
      for (const d of main.querySelectorAll("details")) {
        if (open.has(d.id)) {
          d.open = true;
        }
      }
    } catch (e) {
      // The server is restarting or gone: try again at the next tick.
    } finally {
      busy = false;
    }
  }
  window.setInterval(refresh, PERIOD_MS);
})();
