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

// A page inside an LMS's frame (an LTI launch: only LTI pages may be framed)
// asks the platform to fit the frame to the page, on load and whenever the
// page's height changes: {"subject": "lti.frameResize", "height": N}, the
// message Canvas and Moodle listen for, as a JSON string (Canvas reads both
// forms; other listeners parse strings). Any origin: the message carries
// only a height, and the platform's origin is not known to the page.
(function () {
  "use strict";
  if (window.parent === window) { return; }
  var last = 0;
  function post() {
    var h = Math.ceil(document.documentElement.getBoundingClientRect().height);
    if (h <= 0 || h === last) { return; }
    last = h;
    window.parent.postMessage(JSON.stringify({ subject: "lti.frameResize", height: h }), "*");
  }
  var pending = false;
  function schedule() {
    if (pending) { return; }
    pending = true;
    window.requestAnimationFrame(function () { pending = false; post(); });
  }
  if (document.readyState === "complete") { post(); } else { window.addEventListener("load", post); }
  window.addEventListener("resize", schedule);
  if (window.ResizeObserver) { new ResizeObserver(schedule).observe(document.documentElement); }
})();
