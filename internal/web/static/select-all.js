// Review Unpublished Credentials: the "select all on this page" checkbox.
(function(){
  var all=document.getElementById('select-all');
  if(!all)return;
  all.hidden=false;
  var boxes=function(){return document.querySelectorAll('input.select-one')};
  all.addEventListener('change',function(){boxes().forEach(function(b){b.checked=all.checked})});
  document.addEventListener('change',function(ev){
    if(!ev.target.classList||!ev.target.classList.contains('select-one'))return;
    var bs=boxes(), n=0; bs.forEach(function(b){if(b.checked)n++});
    all.checked=n===bs.length; all.indeterminate=n>0&&n<bs.length;
  });
})();
