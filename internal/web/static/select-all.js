// Review Unpublished Credentials: the "select the N on this page" checkbox,
// shown only when this script runs (without it, rows are ticked one by one).
(function(){
  var all=document.getElementById('select-all');
  if(!all)return;
  var row=document.getElementById('select-page');
  if(row)row.hidden=false;
  all.hidden=false;
  var boxes=function(){return document.querySelectorAll('input.select-one')};
  all.addEventListener('change',function(){boxes().forEach(function(b){b.checked=all.checked})});
  document.addEventListener('change',function(ev){
    if(!ev.target.classList||!ev.target.classList.contains('select-one'))return;
    var bs=boxes(), n=0; bs.forEach(function(b){if(b.checked)n++});
    all.checked=n===bs.length; all.indeterminate=n>0&&n<bs.length;
  });
})();
