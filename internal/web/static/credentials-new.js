// Create Credentials: "Add Another Recipient" copies the last row without a round trip (the button still works as a form submit without script).
(function(){
  var btn=document.getElementById('add-recipient'), body=document.querySelector('#recipients tbody');
  if(!btn||!body)return;
  btn.addEventListener('click',function(ev){
    ev.preventDefault();
    var rows=body.querySelectorAll('tr.recipient-row'), last=rows[rows.length-1];
    var n=0; rows.forEach(function(r){var m=/^row_(\d+)$/.exec(r.id); if(m){n=Math.max(n,+m[1]+1)}});
    var row=last.cloneNode(true);
    row.id='row_'+n; row.classList.remove('row-error');
    row.querySelectorAll('input').forEach(function(el){
      el.name=el.name.replace(/_\d+$/,'_'+n); el.id=el.name;
      el.removeAttribute('aria-invalid'); el.removeAttribute('aria-describedby');
      el.setAttribute('aria-label', el.getAttribute('aria-label').replace(/row \d+$/,'row '+(n+1)));
      if(!/^issued_on_/.test(el.name)){el.value=''}
    });
    row.querySelectorAll('.field-error').forEach(function(e){e.remove()});
    body.appendChild(row);
    row.querySelector('input').focus();
  });
})();
