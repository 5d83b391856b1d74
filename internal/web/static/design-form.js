// Design form: the live preview. On every change the form as it stands is
// posted to the preview endpoint, which draws a sample credential through
// the credential's own template; the answer replaces the preview. An image
// or logo chosen but not saved yet comes back as a marker URL, replaced
// here by the file's data: URL before the fragment joins the page.
(function(){
  var form=document.getElementById('design-form');
  var box=document.getElementById('design-preview');
  if(!form||!box||!form.dataset.preview||!window.fetch)return;
  var markers={'/designs/preview/chosen-image':'image','/designs/preview/chosen-logo':'logo'};
  var timer=null, seq=0;
  function readFile(name){
    var input=form.querySelector('input[type=file][name='+name+']');
    var f=input&&input.files&&input.files[0];
    if(!f)return Promise.resolve('');
    return new Promise(function(resolve){
      var r=new FileReader();
      r.onload=function(){resolve(String(r.result||''))};
      r.onerror=function(){resolve('')};
      r.readAsDataURL(f);
    });
  }
  function redraw(){
    var mine=++seq;
    fetch(form.dataset.preview,{method:'POST',body:new FormData(form),credentials:'same-origin'})
      .then(function(resp){if(!resp.ok)throw new Error('preview '+resp.status);return resp.text()})
      .then(function(html){
        var t=document.createElement('template');
        t.innerHTML=html; // inert: nothing loads before the markers are replaced
        var imgs=t.content.querySelectorAll('img');
        return Promise.all([readFile('image'),readFile('logo')]).then(function(files){
          var data={image:files[0],logo:files[1]};
          imgs.forEach(function(img){
            var which=markers[img.getAttribute('src')];
            if(which){if(data[which])img.setAttribute('src',data[which]);else img.remove();}
          });
          return t;
        });
      })
      .then(function(t){
        if(mine!==seq)return; // a later change is already on its way
        box.replaceChildren(t.content);
        box.dataset.drawn=String(mine);
      })
      .catch(function(){ /* keep the last preview */ });
  }
  function later(){clearTimeout(timer);timer=setTimeout(redraw,200)}
  form.addEventListener('input',later);
  form.addEventListener('change',later);
})();
