// Group form: "Add attribute" copies the last attribute row.
(function(){
  var btn=document.getElementById('add-attribute'), body=document.querySelector('#attributes tbody');
  if(!btn||!body)return;
  btn.hidden=false;
  btn.addEventListener('click',function(){
    var rows=body.querySelectorAll('tr.attr-row'), last=rows[rows.length-1], n=rows.length;
    var row=last.cloneNode(true);
    row.querySelectorAll('input,select').forEach(function(el){
      el.name=el.name.replace(/_\d+$/,'_'+n); el.id=el.name;
      el.removeAttribute('aria-invalid'); el.removeAttribute('aria-describedby');
      if(el.type==='checkbox'){el.checked=false}else if(el.tagName==='SELECT'){el.selectedIndex=0;if(el.dataset.default)el.value=el.dataset.default}else{el.value=''}
    });
    row.querySelectorAll('.field-error').forEach(function(e){e.remove()});
    body.appendChild(row);
    row.querySelector('select,input').focus();
  });
})();
