// Platform form (lti_admin_platform_form.html): show the known Canvas
// endpoints as placeholders when the issuer is an Instructure-hosted one, so
// the owner sees what an empty field becomes.
(function () {
  var iss = document.getElementById("issuer");
  if (!iss) { return; }
  var known = {};
  document.querySelectorAll("tr.known-issuer").forEach(function (tr) { known[tr.dataset.issuer] = tr.dataset; });
  var fields = { auth_url: "authUrl", token_url: "tokenUrl", jwks_url: "jwksUrl" };
  function update() {
    var k = known[iss.value.trim().replace(/\/+$/, "")];
    Object.keys(fields).forEach(function (id) {
      var el = document.getElementById(id);
      if (!el) { return; }
      el.placeholder = k ? k[fields[id]] : "https://";
    });
  }
  iss.addEventListener("input", update);
  update();
})();
