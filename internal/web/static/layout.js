// On a narrow screen the layout lets each table scroll sideways inside
// itself rather than the page. A table that does scroll gets tabindex=0 so
// that keyboard users can reach and scroll it too (WCAG 2.1.1); one that
// fits loses the tabindex this script gave it.
(function () {
  "use strict";
  function update() {
    var tables = document.querySelectorAll("main table");
    for (var i = 0; i < tables.length; i++) {
      var t = tables[i];
      if (t.scrollWidth > t.clientWidth + 1) {
        if (!t.hasAttribute("tabindex")) {
          t.setAttribute("tabindex", "0");
          t.setAttribute("data-scroll-focus", "");
        }
      } else if (t.hasAttribute("data-scroll-focus")) {
        t.removeAttribute("tabindex");
        t.removeAttribute("data-scroll-focus");
      }
    }
  }
  var pending = false;
  function schedule() {
    if (pending) { return; }
    pending = true;
    window.requestAnimationFrame(function () { pending = false; update(); });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", update);
  } else {
    update();
  }
  window.addEventListener("resize", schedule);
})();

// On a phone the header's links fold behind a "Menu" button (a <details>,
// so it works without this script: then it starts open). Wide screens
// always show them.
(function () {
  "use strict";
  var menu = document.querySelector("details.site-menu");
  if (!menu || !window.matchMedia) { return; }
  var narrow = window.matchMedia("(max-width: 700px)");
  function fit() { menu.open = !narrow.matches; }
  fit();
  narrow.addEventListener("change", fit);
})();
