// LTI login page (lti_login.html): stores the login's state and nonce in the
// platform's storage frame with lti.put_data (keys "state_<state>" and
// "nonce_<state>"), then goes to the platform's auth URL. Data comes from
// #lti-login's data-* attributes.
(function () {
  var el = document.getElementById("lti-login");
  if (!el) { return; }
  var d = el.dataset;
  var gone = false;
  function go() { if (!gone) { gone = true; window.location.replace(d.authUrl); } }
  if (window.parent === window) { go(); return; }
  var pending = {};
  window.addEventListener("message", function (ev) {
    var m = ev.data;
    if (!m || typeof m !== "object" || !m.message_id || !pending[m.message_id]) { return; }
    var p = pending[m.message_id];
    // Storage answers must come from the platform's OIDC origin; the
    // capabilities answer comes from the platform window, whose origin we
    // do not know in advance, and only tells us where to send.
    if (p.origin !== "*" && ev.origin !== p.origin) { return; }
    delete pending[m.message_id];
    p.cb(m);
  });
  function send(win, origin, msg, cb) {
    msg.message_id = "laurel-" + Math.random().toString(36).slice(2);
    pending[msg.message_id] = { origin: origin, cb: cb };
    try { win.postMessage(msg, origin); } catch (e) { go(); }
  }
  function frame(name) {
    try { if (name && window.parent.frames[name]) { return window.parent.frames[name]; } } catch (e) {}
    return window.parent;
  }
  var timer = setTimeout(go, 1500);
  send(window.parent, "*", { subject: "lti.capabilities" }, function (m) {
    var caps = m.supported_messages || [];
    var put = null;
    for (var i = 0; i < caps.length; i++) { if (caps[i].subject === "lti.put_data") { put = caps[i]; } }
    if (!put) { clearTimeout(timer); go(); return; }
    var target = frame(put.frame || d.target);
    var left = 2;
    function stored(r) { if (r.error) { clearTimeout(timer); go(); return; } if (--left === 0) { clearTimeout(timer); go(); } }
    send(target, d.origin, { subject: "lti.put_data", key: "state_" + d.state, value: d.state }, stored);
    send(target, d.origin, { subject: "lti.put_data", key: "nonce_" + d.state, value: d.nonce }, stored);
  });
})();
