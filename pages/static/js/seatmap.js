// The seat map as SVG. A seat's state shows three ways, so that colour is
// never the only cue: its colour, its shape (available: circle; held:
// diamond, striped; sold: square with a cross; selected: circle with a
// tick) and its accessible name ("Row A seat 2, balcony: sold"). Seats are
// one tab stop per map: the arrow keys move between them, Enter or Space
// selects an available one.
import { h, s, money } from "./ui.js";

const R = 9; // seat radius
const STEP = 24; // distance between seats
const LEFT = 34; // room for row labels

export const STATES = {
  available: { label: "available", mark: "" },
  held: { label: "held by someone", mark: "" },
  sold: { label: "sold", mark: "x" },
  selected: { label: "selected by you", mark: "tick" },
};

/** seatKey names a seat: "section/row/seat". */
export const seatKey = (section, row, seat) => `${section}/${row}/${seat}`;

function shapePath(state, cx, cy) {
  switch (state) {
    case "held":
      return `M${cx},${cy - R - 1}L${cx + R + 1},${cy}L${cx},${cy + R + 1}L${cx - R - 1},${cy}Z`;
    case "sold":
      return `M${cx - R + 1},${cy - R + 1}h${2 * R - 2}v${2 * R - 2}h${-(2 * R - 2)}Z`;
    default:
      return `M${cx - R},${cy}a${R},${R} 0 1,0 ${2 * R},0a${R},${R} 0 1,0 ${-2 * R},0`;
  }
}

function markPath(state, cx, cy) {
  if (STATES[state].mark === "x") return `M${cx - 4},${cy - 4}L${cx + 4},${cy + 4}M${cx + 4},${cy - 4}L${cx - 4},${cy + 4}`;
  if (STATES[state].mark === "tick") return `M${cx - 4},${cy}L${cx - 1},${cy + 4}L${cx + 5},${cy - 4}`;
  return "";
}

/** patterns are the fills of held and sold seats. */
function patterns() {
  return s("defs", {},
    s("pattern", { id: "pattern-held", width: 5, height: 5, patternUnits: "userSpaceOnUse", patternTransform: "rotate(45)" },
      s("rect", { width: 5, height: 5, fill: "#e0a100" }), s("rect", { width: 2, height: 5, fill: "#fff6d6" })),
    s("pattern", { id: "pattern-sold", width: 4, height: 4, patternUnits: "userSpaceOnUse" },
      s("rect", { width: 4, height: 4, fill: "#6b7280" }), s("circle", { cx: 2, cy: 2, r: 0.8, fill: "#9ca3af" })));
}

/** legend is the key of the map: each state's shape and name. */
export function legend() {
  return h("ul", { class: "legend", "aria-label": "Seat states" },
    Object.entries(STATES).map(([state, st]) => h("li", {},
      s("svg", { viewBox: "0 0 24 24", "aria-hidden": "true", class: "seatmap" }, // the patterns are the map's
        s("g", { class: `seat ${state}` }, s("path", { class: "shape", d: shapePath(state, 12, 12) }),
          s("path", { class: "mark", d: markPath(state, 12, 12) }))),
      h("span", {}, st.label))));
}

/** SeatMap draws the seated sections of a show and keeps them current. */
export class SeatMap {
  /** opts: {onToggle(key, seat), title} */
  constructor(opts) {
    this.opts = opts;
    this.seats = new Map(); // key → {el, shape, mark, cx, cy, state, section, row, seat, price}
    this.order = []; // keys in reading order, for the arrow keys
    this.rows = []; // arrays of keys per row
    this.selected = new Set();
    this.el = s("svg", { class: "seatmap", role: "group", "aria-label": opts.title || "Seat map", "data-testid": "seatmap" });
    this.el.addEventListener("keydown", (ev) => this.key(ev));
  }

  /** draw lays out sections: [{name, price_cents, rows: [{label, seats: [{seat, state}]}]}]. */
  draw(sections) {
    const focused = document.activeElement && document.activeElement.dataset ? document.activeElement.dataset.key : null;
    this.seats.clear();
    this.order = [];
    this.rows = [];
    const widest = Math.max(4, ...sections.flatMap((sec) => sec.rows.map((r) => r.seats.length)));
    const width = LEFT + widest * STEP + 10;
    let y = 10;
    const parts = [patterns(), s("rect", { class: "stage", x: LEFT, y, width: widest * STEP - 4, height: 22, rx: 4 }),
      s("text", { x: LEFT + (widest * STEP) / 2, y: y + 15, "text-anchor": "middle" }, "stage")];
    y += 40;
    for (const sec of sections) {
      parts.push(s("text", { x: LEFT, y: y + 4, "font-weight": "700" }, `${sec.name} · ${money(sec.price_cents)}`));
      y += 18;
      for (const row of sec.rows) {
        parts.push(s("text", { x: 4, y: y + 4 }, row.label));
        const keys = [];
        row.seats.forEach((seat, i) => {
          const key = seatKey(sec.name, row.label, seat.seat);
          const cx = LEFT + i * STEP + R;
          parts.push(this.seat(key, sec, row.label, seat, cx, y));
          keys.push(key);
          this.order.push(key);
        });
        this.rows.push(keys);
        y += STEP;
      }
      y += 14;
    }
    this.el.setAttribute("viewBox", `0 0 ${width} ${y}`);
    this.el.style.maxWidth = `${Math.round(width * 1.6)}px`; // a small map is not blown up
    this.el.replaceChildren(...parts);
    const first = this.seats.get(focused) || this.seats.get(this.order[0]);
    if (first) first.el.setAttribute("tabindex", "0");
    if (focused && this.seats.has(focused)) this.seats.get(focused).el.focus();
  }

  seat(key, sec, row, seat, cx, cy) {
    const shape = s("path", { class: "shape" });
    const mark = s("path", { class: "mark" });
    const el = s("g", { class: "seat", role: "checkbox", tabindex: "-1", "data-key": key, "data-testid": "seat" }, shape, mark);
    const entry = { el, shape, mark, cx, cy, section: sec.name, row, seat: seat.seat, price: sec.price_cents, state: "" };
    this.seats.set(key, entry);
    el.addEventListener("click", () => this.toggle(key));
    this.paint(key, seat.state);
    return el;
  }

  /** setState changes one seat's state (from the stream or a reload). */
  setState(key, state) {
    const seat = this.seats.get(key);
    if (!seat || seat.state === state) return false;
    if (state !== "available") this.selected.delete(key);
    this.paint(key, state);
    return true;
  }

  paint(key, state) {
    const seat = this.seats.get(key);
    seat.state = state;
    const shown = this.selected.has(key) && state === "available" ? "selected" : state;
    const st = STATES[shown] || STATES.sold;
    seat.el.setAttribute("class", `seat ${shown}`);
    seat.el.dataset.state = shown;
    seat.el.setAttribute("aria-checked", shown === "selected" ? "true" : "false");
    seat.el.setAttribute("aria-disabled", state === "available" ? "false" : "true");
    seat.el.setAttribute("aria-label", `Row ${seat.row} seat ${seat.seat}, ${seat.section}, ${money(seat.price)}: ${st.label}`);
    seat.shape.setAttribute("d", shapePath(shown, seat.cx, seat.cy));
    seat.mark.setAttribute("d", markPath(shown, seat.cx, seat.cy));
  }

  toggle(key) {
    const seat = this.seats.get(key);
    if (!seat || seat.state !== "available") return;
    if (this.selected.has(key)) this.selected.delete(key);
    else this.selected.add(key);
    this.paint(key, seat.state);
    this.focus(key);
    this.opts.onToggle && this.opts.onToggle(key, seat);
  }

  clearSelection() {
    const keys = [...this.selected];
    this.selected.clear();
    for (const k of keys) if (this.seats.has(k)) this.paint(k, this.seats.get(k).state);
  }

  focus(key) {
    for (const seat of this.seats.values()) seat.el.setAttribute("tabindex", "-1");
    const seat = this.seats.get(key);
    seat.el.setAttribute("tabindex", "0");
    seat.el.focus();
  }

  key(ev) {
    const key = ev.target.dataset && ev.target.dataset.key;
    if (!key) return;
    if (ev.key === " " || ev.key === "Enter") {
      ev.preventDefault();
      this.toggle(key);
      return;
    }
    const r = this.rows.findIndex((row) => row.includes(key));
    const c = this.rows[r].indexOf(key);
    const moves = { ArrowLeft: [r, c - 1], ArrowRight: [r, c + 1], ArrowUp: [r - 1, c], ArrowDown: [r + 1, c],
      Home: [r, 0], End: [r, this.rows[r].length - 1] };
    const to = moves[ev.key];
    if (!to) return;
    ev.preventDefault();
    const row = this.rows[Math.max(0, Math.min(this.rows.length - 1, to[0]))];
    this.focus(row[Math.max(0, Math.min(row.length - 1, to[1]))]);
  }
}
