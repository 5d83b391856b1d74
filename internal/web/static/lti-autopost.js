// Submits every form marked data-autosubmit (the deep-linking response back
// to the platform); <noscript> keeps a button for browsers without script.
(function () {
  var forms = document.querySelectorAll("form[data-autosubmit]");
  for (var i = 0; i < forms.length; i++) { forms[i].submit(); }
})();
