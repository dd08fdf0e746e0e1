import { formatSummary, type Sample, type Summary } from './stats.js';

// A page with nothing outside it: inline CSS and SVG, no scripts, fonts or images to fetch.

const OK_COLOUR = '#16a34a';
const FAIL_COLOURS = ['#dc2626', '#ea580c', '#9333ea', '#db2777', '#ca8a04', '#0891b2'];
const W = 880;
const H = 300;
const PAD = { left: 64, right: 16, top: 16, bottom: 40 };
const BINS = 24;

const esc = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** A round axis end: 1, 2 or 5 times a power of ten, at or above `value`. */
export function niceCeil(value: number): number {
  if (!(value > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 5, 10]) if (step * power >= value) return step * power;
  return 10 * power;
}

function colourOf(sample: Sample, codes: readonly string[]): string {
  return sample.ok ? OK_COLOUR : FAIL_COLOURS[codes.indexOf(sample.code ?? '') % FAIL_COLOURS.length]!;
}

function axes(xMax: number, yMax: number, xLabel: string, yLabel: string, yFormat: (v: number) => string): string {
  const parts: string[] = [];
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  for (let i = 0; i <= 5; i++) {
    const y = PAD.top + plotH - (i / 5) * plotH;
    const x = PAD.left + (i / 5) * plotW;
    parts.push(`<line x1="${PAD.left}" x2="${W - PAD.right}" y1="${y}" y2="${y}" class="grid"/>`);
    parts.push(`<text x="${PAD.left - 8}" y="${y + 4}" text-anchor="end">${esc(yFormat((i / 5) * yMax))}</text>`);
    parts.push(`<text x="${x}" y="${H - PAD.bottom + 18}" text-anchor="middle">${esc(formatNumber((i / 5) * xMax))}</text>`);
  }
  parts.push(`<text x="${PAD.left + plotW / 2}" y="${H - 4}" text-anchor="middle" class="label">${esc(xLabel)}</text>`);
  parts.push(`<text x="14" y="${PAD.top + plotH / 2}" text-anchor="middle" class="label" transform="rotate(-90 14 ${PAD.top + plotH / 2})">${esc(yLabel)}</text>`);
  return parts.join('');
}

const formatNumber = (v: number) => (v >= 100 || Number.isInteger(v) ? String(Math.round(v)) : v.toFixed(1));

/** Each request a dot: when it was sent (x) and how long it took (y), coloured by outcome. */
export function latencyChart(samples: readonly Sample[], codes: readonly string[]): string {
  const xMax = niceCeil(Math.max(1, ...samples.map((s) => s.startMs / 1000)));
  const yMax = niceCeil(Math.max(1, ...samples.map((s) => s.latencyMs)));
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const dots = samples.map((s) => {
    const x = PAD.left + (s.startMs / 1000 / xMax) * plotW;
    const y = PAD.top + plotH - (s.latencyMs / yMax) * plotH;
    const what = s.ok ? 'succeeded' : `failed: ${s.code}`;
    return `<circle cx="${x.toFixed(1)}" cy="${y.toFixed(1)}" r="3.5" fill="${colourOf(s, codes)}"><title>round ${s.round}, sent at ${(s.startMs / 1000).toFixed(2)} s, ${Math.round(s.latencyMs)} ms, ${esc(what)}</title></circle>`;
  });
  return `<svg viewBox="0 0 ${W} ${H}" role="img" aria-labelledby="chart1"><title id="chart1">Latency of each request over the run</title>${axes(xMax, yMax, 'sent at (s since start)', 'latency (ms)', formatNumber)}${dots.join('')}</svg>`;
}

/** How many requests took how long: succeeded stacked under failed, in BINS equal bins. */
export function histogram(samples: readonly Sample[]): string {
  const top = niceCeil(Math.max(1, ...samples.map((s) => s.latencyMs)));
  const ok = new Array<number>(BINS).fill(0);
  const bad = new Array<number>(BINS).fill(0);
  for (const s of samples) {
    const bin = Math.min(BINS - 1, Math.floor((s.latencyMs / top) * BINS));
    (s.ok ? ok : bad)[bin]! += 1;
  }
  // At least 5 so the count axis has whole-number ticks.
  const yMax = Math.max(5, niceCeil(Math.max(1, ...ok.map((n, i) => n + bad[i]!))));
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const barW = plotW / BINS;
  const bars: string[] = [];
  for (let i = 0; i < BINS; i++) {
    const x = PAD.left + i * barW + 1;
    const okH = (ok[i]! / yMax) * plotH;
    const badH = (bad[i]! / yMax) * plotH;
    const range = `${Math.round((i * top) / BINS)}–${Math.round(((i + 1) * top) / BINS)} ms`;
    if (ok[i]! > 0) bars.push(`<rect x="${x.toFixed(1)}" y="${(PAD.top + plotH - okH).toFixed(1)}" width="${(barW - 2).toFixed(1)}" height="${okH.toFixed(1)}" fill="${OK_COLOUR}"><title>${range}: ${ok[i]} succeeded</title></rect>`);
    if (bad[i]! > 0) bars.push(`<rect x="${x.toFixed(1)}" y="${(PAD.top + plotH - okH - badH).toFixed(1)}" width="${(barW - 2).toFixed(1)}" height="${badH.toFixed(1)}" fill="${FAIL_COLOURS[0]}"><title>${range}: ${bad[i]} failed</title></rect>`);
  }
  return `<svg viewBox="0 0 ${W} ${H}" role="img" aria-labelledby="chart2"><title id="chart2">Latency histogram</title>${axes(top, yMax, 'latency (ms)', 'requests', formatNumber)}${bars.join('')}</svg>`;
}

function legend(codes: readonly string[], summary: Summary): string {
  const item = (colour: string, text: string) => `<span><i style="background:${colour}"></i>${esc(text)}</span>`;
  return `<p class="legend">${item(OK_COLOUR, `succeeded (${summary.succeeded})`)}${codes.map((c, i) => item(FAIL_COLOURS[i % FAIL_COLOURS.length]!, `${c} (${summary.failed_by_code[c]})`)).join('')}</p>`;
}

/** The whole report page. */
export function renderReport(summary: Summary, samples: readonly Sample[], when: Date): string {
  const codes = Object.keys(summary.failed_by_code).sort();
  const table = formatSummary(summary).join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>cutout-load report: ${esc(summary.api)}, ${summary.sent} requests</title>
<style>
body{margin:0;font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#161a23;background:#f5f6fa}
main{max-width:960px;margin:0 auto;padding:1.5rem 1rem 3rem}
h1{font-size:1.6rem;margin:0 0 .25rem}h2{font-size:1.1rem;margin:2rem 0 .5rem}
.sub{color:#555d6e;margin:0 0 1rem}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(150px,1fr));gap:.75rem}
.card{background:#fff;border:1px solid #dde1ea;border-radius:12px;padding:.75rem 1rem}
.card b{display:block;font-size:1.4rem}.card span{color:#555d6e;font-size:.85rem}
figure{margin:0;background:#fff;border:1px solid #dde1ea;border-radius:12px;padding:.75rem}
svg{width:100%;height:auto;font-size:12px;fill:#555d6e}.grid{stroke:#e6e8ef}.label{fill:#161a23}
.legend{display:flex;flex-wrap:wrap;gap:1rem;margin:.5rem 0 0;font-size:.9rem}
.legend i{display:inline-block;width:.8rem;height:.8rem;border-radius:50%;margin-right:.35rem;vertical-align:-1px}
pre{background:#fff;border:1px solid #dde1ea;border-radius:12px;padding:1rem;overflow:auto;font-size:13px}
</style></head><body><main>
<h1>cutout-load: ${esc(summary.api)}</h1>
<p class="sub">${esc(when.toISOString())} · ${summary.mode === 'open' ? `open loop, ${summary.requests_per_round} every ${summary.interval_s} s for ${summary.rounds} rounds` : `closed loop, ${summary.requests_per_round} in parallel, ${summary.rounds} round(s)`}${summary.group === null ? '' : ` · ${summary.group} images per request`}</p>
<div class="cards">
<div class="card"><b>${summary.sent}</b><span>sent</span></div>
<div class="card"><b>${summary.succeeded}</b><span>succeeded</span></div>
<div class="card"><b>${summary.failed}</b><span>failed</span></div>
<div class="card"><b>${summary.latency_ms ? Math.round(summary.latency_ms.p50) : '-'} ms</b><span>p50 latency</span></div>
<div class="card"><b>${summary.latency_ms ? Math.round(summary.latency_ms.p95) : '-'} ms</b><span>p95 latency</span></div>
<div class="card"><b>${summary.throughput_rps.toFixed(2)}/s</b><span>throughput</span></div>
</div>
<h2>Latency over time</h2>
<figure>${latencyChart(samples, codes)}${legend(codes, summary)}</figure>
<h2>Latency histogram</h2>
<figure>${histogram(samples)}</figure>
<h2>Figures</h2>
<pre>${esc(table)}</pre>
</main></body></html>
`;
}
