// Dynamic Registration done (lti_registered.html): tell the platform's
// window to close the registration dialog.
(function () {
  var w = window.opener || window.parent;
  if (w && w !== window) { w.postMessage({ subject: "org.imsglobal.lti.close" }, "*"); }
})();
