// Registration link (lti_admin_platforms.html): select the one-time link's
// text when its field gets focus, so the owner can copy it at once.
(function () {
  var el = document.getElementById("new-registration-link");
  if (!el) { return; }
  el.addEventListener("focus", function () { el.select(); });
  el.focus();
})();
