"""Prints the README's performance table from bench result files (results-*.json),
the range over the files given: python3 bench/table.py results-A.json results-B.json"""
import json,sys
runs=[json.load(open(f))['workloads'] for f in sys.argv[1:]]
def rng(key,f):
    vals=[f(r[key]) for r in runs if key in r]
    lo,hi=min(vals),max(vals)
    return vals,lo,hi
def ratio(k): 
    v,lo,hi=rng(k,lambda w:w['ratio']); return (f"{lo:.2f}×" if lo==hi or f"{lo:.2f}"==f"{hi:.2f}" else f"{lo:.2f}–{hi:.2f}×"),hi
def ms(k):
    v,lo,hi=rng(k,lambda w:w['pytopus']['median_ms'])
    return (f"{lo:.1f} ms" if f"{lo:.1f}"==f"{hi:.1f}" else f"{lo:.1f}–{hi:.1f} ms"),hi
def rss(k):
    v,lo,hi=rng(k,lambda w:w['rss_pytopus_kib']/1024)
    return (f"{lo:.1f} MiB" if f"{lo:.1f}"==f"{hi:.1f}" else f"{lo:.1f}–{hi:.1f} MiB"),hi
rows=[]
def row(name,val,target,ok): rows.append(f"| {name} | {val} | {target} | {'met' if ok else '**missed**'} |")
for k,name,t in [("one_h2","one request, HTTPS (HTTP/2)",1.5),("seq1000_h1","1000 sequential templated steps, HTTPS/1.1",1.2),("seq1000_h2","1000 sequential templated steps, HTTPS/2",1.2),("fanout_h1","10,000 `for_each` items, 64 in flight, HTTPS/1.1",1.25),("fanout_h2","10,000 `for_each` items, 64 in flight, HTTPS/2",1.25),("one","one request, HTTP",1.5),("seq1000","1000 sequential templated steps, HTTP",1.2),("seq10000","10,000 sequential templated steps, HTTP",1.2),("fanout","10,000 `for_each` items, 64 in flight, HTTP",1.25)]:
    v,hi=ratio(k); row(name,v+" the floor's time",f"≤ {t}×",hi<=t)
v,hi=ms("version"); row("`--version`",v,"≤ 3 ms",hi<=3)
v,hi=ms("validate50"); row("`validate` of 50 steps",v,"≤ 5 ms",hi<=5)
v,hi=rss("seq1000"); row("peak memory, 1000-step chain",v,"≤ 15 MiB",hi<=15)
vals=[r['big']['rss_pytopus_kib']/r['big']['rss_floor_kib'] for r in runs]; row("100 MB JSON body into memory, peak memory",(f"{min(vals):.2f}" if f"{min(vals):.2f}"==f"{max(vals):.2f}" else f"{min(vals):.2f}–{max(vals):.2f}")+"× the floor's","≤ 1.2×",max(vals)<=1.2)
v,hi=rss("save"); row("the same body with `save_to`, peak memory",v,"≤ 20 MiB",hi<=20)
r10=[r['seq10000']['pytopus']['median_ms']/r['seq1000']['pytopus']['median_ms'] for r in runs]; row("10,000-step chain ÷ 1000-step chain",(f"{min(r10):.2f}" if f"{min(r10):.2f}"==f"{max(r10):.2f}" else f"{min(r10):.2f}–{max(r10):.2f}")+"×","≤ 10.5×",max(r10)<=10.5)
print("| workload | pytopus | target | |\n| --- | --- | --- | --- |"); print("\n".join(rows))
