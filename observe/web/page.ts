/**
 * The console's page and style sheet, kept as strings so that `tsc` alone builds everything the package
 * serves. The page loads one ES module (`/js/web/client/main.js`) and nothing from outside hosts.
 */

export function consoleHtml(): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>actormq console</title>
<link rel="stylesheet" href="/console.css">
<link rel="icon" href="data:,">
</head>
<body>
<header class="top">
  <div class="brand">actormq <span>console</span></div>
  <div id="mode" class="badge">connecting</div>
  <div id="clock" class="clock"></div>
  <div class="spacer"></div>
  <div id="dropped" class="dropped" title="records lost on the way: sources' buffers and this browser's queue">Dropped: 0</div>
</header>
<section class="travel" id="travel">
  <label class="button" title="open a scenario trace (mq scenario run FILE --trace OUT)">Open trace<input id="trace-file" type="file" accept=".jsonl,.json,.ndjson,.trace,text/plain" hidden></label>
  <button id="tt-prev-state" title="previous state change" disabled><svg viewBox="0 0 16 16" width="12" height="12" aria-hidden="true"><path d="M2 2h2v12H2zM14 2v12L5 8z" fill="currentColor"/></svg></button>
  <button id="tt-prev" title="previous record" disabled><svg viewBox="0 0 16 16" width="12" height="12" aria-hidden="true"><path d="M12 2v12L3 8z" fill="currentColor"/></svg></button>
  <input id="tt-slider" type="range" min="0" max="0" value="0" step="1" disabled>
  <button id="tt-next" title="next record" disabled><svg viewBox="0 0 16 16" width="12" height="12" aria-hidden="true"><path d="M4 2v12l9-6z" fill="currentColor"/></svg></button>
  <button id="tt-next-state" title="next state change" disabled><svg viewBox="0 0 16 16" width="12" height="12" aria-hidden="true"><path d="M12 2h2v12h-2zM2 2v12l9-6z" fill="currentColor"/></svg></button>
  <form id="tt-goto-form" class="goto"><input id="tt-goto" type="text" placeholder="time (ms)" disabled size="12"></form>
  <div id="tt-time" class="tt-time">no trace open</div>
  <button id="tt-live" title="back to the live cluster" hidden>Live</button>
</section>
<main class="layout">
  <aside class="side">
    <div class="side-title">Actors</div>
    <div id="actor-list" class="actor-list"></div>
  </aside>
  <section class="content">
    <nav class="tabs" id="tabs">
      <button data-tab="charts" class="on">State charts</button>
      <button data-tab="brokers">Brokers</button>
      <button data-tab="topics">Topics</button>
      <button data-tab="groups">Consumer groups</button>
      <button data-tab="producers">Producers</button>
      <button data-tab="actors">All actors</button>
    </nav>
    <div id="pane-charts" class="pane on"><div id="charts" class="charts"></div><div id="charts-empty" class="empty">No actor selected.</div></div>
    <div id="pane-brokers" class="pane"></div>
    <div id="pane-topics" class="pane"></div>
    <div id="pane-groups" class="pane"></div>
    <div id="pane-producers" class="pane"></div>
    <div id="pane-actors" class="pane"></div>
  </section>
</main>
<div id="error" class="error" hidden></div>
<script type="module" src="/js/web/client/main.js"></script>
</body>
</html>
`;
}

export const CONSOLE_CSS = `
:root {
  --bg: #f5f6f8; --panel: #ffffff; --ink: #1d2330; --muted: #6b7385; --line: #dfe3ea;
  --accent: #2f6fed; --active: #e8f0ff; --active-line: #2f6fed; --live: #14a05b; --warn: #d9822b; --bad: #d64545;
  --state: #fbfcfd; --compound: #f3f5f9; --region: #eef2f8;
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; font-size: 13px; color: var(--ink);
}
* { box-sizing: border-box; }
[hidden] { display: none !important; }
body { margin: 0; background: var(--bg); height: 100vh; display: flex; flex-direction: column; }
.top { display: flex; align-items: center; gap: 14px; padding: 10px 18px; background: #1b2233; color: #e9edf5; }
.brand { font-weight: 700; font-size: 15px; letter-spacing: .2px; }
.brand span { font-weight: 400; color: #9aa6bd; }
.badge { padding: 2px 9px; border-radius: 10px; background: #39425a; font-size: 11px; text-transform: uppercase; letter-spacing: .6px; }
.badge.live { background: var(--live); color: #fff; }
.badge.trace { background: var(--warn); color: #fff; }
.clock { font-variant-numeric: tabular-nums; color: #c6cede; }
.spacer { flex: 1; }
.dropped { font-variant-numeric: tabular-nums; color: #c6cede; }
.dropped.some { color: #ffb86b; font-weight: 600; }
.travel { display: flex; align-items: center; gap: 8px; padding: 8px 18px; background: var(--panel); border-bottom: 1px solid var(--line); }
.travel button, .travel .button { display: inline-flex; align-items: center; gap: 4px; min-height: 26px; border: 1px solid var(--line); background: #fff; border-radius: 6px; padding: 4px 10px; cursor: pointer; font: inherit; color: var(--ink); }
.travel button:disabled { opacity: .4; cursor: default; }
.travel .button { background: var(--accent); color: #fff; border-color: var(--accent); }
#tt-slider { flex: 1; accent-color: var(--accent); }
.goto input { border: 1px solid var(--line); border-radius: 6px; padding: 4px 8px; font: inherit; }
.tt-time { min-width: 230px; font-variant-numeric: tabular-nums; color: var(--muted); }
.layout { flex: 1; display: flex; min-height: 0; }
.side { width: 270px; background: var(--panel); border-right: 1px solid var(--line); overflow: auto; }
.side-title { padding: 12px 14px 6px; font-size: 11px; text-transform: uppercase; letter-spacing: .7px; color: var(--muted); }
.source { padding: 8px 14px 2px; font-weight: 600; color: var(--muted); font-size: 11px; }
.role { padding: 6px 14px 2px; font-size: 11px; color: var(--muted); text-transform: capitalize; }
.actor-item { display: flex; align-items: center; gap: 8px; padding: 4px 14px 4px 20px; cursor: pointer; }
.actor-item:hover { background: #f0f3f8; }
.actor-item.selected { background: var(--active); }
.actor-item .name { flex: 1; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 12px; }
.pill { font-size: 11px; padding: 1px 7px; border-radius: 9px; background: #eef1f6; color: var(--muted); white-space: nowrap; }
.pill.active { background: #e3f6ec; color: #11804a; }
.pill.done, .pill.stopped { background: #eceef2; color: #7c8394; }
.pill.error { background: #fde8e8; color: var(--bad); }
.content { flex: 1; display: flex; flex-direction: column; min-width: 0; }
.tabs { display: flex; gap: 2px; padding: 8px 18px 0; border-bottom: 1px solid var(--line); background: var(--bg); }
.tabs button { border: 0; background: none; padding: 8px 14px; cursor: pointer; font: inherit; color: var(--muted); border-bottom: 2px solid transparent; }
.tabs button.on { color: var(--ink); border-bottom-color: var(--accent); font-weight: 600; }
.pane { display: none; overflow: auto; padding: 16px 18px; flex: 1; }
.pane.on { display: block; }
.charts { display: flex; flex-wrap: wrap; gap: 16px; align-items: flex-start; }
.empty { color: var(--muted); padding: 20px; }
.card { background: var(--panel); border: 1px solid var(--line); border-radius: 10px; box-shadow: 0 1px 2px rgba(20,30,50,.04); display: flex; flex-direction: column; max-width: 100%; }
.card-head { display: flex; align-items: center; gap: 10px; padding: 10px 14px; border-bottom: 1px solid var(--line); }
.card-head .addr { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-weight: 600; }
.card-head .sub { color: var(--muted); font-size: 12px; }
.card-body { display: flex; gap: 0; }
.chart { padding: 10px; overflow: auto; }
.events { width: 250px; border-left: 1px solid var(--line); padding: 8px 10px; max-height: 420px; overflow: auto; font-size: 12px; }
.events-title { font-size: 11px; text-transform: uppercase; letter-spacing: .6px; color: var(--muted); margin-bottom: 4px; }
.ev { display: grid; grid-template-columns: 84px 1fr; gap: 6px; padding: 2px 0; border-bottom: 1px dashed #eef0f4; }
.ev .t { color: var(--muted); font-variant-numeric: tabular-nums; }
.ev .n { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; word-break: break-all; }
.ev .s { grid-column: 2; color: var(--accent); }
svg text { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
.st rect { fill: var(--state); stroke: #aab3c5; stroke-width: 1.2; }
.st.compound > rect, .st.root > rect { fill: var(--compound); }
.st.parallel > rect { fill: var(--compound); stroke-dasharray: 0; }
.st.region > rect { fill: var(--region); stroke-dasharray: 5 4; }
.st.final > rect { stroke-width: 3; stroke: #8791a6; }
.st[data-active="true"] > rect { fill: var(--active); stroke: var(--active-line); stroke-width: 2.2; }
.st.atomic[data-active="true"] > rect, .st.final[data-active="true"] > rect { fill: var(--active-line); }
.st.atomic[data-active="true"] > text, .st.final[data-active="true"] > text { fill: #fff; font-weight: 600; }
.st text { font-size: 12px; fill: var(--ink); }
.st.compound > text, .st.parallel > text, .st.region > text, .st.root > text { font-size: 11px; font-weight: 600; fill: #4c5568; }
.initial { fill: #4c5568; }
.edge path { fill: none; stroke: #8f99ad; stroke-width: 1.3; }
.edge text { font-size: 10.5px; fill: #5c6578; }
.edge.hot path { stroke: var(--accent); stroke-width: 2; }
table.grid { border-collapse: collapse; width: 100%; background: var(--panel); border: 1px solid var(--line); border-radius: 8px; overflow: hidden; margin-bottom: 18px; }
table.grid th { text-align: left; font-size: 11px; text-transform: uppercase; letter-spacing: .5px; color: var(--muted); background: #f8f9fb; padding: 8px 10px; border-bottom: 1px solid var(--line); white-space: nowrap; }
table.grid td { padding: 7px 10px; border-bottom: 1px solid #eef0f4; font-variant-numeric: tabular-nums; white-space: nowrap; }
table.grid td.num { text-align: right; }
table.grid th.num { text-align: right; }
table.grid tr.sub td { background: #fbfcfd; color: #4c5568; }
h3 { margin: 6px 0 8px; font-size: 14px; }
.note { color: var(--muted); margin: 6px 0 14px; }
.error { position: fixed; bottom: 14px; right: 14px; background: #fff3f3; color: var(--bad); border: 1px solid #f3c2c2; padding: 10px 14px; border-radius: 8px; max-width: 520px; }
`;
