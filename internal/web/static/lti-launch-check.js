// LTI launch check page (lti_launch_check.html): the state cookie did not
// survive, so read "state_<state>" and "nonce_<state>" back with
// lti.get_data from the platform's storage frame, fill #lti-launch-form and
// re-post it. Without an answer it re-posts with empty values and Laurel
// refuses the launch with a clear message.
(function () {
  var el = document.getElementById("lti-check");
  var form = document.getElementById("lti-launch-form");
  if (!el || !form) { return; }
  var d = el.dataset;
  var sent = false;
  function submit() { if (!sent) { sent = true; form.submit(); } }
  var target = window.parent;
  try { if (d.target && window.parent.frames[d.target]) { target = window.parent.frames[d.target]; } } catch (e) {}
  var pending = {};
  window.addEventListener("message", function (ev) {
    var m = ev.data;
    if (ev.origin !== d.origin || !m || typeof m !== "object" || !pending[m.message_id]) { return; }
    var cb = pending[m.message_id];
    delete pending[m.message_id];
    cb(m);
  });
  function get(key, field, done) {
    var id = "laurel-" + Math.random().toString(36).slice(2);
    pending[id] = function (m) { if (!m.error && typeof m.value === "string") { document.getElementById(field).value = m.value; } done(); };
    try { target.postMessage({ subject: "lti.get_data", key: key, message_id: id }, d.origin); } catch (e) { submit(); }
  }
  var timer = setTimeout(submit, 2000);
  var left = 2;
  function done() { if (--left === 0) { clearTimeout(timer); submit(); } }
  get("state_" + d.state, "lti-storage-state", done);
  get("nonce_" + d.state, "lti-storage-nonce", done);
})();
