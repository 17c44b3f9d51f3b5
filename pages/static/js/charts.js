// Small SVG charts: grouped bars per hour (holds, sales, expiries) and a
// sparkline of a series. Each chart also has a text alternative (a table
// or an accessible name), so the figures are not only in the picture.
import { h, s } from "./ui.js";

/**
 * hourBars draws series ({key, label, cls}) of rows ([{hour, ...}]) as
 * grouped bars; the bars' patterns differ as well as their colours.
 */
export function hourBars(data, series, title) {
  const rows = lastHours(data, 12);
  const W = 640, H = 220, L = 36, B = 30, T = 10;
  const max = Math.max(1, ...rows.flatMap((r) => series.map((x) => r[x.key] || 0)));
  const slot = (W - L - 10) / Math.max(1, rows.length);
  const bar = Math.max(2, Math.min(18, (slot - 6) / series.length));
  const y = (v) => H - B - ((H - B - T) * v) / max;
  const parts = [s("title", {}, title), barPatterns(), s("line", { class: "axis", x1: L, y1: H - B, x2: W - 5, y2: H - B }),
    s("line", { class: "axis", x1: L, y1: T, x2: L, y2: H - B }),
    s("text", { x: L - 4, y: T + 8, "text-anchor": "end" }, String(max)), s("text", { x: L - 4, y: H - B, "text-anchor": "end" }, "0")];
  rows.forEach((r, i) => {
    const x0 = L + 4 + i * slot;
    series.forEach((x, j) => {
      const v = r[x.key] || 0;
      parts.push(s("rect", { class: x.cls, fill: `url(#bars-${x.cls})`, x: x0 + j * bar, y: y(v), width: bar - 1, height: H - B - y(v), "data-series": x.key },
        s("title", {}, `${x.label} ${hourLabel(r.hour)}: ${v}`)));
    });
    if (rows.length <= 12 || i % Math.ceil(rows.length / 12) === 0) {
      parts.push(s("text", { x: x0, y: H - B + 14 }, hourLabel(r.hour)));
    }
  });
  const svg = s("svg", { class: "chart", viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": title, "data-testid": "hour-chart" }, ...parts);
  const key = h("ul", { class: "legend" }, series.map((x) =>
    h("li", {}, s("svg", { viewBox: "0 0 10 10", width: 14, height: 14, "aria-hidden": "true", class: "chart" }, s("rect", { class: x.cls, fill: `url(#bars-${x.cls})`, width: 10, height: 10 })), x.label)));
  const table = h("table", { class: "sr-only" }, h("caption", {}, title),
    h("tr", {}, h("th", {}, "hour"), series.map((x) => h("th", {}, x.label))),
    rows.map((r) => h("tr", {}, h("td", {}, hourLabel(r.hour)), series.map((x) => h("td", {}, r[x.key] || 0)))));
  return h("figure", { style: "margin:0" }, svg, key, table);
}

/**
 * lastHours returns one row per hour for the n hours up to the latest of
 * now and the data's last hour; hours without data count zero.
 */
function lastHours(data, n) {
  const byHour = new Map(data.map((r) => [Date.parse(r.hour), r]));
  const hour = 3600e3;
  const last = Math.max(Math.floor(Date.now() / hour) * hour, ...byHour.keys());
  const rows = [];
  for (let t = last - (n - 1) * hour; t <= last; t += hour) rows.push(byHour.get(t) || { hour: new Date(t).toISOString() });
  return rows;
}

/** barPatterns tell the series apart without their colours: solid, striped, dotted. */
function barPatterns() {
  const p = (id, colour, extra) => s("pattern", { id, width: 6, height: 6, patternUnits: "userSpaceOnUse" }, s("rect", { width: 6, height: 6, fill: colour }), extra);
  return s("defs", {},
    p("bars-holds", "#e0a100", s("path", { d: "M0,6L6,0", stroke: "#fff", "stroke-width": 1.5 })),
    p("bars-sales", "#1d7a3e", null),
    p("bars-expiries", "#b3261e", s("circle", { cx: 3, cy: 3, r: 1.2, fill: "#fff" })));
}

function hourLabel(iso) {
  const d = new Date(iso);
  return `${String(d.getHours()).padStart(2, "0")}:00`;
}

/**
 * sparkline draws lines ({values, cls}) over the same time axis in a
 * small chart named label.
 */
export function sparkline(lines, label) {
  const W = 200, H = 48;
  const n = Math.max(2, ...lines.map((l) => l.values.length));
  const paths = lines.map((l) => {
    const max = Math.max(1, ...l.values);
    const d = l.values.map((v, i) => `${i ? "L" : "M"}${((W - 4) * i) / (n - 1) + 2},${H - 3 - ((H - 6) * v) / max}`).join("");
    return s("path", { class: `line ${l.cls}`, d: d || "M0,0" });
  });
  return s("svg", { class: "chart", viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: "img", "aria-label": label }, s("title", {}, label),
    s("line", { class: "axis", x1: 0, y1: H - 2, x2: W, y2: H - 2 }), ...paths);
}
