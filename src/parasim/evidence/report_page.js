const D=JSON.parse(document.getElementById('data').textContent);
const hue=i=>(i*137.508)%360;
const col=(i,c)=>`hsla(${hue(i).toFixed(1)},85%,62%,${(0.25+0.75*Math.max(0,Math.min(1,(c-D.highlight)/(1-D.highlight)))).toFixed(3)})`;
const heat=v=>{const t=Math.max(0,Math.min(1,v/1000));return `rgb(${Math.round(255-200*t)},${Math.round(255-150*t)},${Math.round(255-40*t)})`;};
const el=(tag,cls,text)=>{const e=document.createElement(tag);if(cls)e.className=cls;if(text!=null)e.textContent=text;return e;};
function side(text,spans,match,cos,isA,label){
  const box=el('div','side');box.appendChild(el('h3',null,label));let at=0;
  spans.forEach(([s,e],k)=>{
    if(s>at)box.appendChild(document.createTextNode(text.slice(at,s)));
    const m=el('mark','s',text.slice(s,e));m.dataset.i=k;m.dataset.match=match[k];m.dataset.cos=cos[k];
    const c=isA?k:match[k];
    if(match[k]>=0&&(isA||cos[k]>=D.highlight)){m.dataset.c=c;m.style.background=col(c,isA?1:cos[k]);}
    m.title=match[k]>=0?`best match: ${isA?'B':'A'}${match[k]+1}, cosine ${cos[k].toFixed(3)}`:'no sentence on the other side';
    box.appendChild(m);at=e;});
  if(at<text.length)box.appendChild(document.createTextNode(text.slice(at)));return box;}
function card(p){
  const c=el('section','pair');c.dataset.i=p.i;
  const h=el('div','head');h.appendChild(el('span','name',p.name));
  h.appendChild(el('span','score',`SE-F1 ${p.f1.toFixed(4)} (P ${p.p.toFixed(3)}, R ${p.r.toFixed(3)})`));
  if(p.prob!=null)h.appendChild(el('span','score',`P(paraphrase) ${p.prob.toFixed(3)}`));
  if(p.dec!=null)h.appendChild(el('span','badge'+(p.dec?' yes':''),p.dec?'paraphrase':'below threshold'));
  const det=Object.entries(p.details).map(([k,v])=>`${k}: ${typeof v==='object'?JSON.stringify(v):v}`).join(' · ');
  if(det)h.appendChild(el('span','details',det));c.appendChild(h);
  const b=el('div','body');b.appendChild(side(p.ta,p.sa,p.ma,p.ca,true,'A'));b.appendChild(side(p.tb,p.sb,p.mb,p.cb,false,'B'));
  const g=el('div','heat');const m=p.sim.length?p.sim[0].length:0;g.style.gridTemplateColumns=`repeat(${m},14px)`;
  p.sim.forEach((row,i)=>row.forEach((v,j)=>{const d=el('div',p.ma[i]===j?'best':null);d.style.background=heat(v);
    d.title=`A${i+1} × B${j+1}: ${(v/1000).toFixed(3)}`;g.appendChild(d);}));
  b.appendChild(g);c.appendChild(b);return c;}
const cards=new Map();const built=i=>{if(!cards.has(i))cards.set(i,card(D.pairs[i]));return cards.get(i);};
const order={'f1-desc':(a,b)=>b.f1-a.f1||a.i-b.i,'f1-asc':(a,b)=>a.f1-b.f1||a.i-b.i,
  'prob-desc':(a,b)=>(b.prob??b.f1)-(a.prob??a.f1)||a.i-b.i,'input':(a,b)=>a.i-b.i};
const PAGE=50;let list=[],next=0;const main=document.getElementById('pairs');const more=el('div',null,'');
function grow(){const frag=document.createDocumentFragment();const stop=Math.min(list.length,next+PAGE);
  for(;next<stop;next++)frag.appendChild(built(list[next].i));main.insertBefore(frag,more);
  document.body.dataset.rendered=next;}
const fill=()=>{while(next<list.length&&more.getBoundingClientRect().top<innerHeight+1500)grow();};
addEventListener('scroll',fill,{passive:true});addEventListener('resize',fill);
function show(){
  const lo=parseFloat(document.getElementById('min').value)||0,hi=parseFloat(document.getElementById('max').value);
  const only=document.getElementById('only').checked,q=document.getElementById('q').value.toLowerCase();
  list=D.pairs.filter(p=>p.f1>=lo&&p.f1<=(isNaN(hi)?1:hi)&&(!only||p.dec)&&
    (!q||(p.name+' '+p.ta+' '+p.tb).toLowerCase().includes(q))).sort(order[document.getElementById('sort').value]);
  main.replaceChildren(more);next=0;grow();fill();
  document.getElementById('count').textContent=`showing ${list.length} of ${D.pairs.length} pairs`;
  document.body.dataset.shown=list.length;}
document.getElementById('title').textContent=D.title;
document.getElementById('meta').textContent=Object.entries(D.meta).map(([k,v])=>`${k}: ${v}`).join(' · ');
document.getElementById('hl').textContent=D.highlight;
for(const id of ['sort','min','max','only','q'])document.getElementById(id).addEventListener('input',show);
show();document.body.dataset.ready='1';
