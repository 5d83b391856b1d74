// Refused launch without cookies or platform storage (lti_refused.html): the
// link #lti-new-window re-runs the login in a new top-level window, where
// Laurel's cookie is first-party. The link works without script (target
// _blank); the script only tells the person where to continue.
(function () {
  var a = document.getElementById("lti-new-window");
  var status = document.getElementById("lti-new-window-status");
  if (!a || !status) { return; }
  a.addEventListener("click", function () {
    status.textContent = "Laurel opened in a new window or tab: continue there. You can close this frame's page afterwards.";
    status.hidden = false;
  });
})();
