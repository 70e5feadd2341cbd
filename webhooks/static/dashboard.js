// socialdesk's dashboard: reads dashboard/api/figures and draws it. Vanilla JS, inline SVG, nothing from
// another host (the bridge often runs without internet). Text is only ever set as textContent, never as HTML.
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const BUCKETS = ["<=15m", "<=1h", "<=4h", "<=24h", "more"];
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

// A proxy in front of the bridge may answer with an HTML page (a 502) or not at all: the status is shown then.
async function ask(path) {
  let answer;
  try {
    answer = await fetch(path, { headers: { Accept: "application/json" } });
  } catch (e) {
    return failed(`no answer from the bridge (${e.message})`);
  }
  const body = await answer.json().catch(() => null);
  if (!answer.ok || body === null) {
    const reason = body && body.error ? body.error : answer.statusText || "the answer is not JSON";
    return failed(`${answer.status}: ${reason}`);
  }
  return body;
}

function failed(text) {
  $("error").textContent = text;
  $("error").hidden = false;
  return null;
}

// The figures and the operational state are asked for in parallel: neither waits for the other.
async function load() {
  $("error").hidden = true;
  const [figures, state] = await Promise.all([ask(`dashboard/api/figures?${query()}`), ask("dashboard/api/status")]);
  if (state) operations(state);
  if (figures) draw(figures);
}

function draw(data) {
  const q = data.query;
  document.body.dataset.period = q.period;
  document.body.dataset.channel = q.channel;
  $("rule").textContent = `${q.label}, ${q.channel === "all" ? "all channels" : q.channel}. ${data.attribution} ` +
    `Business time by calendar: ${Object.entries(data.calendars).map(([c, cal]) => `${c} ${cal}`).join(", ") || "24/7"}.`;
  if (!$("tz").value) $("tz").placeholder = q.tz;
  channels(data.channels, q.channel);
  totals(data.total);
  const points = data.days.map((d) => ({ label: d.day, messages: d.messages, episodes: d.episodes,
    median: d.median_first_response, p90: d.p90_first_response }));
  volumeChart($("chart-volume"), points);
  responseChart($("chart-response"), points);
  const buckets = data.total.first_response.buckets;  // the JSON's keys come sorted by name: shown by time
  rows($("buckets"), ["first response", "episodes"], BUCKETS.map((name) => [name, buckets[name]]));
  rows($("by-channel"), ["channel", "episodes", "answered", "response rate", "median", "p90"],
    data.by_channel.map((c) => [c.name, c.episodes, c.answered, percent(c.response_rate),
      duration(c.first_response.median), duration(c.first_response.p90)]));
  rows($("sentiment"), ["sentiment", "messages"], Object.entries(data.total.sentiment));
  rows($("failures"), ["reason", "replies"], Object.entries(data.total.failures));
  badge(data.badges);
  const header = ["channel", "since", "waiting"].concat(data.text_shown ? ["last message"] : []);
  rows($("waiting"), header, data.waiting.map((w) =>
    [w.channel, w.since, duration(w.waiting_s)].concat(data.text_shown ? [w.text ?? "(removed)"] : [])));
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
    ["messages", t.messages], ["episodes", t.episodes], ["needing an answer", t.needing_answer],
    ["answered by a person", t.answered], ["response rate", percent(t.response_rate)],
    ["median first response", duration(t.first_response.median)], ["p90 first response", duration(t.first_response.p90)],
    ["median, business time", duration(t.first_response_business.median)],
    ["median response (per message)", duration(t.response.median)], ["median resolution", duration(t.resolution.median)],
    ["answered by a bot only", t.bot_only], ["handed off by a bot", t.handed_off],
    ["acknowledged", t.acknowledged], ["median ingest lag", duration(t.ingest_lag.median)],
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
  const y = frame(svg, max, (v) => (Number.isInteger(v) ? v : v.toFixed(1)));
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

function badge(list) {
  const box = $("badge");
  box.replaceChildren();
  if (!list.length) {
    box.append(el("p", { class: "note" }, "No Facebook page among the channels shown."));
    return;
  }
  const table = el("table");
  box.append(table);
  rows(table, ["page", "messages counted", "response rate", "median response", "with automated replies", "very responsive"],
    list.map((b) => [b.channel, b.counted, percent(b.response_rate), duration(b.median_response),
      `${percent(b.response_rate_with_automated)}, ${duration(b.median_response_with_automated)}`,
      b.very_responsive ? "likely" : "not by people's replies"]));
  box.append(el("p", { class: "note warn" }, `Last 7 days, by Facebook's rule (a message counts after 24 hours ` +
    `of silence). ${list[0].warning}`));
}

function operations(s) {
  document.body.dataset.status = String(Date.now());
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
