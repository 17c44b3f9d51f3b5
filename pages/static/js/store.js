// The storefront: the catalog (#/), a show with its live seat map
// (#/shows/ID), an order being held and paid (#/orders/ID) and the buyer's
// tickets (#/tickets). Routes are in the fragment, so the server serves
// one document.
import { get, post, session, allPages } from "./api.js";
import { h, announce, showStatus, money, when, renderWho, authForm, figures, badge } from "./ui.js";
import { SeatMap, legend, seatKey } from "./seatmap.js";
import { watch } from "./live.js";
import { qrImage } from "./qr.js";

const main = document.getElementById("main");
let stop = () => {}; // ends the current view's timers and streams

const routes = [
  [/^#\/shows\/([0-9a-f-]{36})$/, (id) => showView(id)],
  [/^#\/orders\/([0-9a-f-]{36})$/, (id) => orderView(id)],
  [/^#\/tickets$/, () => ticketsView()],
  [/^(#\/?)?$/, () => catalogView()],
];

function route() {
  stop();
  stop = () => {};
  const hash = location.hash;
  for (const a of document.querySelectorAll("header nav a")) {
    const href = a.getAttribute("href");
    const current = (href === "/#/tickets" && hash === "#/tickets") || (href === "/#/" && hash !== "#/tickets" && location.pathname === "/");
    if (current) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  for (const [re, view] of routes) {
    const m = hash.match(re);
    if (m) {
      view(...m.slice(1)).catch(fail);
      return;
    }
  }
  page("Not found", h("p", {}, "No such page. ", h("a", { href: "#/" }, "See the shows.")));
}

/** page replaces the main content and moves focus to its heading. */
function page(title, ...content) {
  document.title = `${title} · Tickets`;
  const heading = h("h1", { tabindex: "-1" }, title);
  main.replaceChildren(heading, ...content.flat().filter((c) => c));
  heading.focus({ preventScroll: true });
  return heading;
}

function fail(err) {
  const st = h("div", { class: "status" });
  showStatus(st, "error", err.message);
  main.append(st);
}

async function catalogView() {
  const shows = await allPages("/v1/shows?limit=100", {}, 5);
  const list = h("ul", { class: "catalog", "aria-label": "Shows on sale" });
  for (const show of shows) {
    const left = show.sections.reduce((n, sec) => n + sec.available, 0);
    const from = Math.min(...show.sections.map((sec) => sec.price_cents));
    list.append(h("li", { class: "card" }, h("a", { href: `#/shows/${show.id}`, "data-testid": "show-link" },
      h("h2", {}, show.title),
      h("p", { class: "muted" }, `${when(show.starts_at)} · ${show.venue}`),
      h("p", {}, show.status === "on_sale" ? `${left} left · from ${money(from)}` : badge(show.status)))));
  }
  page("Shows", shows.length ? list : h("p", {}, "Nothing on sale yet."));
}

/**
 * loadSeats reads the seats of every seated section of show, the sections
 * at once: [{name, price_cents, rows: [{label, seats: [{seat, state}]}]}].
 */
function loadSeats(id, show) {
  return Promise.all(show.sections.filter((sec) => sec.kind === "seated").map(async (sec) => {
    const rows = [];
    let cursor = "";
    for (let i = 0; i < 10; i++) {
      const q = `section=${encodeURIComponent(sec.name)}&limit=5000${cursor ? "&cursor=" + encodeURIComponent(cursor) : ""}`;
      const p = await get(`/v1/shows/${id}/seats?${q}`);
      for (const row of p.rows) { // a row may go on from one page to the next
        const last = rows[rows.length - 1];
        if (last && last.label === row.row) last.seats.push(...row.seats);
        else rows.push({ label: row.row, seats: [...row.seats] });
      }
      if (!p.next_cursor) break;
      cursor = p.next_cursor;
    }
    return { name: sec.name, price_cents: sec.price_cents, rows };
  }));
}

async function showView(id) {
  const show = await get(`/v1/shows/${id}`);
  const seated = await loadSeats(id, show);
  const view = new ShowPage(id, show);
  page(show.title, h("p", { class: "muted" }, `${when(show.starts_at)} · ${show.venue} · `, badge(show.status)), view.el);
  view.map.draw(seated);
  view.refreshSummary();
  stop = watch(id, {
    onSnapshot: (d) => view.snapshot(d), onChange: (d) => view.change(d), onReload: () => view.reload(),
    onMode: (m) => view.setMode(m),
  });
}

/** ShowPage is a show's seat map, standing sections and hold panel. */
class ShowPage {
  constructor(id, show) {
    this.id = id;
    this.show = show;
    this.summary = h("p", { id: "selection", "aria-live": "polite" });
    this.status = h("div", { class: "status" });
    this.mode = h("p", { class: "muted", "data-testid": "live-mode" }, "");
    this.map = new SeatMap({ title: `Seats of ${show.title}`, onToggle: () => this.refreshSummary() });
    this.ga = new StandingPanel(show.sections.filter((sec) => sec.kind !== "seated"), () => this.refreshSummary());
    this.holdButton = h("button", { type: "button", id: "hold", onclick: () => this.hold() }, "Hold");
    const seatedCount = show.sections.length - this.ga.sections.length;
    const account = session() ? null : authForm("buyer", () => { account.remove(); this.refreshSummary(); });
    this.el = h("div", { class: "grid two" },
      h("section", { class: "card", "aria-labelledby": "seats-title" },
        h("h2", { id: "seats-title" }, seatedCount ? "Pick your seats" : "Tickets"),
        seatedCount ? [legend(), h("p", { class: "muted" }, "Tab to the map, move with the arrow keys, Enter or Space picks a seat."), this.map.el] : null,
        this.ga.sections.length ? [h("h2", {}, "Standing"), this.ga.el] : null, this.mode),
      h("section", { class: "card", "aria-labelledby": "hold-title" },
        h("h2", { id: "hold-title" }, "Your selection"), this.summary, this.holdButton, this.status, account));
  }

  setMode(m) {
    this.mode.textContent = m === "live" ? "Updating live." : m === "polling" ? "Updating twice a second." : "Reconnecting…";
    this.mode.dataset.mode = m;
  }

  refreshSummary() {
    const seats = [...this.map.selected].map((k) => this.map.seats.get(k));
    const units = this.ga.chosen();
    const price = (name) => this.show.sections.find((x) => x.name === name).price_cents;
    const total = seats.reduce((t, st) => t + st.price, 0) + units.reduce((t, u) => t + u.quantity * price(u.section), 0);
    const parts = [];
    if (seats.length) parts.push(`${seats.length} seat${seats.length > 1 ? "s" : ""}: ${seats.map((st) => `${st.section} ${st.row}${st.seat}`).join(", ")}`);
    for (const u of units) parts.push(`${u.quantity} × ${u.section}`);
    this.summary.textContent = parts.length ? `Selected ${parts.join("; ")} — ${money(total)}` : "Nothing selected yet.";
    this.holdButton.disabled = !parts.length || this.show.status !== "on_sale";
    this.holdButton.textContent = parts.length ? `Hold for ${money(total)}` : "Hold";
  }

  async hold() {
    if (!session()) {
      showStatus(this.status, "error", "Sign in first (below) to hold tickets.");
      document.getElementById("auth-email").focus();
      return;
    }
    const seats = [...this.map.selected].map((k) => { const st = this.map.seats.get(k); return { section: st.section, row: st.row, seat: st.seat }; });
    const items = this.ga.chosen();
    this.holdButton.disabled = true;
    try {
      const body = { show_id: this.id };
      if (seats.length) body.seats = seats;
      if (items.length) body.items = items;
      const res = await post("/v1/orders", body, { idempotent: true });
      sessionStorage.setItem(`order-position-${res.id}`, res.position);
      announce("Held. You have until the countdown ends to pay.");
      location.hash = `#/orders/${res.id}`;
    } catch (err) {
      showStatus(this.status, "error", err.message);
      this.holdButton.disabled = false;
      await this.reload();
    }
  }

  /** reload reads the show and its seats again (polling). */
  async reload() {
    if (this.reloading) return this.reloading;
    this.reloading = (async () => {
      try {
        const [fresh, seats] = await Promise.all([get(`/v1/shows/${this.id}`), loadSeats(this.id, this.show)]);
        this.applySeats(seats.flatMap((sec) => sec.rows.flatMap((row) => row.seats.map((x) => ({ section: sec.name, row: row.label, ...x })))));
        this.ga.update(fresh.sections);
        this.refreshSummary();
      } catch (err) {
        this.mode.textContent = `Could not refresh: ${err.message}`;
      } finally {
        this.reloading = null;
      }
    })();
    return this.reloading;
  }

  /** snapshot applies a full state of the stream: unlisted seats are available. */
  snapshot(data) {
    const listed = new Set((data.seats || []).map((x) => seatKey(x.section, x.row, x.seat)));
    const free = [...this.map.seats.values()].filter((st) => !listed.has(seatKey(st.section, st.row, st.seat)))
      .map((st) => ({ section: st.section, row: st.row, seat: st.seat, state: "available" }));
    this.change({ sections: data.sections, seats: [...(data.seats || []), ...free] });
  }

  /** change applies the sections and seats a message names. */
  change(data) {
    this.applySeats(data.seats || []);
    this.ga.update(data.sections || []);
    this.refreshSummary();
  }

  applySeats(seats) {
    const taken = [];
    for (const x of seats) {
      if (this.map.setState(seatKey(x.section, x.row, x.seat), x.state) && x.state !== "available") taken.push(`${x.row}${x.seat}`);
    }
    if (taken.length) announce(`Now taken: ${taken.join(", ")}`);
  }
}

/** StandingPanel is the standing sections: counts and a quantity each. */
class StandingPanel {
  constructor(sections, onInput) {
    this.sections = sections;
    this.parts = new Map();
    this.el = h("div", { class: "ga" }, sections.map((sec) => {
      const inputId = `qty-${sec.name}`;
      const input = h("input", { id: inputId, type: "number", min: 0, value: 0, inputmode: "numeric", "data-section": sec.name, oninput: onInput });
      const counts = h("p", { class: "counts", "data-testid": `ga-counts-${sec.name}` });
      const meter = h("div", { class: "meter", role: "img" }, h("span", { class: "sold" }), h("span", { class: "held" }));
      this.parts.set(sec.name, { input, counts, meter });
      return h("fieldset", { "data-testid": "ga-section" }, h("legend", {}, `${sec.name} · standing · ${money(sec.price_cents)}`),
        meter, counts, h("label", { for: inputId }, "How many tickets"), input);
    }));
    this.update(sections);
  }

  /** update shows new counts of the sections that are standing ones. */
  update(sections) {
    for (const sec of sections) {
      const p = this.parts.get(sec.name);
      if (!p) continue;
      p.counts.textContent = `${sec.available} available, ${sec.held} held, ${sec.sold} sold of ${sec.capacity}`;
      p.input.max = Math.min(sec.available, 20);
      const pct = (n) => `${sec.capacity ? (100 * n) / sec.capacity : 0}%`;
      p.meter.setAttribute("aria-label", `${sec.sold} sold and ${sec.held} held of ${sec.capacity}`);
      p.meter.children[0].style.width = pct(sec.sold);
      p.meter.children[1].style.width = pct(sec.held);
    }
  }

  /** chosen is the quantities asked for: [{section, quantity}]. */
  chosen() {
    return [...this.parts.entries()].map(([section, p]) => ({ section, quantity: Math.max(0, Math.floor(Number(p.input.value) || 0)) }))
      .filter((u) => u.quantity > 0);
  }
}

const TEST_CARDS = [
  ["tok_visa", "Visa test card (approved)"],
  ["tok_mastercard", "Mastercard test card (approved)"],
  ["tok_amex", "Amex test card (approved)"],
  ["tok_chargeDeclined", "Declined card"],
  ["tok_chargeDeclinedInsufficientFunds", "Declined: insufficient funds"],
];

async function orderView(id) {
  if (!session()) {
    page("Your order", authForm("buyer", () => route()));
    return;
  }
  const minPosition = sessionStorage.getItem(`order-position-${id}`) || undefined;
  const order = await get(`/v1/orders/${id}`, { minPosition });
  const show = await get(`/v1/shows/${order.show_id}`).catch(() => null);
  const title = show ? show.title : "Your order";
  const lines = [...order.seats.map((st) => `${st.section} row ${st.row} seat ${st.seat} · ${money(st.price_cents)}`),
    ...order.items.map((it) => `${it.quantity} × ${it.section} · ${money(it.price_cents * it.quantity)}`)];
  const what = h("ul", {}, lines.map((l) => h("li", {}, l)));
  const head = h("p", {}, badge(order.status, { "data-testid": "order-status" }), ` Total ${money(order.total_cents)}`);
  if (order.status === "held") {
    page(`Pay for ${title}`, head, what, payPanel(order));
  } else if (order.status === "confirmed") {
    page(`Your tickets for ${title}`, head, what, ticketList(order.tickets, show));
  } else {
    page(title, head, what, h("p", {}, `This order is ${order.status}. `, h("a", { href: `#/shows/${order.show_id}` }, "Back to the show.")));
  }
}

function payPanel(order) {
  const status = h("div", { class: "status" });
  const clock = h("p", { class: "countdown", role: "timer", "aria-label": "Time left to pay", "data-testid": "countdown" });
  const card = h("select", { id: "card" }, TEST_CARDS.map(([v, label]) => h("option", { value: v }, `${label} · ${v}`)));
  const pay = h("button", { type: "submit", id: "pay" }, `Pay ${money(order.total_cents)}`);
  const cancel = h("button", { type: "button", class: "secondary", onclick: async () => {
    try {
      await post(`/v1/orders/${order.id}/cancel`, undefined);
      announce("Hold released.");
      location.hash = `#/shows/${order.show_id}`;
    } catch (err) { showStatus(status, "error", err.message); }
  } }, "Release the hold");
  let warned = false;
  const tick = () => {
    const left = Math.max(0, Math.round((Date.parse(order.expires_at) - Date.now()) / 1000));
    clock.textContent = `${Math.floor(left / 60)}:${String(left % 60).padStart(2, "0")} left`;
    clock.classList.toggle("low", left <= 60);
    if (left <= 60 && !warned) { warned = true; announce("One minute left to pay."); }
    if (left === 0) { pay.disabled = true; showStatus(status, "error", "The hold ran out: the tickets went back on sale."); clearInterval(timer); }
  };
  const timer = setInterval(tick, 1000);
  tick();
  stop = () => clearInterval(timer);
  const form = h("form", { class: "card", "aria-labelledby": "pay-title" },
    h("h2", { id: "pay-title" }, "Pay"), h("p", {}, "Held for you until ", when(order.expires_at), ":"), clock,
    h("label", { for: "card" }, "Test card"), card, h("div", { class: "actions" }, pay, cancel), status);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    pay.disabled = true;
    showStatus(status, "ok", "Paying…");
    try {
      const res = await post(`/v1/orders/${order.id}/pay`, { payment_token: card.value }, { idempotent: true });
      clearInterval(timer);
      sessionStorage.setItem(`order-position-${order.id}`, res.position);
      announce("Paid. Here are your tickets.");
      await orderView(order.id);
    } catch (err) {
      showStatus(status, "error", err.message);
      pay.disabled = false;
    }
  });
  return form;
}

function ticketList(tickets, show) {
  return h("ul", { class: "tickets", "aria-label": "Tickets" }, tickets.map((t) => {
    const place = t.row ? `${t.section}, row ${t.row}, seat ${t.seat}` : `${t.section} (standing)`;
    return h("li", { class: "ticket", "data-testid": "ticket" },
      h("h2", {}, show ? show.title : "Ticket"), h("p", {}, place),
      t.code ? qrImage(t.code, `QR code of the ticket for ${place}`) : h("p", {}, "No code (transferred or void)."),
      t.code ? h("p", {}, h("code", {}, t.code)) : null,
      t.checked_in_at ? h("p", {}, h("span", { class: "badge" }, "checked in")) : null);
  }));
}

async function ticketsView() {
  if (!session()) {
    page("My tickets", authForm("buyer", () => route()));
    return;
  }
  const tickets = await allPages("/v1/me/tickets?limit=100", {}, 5);
  const shows = new Map();
  for (const t of tickets) if (!shows.has(t.show_id)) shows.set(t.show_id, await get(`/v1/shows/${t.show_id}`).catch(() => null));
  const byShow = [...shows.entries()].map(([sid, show]) => h("section", {},
    h("h2", {}, show ? `${show.title} · ${when(show.starts_at)}` : sid),
    ticketList(tickets.filter((t) => t.show_id === sid), show)));
  page("My tickets", tickets.length ? byShow : h("p", {}, "No tickets yet. ", h("a", { href: "#/" }, "See the shows.")),
    figures([["Tickets", tickets.length, "ticket-count"]]));
}

window.addEventListener("hashchange", route);
renderWho(route);
route();
