// socialdesk's dashboard: reads dashboard/api/figures and draws it. Vanilla JS, inline SVG, nothing from
// another host (the bridge often runs without internet). Text is only ever set as textContent, never as HTML.
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const $ = (id) => document.getElementById(id);

function el(tag, attrs, text) {
  const node = tag.startsWith("svg:") ? document.createElementNS(SVG, tag.slice(4)) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

function duration(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  if (seconds < 90) return `${Math.round(seconds)} s`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
  if (seconds < 172800) return `${(seconds / 3600).toFixed(1)} h`;
  return `${(seconds / 86400).toFixed(1)} d`;
}

function percent(share) {
  return share === null || share === undefined ? "–" : `${(100 * share).toFixed(1)} %`;
}

function rows(table, header, lines) {
  table.replaceChildren();
  const head = el("tr");
  header.forEach((h) => head.append(el("th", {}, h)));
  table.append(head);
  lines.forEach((cells) => {
    const tr = el("tr");
    cells.forEach((c) => tr.append(el("td", {}, c)));
    table.append(tr);
  });
  if (!lines.length) {
    const tr = el("tr");
    tr.append(el("td", { colspan: header.length }, "nothing"));
    table.append(tr);
  }
}

function query() {
  const chosen = $("period").value;
  const params = new URLSearchParams({
    period: chosen === "custom" ? $("period-custom").value.trim() : chosen,
    channel: $("channel").value,
  });
  if ($("tz").value.trim()) params.set("tz", $("tz").value.trim());
  return params;
}

async function load() {
  const answer = await fetch(`dashboard/api/figures?${query()}`, { headers: { Accept: "application/json" } });
  const body = await answer.json();
  if (!answer.ok) {
    $("error").textContent = `${answer.status}: ${body.error}`;
    $("error").hidden = false;
    return;
  }
  $("error").hidden = true;
  draw(body);
}

function draw(data) {
  const q = data.query;
  document.body.dataset.period = q.period;
  document.body.dataset.channel = q.channel;
  $("rule").textContent = `${q.start} to ${q.end} (${q.tz}), ${q.channel === "all" ? "all channels" : q.channel}. ` +
    data.attribution;
  if (!$("tz").value) $("tz").placeholder = q.tz;
  channels(data.channels, q.channel);
  totals(data.totals);
  volumeChart($("chart-volume"), data.series.points);
  responseChart($("chart-response"), data.series.points);
  rows($("buckets"), ["first response", "episodes"], Object.entries(data.totals.buckets));
  rows($("by-channel"), ["channel", "episodes", "answered", "median", "p90"],
    data.by_channel.map((c) => [c.channel, c.episodes, c.answered, duration(c.median), duration(c.p90)]));
  badge(data.badge);
  const header = ["channel", "since", "waiting"].concat(data.text_shown ? ["last message"] : []);
  rows($("waiting"), header, data.waiting.map((w) =>
    [w.channel, w.since, duration(w.waiting_s)].concat(data.text_shown ? [w.text ?? "(removed)"] : [])));
  operations(data.status);
  document.body.dataset.loaded = String(Date.now());
}

function channels(list, chosen) {
  const select = $("channel");
  if (select.options.length === 1) {
    list.forEach((c) => select.append(el("option", { value: c.name }, `${c.name} (${c.platform})`)));
  }
  select.value = chosen;
}

function totals(t) {
  const cards = [
    ["episodes", t.episodes], ["messages", t.messages], ["answered by a person", t.answered],
    ["response rate", percent(t.response_rate)], ["median first response", duration(t.median)],
    ["p90 first response", duration(t.p90)],
  ];
  $("totals").replaceChildren(...cards.map(([name, value]) => {
    const card = el("div", { class: "card", "data-figure": name });
    card.append(el("b", {}, value), el("span", {}, name));
    return card;
  }));
}

const W = 1000, H = 220, PAD = { left: 56, right: 12, top: 12, bottom: 36 };

function frame(svg, max, label) {
  svg.replaceChildren();
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
  const y = (v) => H - PAD.bottom - (max ? (v / max) * (H - PAD.top - PAD.bottom) : 0);
  for (const share of [0, 0.5, 1]) {
    svg.append(el("svg:line", { class: "axis", x1: PAD.left, x2: W - PAD.right, y1: y(share * max), y2: y(share * max) }));
    svg.append(el("svg:text", { x: 4, y: y(share * max) + 3 }, label(share * max)));
  }
  return y;
}

function xLabels(svg, points, x) {
  const every = Math.max(1, Math.ceil(points.length / 12));
  points.forEach((p, i) => {
    if (i % every === 0) svg.append(el("svg:text", { x: x(i), y: H - PAD.bottom + 14 }, p.label));
  });
}

function volumeChart(svg, points) {
  const max = Math.max(1, ...points.map((p) => p.messages));
  const y = frame(svg, max, (v) => Math.round(v));
  const slot = (W - PAD.left - PAD.right) / Math.max(1, points.length);
  const x = (i) => PAD.left + i * slot;
  points.forEach((p, i) => {
    for (const [kind, value, offset] of [["messages", p.messages, 0.1], ["episodes", p.episodes, 0.45]]) {
      const top = y(value);
      const bar = el("svg:rect", { class: `bar-${kind}`, x: x(i) + offset * slot, width: slot * 0.35,
        y: top, height: H - PAD.bottom - top, "data-label": p.label, "data-value": value });
      bar.append(el("svg:title", {}, `${p.label}: ${value} ${kind}`));
      svg.append(bar);
    }
  });
  xLabels(svg, points, x);
}

function responseChart(svg, points) {
  const max = Math.max(60, ...points.map((p) => p.p90 ?? 0));
  const y = frame(svg, max, duration);
  const slot = (W - PAD.left - PAD.right) / Math.max(1, points.length);
  const x = (i) => PAD.left + (i + 0.5) * slot;
  for (const key of ["median", "p90"]) {
    const known = points.map((p, i) => [i, p[key], p.label]).filter(([, v]) => v !== null);
    if (known.length > 1) {
      svg.append(el("svg:polyline", { class: `line-${key}`, points: known.map(([i, v]) => `${x(i)},${y(v)}`).join(" ") }));
    }
    known.forEach(([i, v, label]) => {
      const dot = el("svg:circle", { class: `dot-${key}`, cx: x(i), cy: y(v), r: 3, "data-label": label, "data-value": v });
      dot.append(el("svg:title", {}, `${label}: ${key} ${duration(v)}`));
      svg.append(dot);
    });
  }
  xLabels(svg, points, x);
}

function badge(b) {
  const box = $("badge");
  box.replaceChildren();
  if (!b) {
    box.append(el("p", { class: "note" }, "Not computed by this version of the bridge yet."));
    return;
  }
  rows(box.appendChild(el("table")), ["page", "response rate", "median first response", "badge"],
    b.pages.map((p) => [p.channel, percent(p.response_rate), duration(p.median), p.eligible ? "likely" : "not now"]));
  box.append(el("p", { class: "note warn" }, b.warning));
}

function operations(s) {
  const lines = [];
  for (const table of ["inbox", "ticket_events"]) {
    const age = s[table].oldest_pending_age_s;
    lines.push([`queue ${table}`, `${s[table].pending} waiting` + (age === null ? "" : `, the oldest for ${duration(age)}`) +
      (s[table].retrying ? `, ${s[table].retrying} being retried` : "")]);
  }
  const deliveries = Object.entries(s.deliveries.counts).map(([k, v]) => `${k}=${v}`).join("  ");
  lines.push(["deliveries", deliveries || "none"]);
  lines.push(["dead letters", s.dead_letters ? `${s.dead_letters} open: socialdesk dead-letters` : "none"]);
  const paused = s.paused === null ? `unknown: ${s.paused_unknown}` :
    Object.entries(s.paused).map(([k, v]) => `${k} for ${duration(v)} more`).join(", ") || "nothing";
  lines.push(["paused", paused]);
  const ignored = Object.entries(s.ignored);
  lines.push(["ignored", ignored.length ? "by reason, last 24 h (all time):" : "nothing"]);
  ignored.forEach(([reason, n]) => lines.push(["", `${n.last_24h} (${n.total})  ${reason}`]));
  rows($("status"), ["", "state"], lines);
}

document.addEventListener("DOMContentLoaded", () => {
  $("period").addEventListener("change", () => {
    $("period-custom").hidden = $("period").value !== "custom";
    if ($("period").value !== "custom") load();
  });
  for (const id of ["period-custom", "channel", "tz"]) $(id).addEventListener("change", load);
  load();
});
