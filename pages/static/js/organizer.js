// The organizer's dashboard: their shows and a form to create one (#/), and
// one show (#/shows/ID): publish it, watch its sales live, its holds, sales
// and expiries per hour, its orders with refunds, and cancelling it.
import { get, post, session, allPages } from "./api.js";
import { h, announce, showStatus, money, when, renderWho, authForm, figures, badge } from "./ui.js";
import { hourBars } from "./charts.js";
import { watch } from "./live.js";

const main = document.getElementById("main");
let stop = () => {};

function route() {
  stop();
  stop = () => {};
  const me = session();
  if (!me || (me.role !== "organizer" && me.role !== "admin")) {
    page("Organizer", me ? h("p", { class: "status error" }, `Signed in as a ${me.role}: sign out, then sign in as an organizer.`) : null,
      authForm("organizer", () => route()));
    return;
  }
  const m = location.hash.match(/^#\/shows\/([0-9a-f-]{36})$/);
  (m ? showView(m[1]) : listView()).catch((err) => {
    const st = h("div", { class: "status" });
    showStatus(st, "error", err.message);
    main.append(st);
  });
}

function page(title, ...content) {
  document.title = `${title} · Organizer`;
  const heading = h("h1", { tabindex: "-1" }, title);
  main.replaceChildren(heading, ...content.flat().filter((c) => c));
  heading.focus({ preventScroll: true });
}

async function listView() {
  const shows = await allPages("/v1/me/shows?limit=100", { minPosition: sessionStorage.getItem("organizer-position") || undefined }, 5);
  const table = h("table", {}, h("caption", { class: "sr-only" }, "Your shows"),
    h("tr", {}, ["Show", "When", "Status", "Sold", "Held", "Left"].map((c) => h("th", { scope: "col" }, c))),
    shows.map((show) => {
      const sum = (k) => show.sections.reduce((n, sec) => n + sec[k], 0);
      return h("tr", {}, h("td", {}, h("a", { href: `#/shows/${show.id}` }, show.title)), h("td", {}, when(show.starts_at)),
        h("td", {}, badge(show.status)), h("td", {}, sum("sold")), h("td", {}, sum("held")), h("td", {}, sum("available")));
    }));
  page("Your shows", shows.length ? h("div", { class: "card scroll" }, table) : h("p", {}, "No shows yet: create one below."), createForm());
}

const ROWS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";

function sectionFields(n) {
  const id = (f) => `sec-${n}-${f}`;
  const kind = h("select", { id: id("kind"), "data-field": "kind" }, h("option", { value: "seated" }, "Seated (rows of seats)"), h("option", { value: "ga" }, "Standing (a number of places)"));
  const seatedBox = h("div", { class: "row" },
    h("div", {}, h("label", { for: id("rows") }, "Rows"), h("input", { id: id("rows"), "data-field": "rows", type: "number", min: 1, max: 26, value: 3, required: true })),
    h("div", {}, h("label", { for: id("seats") }, "Seats per row"), h("input", { id: id("seats"), "data-field": "seats", type: "number", min: 1, max: 200, value: 8, required: true })));
  const gaBox = h("div", { hidden: true }, h("label", { for: id("capacity") }, "Places"),
    h("input", { id: id("capacity"), "data-field": "capacity", type: "number", min: 1, value: 100 }));
  kind.addEventListener("change", () => {
    const seated = kind.value === "seated";
    seatedBox.hidden = !seated;
    gaBox.hidden = seated;
    for (const input of seatedBox.querySelectorAll("input")) input.required = seated; // a hidden field cannot be fixed
    gaBox.querySelector("input").required = !seated;
  });
  const box = h("fieldset", { class: "section-fields" }, h("legend", {}, `Section ${n}`),
    h("div", { class: "row" },
      h("div", {}, h("label", { for: id("name") }, "Name"), h("input", { id: id("name"), "data-field": "name", required: true, maxlength: 100, value: n === 1 ? "stalls" : "" })),
      h("div", {}, h("label", { for: id("price") }, "Price (€)"), h("input", { id: id("price"), "data-field": "price", type: "number", min: 0, step: "0.01", required: true, value: "25.00" }))),
    h("label", { for: id("kind") }, "Kind"), kind, seatedBox, gaBox,
    h("div", { class: "actions" }, h("button", { type: "button", class: "secondary", onclick: () => { box.remove(); announce(`Section ${n} removed`); } }, `Remove section ${n}`)));
  return box;
}

function readSection(box) {
  const f = (name) => box.querySelector(`[data-field="${name}"]`).value;
  const sec = { name: f("name").trim(), price_cents: Math.round(Number(f("price")) * 100) };
  if (f("kind") === "seated") {
    const seats = Number(f("seats"));
    sec.rows = [...ROWS.slice(0, Math.min(26, Number(f("rows"))))].map((row) => ({ row, seat_count: seats }));
  } else {
    sec.capacity = Number(f("capacity"));
  }
  return sec;
}

function createForm() {
  const status = h("div", { class: "status" });
  const sections = h("div", {});
  let n = 0;
  const add = () => { n++; const box = sectionFields(n); sections.append(box); return box; };
  add();
  const start = new Date(Date.now() + 7 * 86400e3);
  start.setHours(20, 0, 0, 0);
  const local = new Date(start.getTime() - start.getTimezoneOffset() * 60e3).toISOString().slice(0, 16);
  const form = h("form", { class: "card", id: "create-show", "aria-labelledby": "create-title" },
    h("h2", { id: "create-title" }, "Create a show"),
    h("label", { for: "show-title" }, "Title"), h("input", { id: "show-title", required: true, maxlength: 200 }),
    h("label", { for: "show-venue" }, "Venue"), h("input", { id: "show-venue", required: true, maxlength: 200 }),
    h("label", { for: "show-start" }, "Starts at"), h("input", { id: "show-start", type: "datetime-local", required: true, value: local }),
    sections,
    h("div", { class: "actions" },
      h("button", { type: "button", class: "secondary", id: "add-section", onclick: () => add().querySelector("input").focus() }, "Add a section"),
      h("button", { type: "submit", id: "create" }, "Create (as a draft)")),
    status);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const body = { title: form.querySelector("#show-title").value, venue: form.querySelector("#show-venue").value,
      starts_at: new Date(form.querySelector("#show-start").value).toISOString(),
      sections: [...sections.querySelectorAll(".section-fields")].map(readSection) };
    try {
      const res = await post("/v1/shows", body, { idempotent: true });
      sessionStorage.setItem(`show-position-${res.id}`, res.position);
      announce("Show created as a draft.");
      location.hash = `#/shows/${res.id}`;
    } catch (err) {
      showStatus(status, "error", err.message);
    }
  });
  return form;
}

async function showView(id) {
  const minPosition = () => sessionStorage.getItem(`show-position-${id}`) || undefined;
  const show = await get(`/v1/shows/${id}`, { minPosition: minPosition() });
  const status = h("div", { class: "status", "aria-live": "polite" });
  const salesBox = h("div", { "aria-live": "polite", "data-testid": "sales" });
  const chartBox = h("div", {});
  const ordersBox = h("div", { class: "scroll" });
  const actions = h("div", { class: "actions" });
  const act = async (path, body, done) => {
    try {
      const res = await post(path, body, { idempotent: true });
      sessionStorage.setItem(`show-position-${id}`, res.position);
      sessionStorage.setItem("organizer-position", res.position);
      announce(done);
      showStatus(status, "ok", done);
      await showView(id);
    } catch (err) {
      showStatus(status, "error", err.message);
    }
  };
  if (show.status === "draft") {
    actions.append(h("button", { type: "button", id: "publish", onclick: () => act(`/v1/shows/${id}/publish`, undefined, "Published: the show is on sale.") }, "Publish"));
  }
  if (show.status !== "cancelled") {
    actions.append(h("button", { type: "button", class: "danger", id: "cancel-show", onclick: () => {
      if (confirm(`Cancel ${show.title}? Every buyer is refunded.`)) act(`/v1/shows/${id}/cancel`, undefined, "Cancelled: buyers are being refunded.");
    } }, "Cancel the show"));
  }
  page(show.title,
    h("p", { class: "muted" }, `${when(show.starts_at)} · ${show.venue} · `, badge(show.status, { "data-testid": "show-status", "data-show-id": id }),
      show.status === "on_sale" ? [" · ", h("a", { href: `/#/shows/${id}` }, "its page in the storefront")] : null),
    actions, status,
    h("section", { class: "card", "aria-labelledby": "sales-title" }, h("h2", { id: "sales-title" }, "Sales"), salesBox),
    h("section", { class: "card", "aria-labelledby": "chart-title" }, h("h2", { id: "chart-title" }, "Holds, sales and expiries per hour"), chartBox),
    h("section", { class: "card", "aria-labelledby": "orders-title" }, h("h2", { id: "orders-title" }, "Orders"), ordersBox),
    h("p", {}, h("a", { href: "#/" }, "All your shows")));
  if (show.status === "draft") {
    salesBox.append(h("p", {}, "Not on sale yet: publish it to sell."));
    return;
  }
  // at: the position a live message reflects; the figures are read once
  // their projections reached it (X-Min-Position).
  const refresh = async (at) => {
    const opts = { minPosition: at };
    const [sales, analytics, orders] = await Promise.all([
      get(`/v1/shows/${id}/sales`, opts), get(`/v1/shows/${id}/analytics`, opts), allPages(`/v1/shows/${id}/orders?limit=100`, opts, 3)]);
    drawSales(salesBox, sales, show);
    chartBox.replaceChildren(hourBars(analytics.hours.slice(-24), [
      { key: "orders_held", label: "Holds", cls: "holds" }, { key: "orders_confirmed", label: "Sales", cls: "sales" }, { key: "orders_expired", label: "Expiries", cls: "expiries" }],
    `Holds, sales and expiries per hour of ${show.title}`));
    drawOrders(ordersBox, orders, act);
  };
  await refresh();
  // Any change of availability may be a sale: read the figures again, one
  // reading at a time; what changes meanwhile is read right after.
  let busy = false;
  let pending = null;
  const again = async (data) => {
    pending = { at: data && data.position };
    if (busy) return;
    busy = true;
    try {
      while (pending) {
        const { at } = pending;
        pending = null;
        await refresh(at);
      }
    } catch (err) {
      showStatus(status, "error", err.message);
    } finally {
      busy = false;
    }
  };
  stop = watch(id, { pollMs: 2000, onSnapshot: again, onChange: again, onReload: again });
}

function drawSales(box, sales, show) {
  const cap = show.sections.reduce((n, sec) => n + sec.capacity, 0);
  const next = figures([["Sold", sales.units_sold, "sold"], ["Revenue", money(sales.revenue_cents), "revenue"], ["Held now", sales.units_held, "held"],
    ["Expired", sales.units_expired, "expired"], ["Cancelled", sales.units_cancelled, "cancelled"], ["Capacity", cap, "capacity"]]);
  const before = box.querySelector('[data-testid="sold"]');
  if (before && before.textContent !== String(sales.units_sold)) announce(`${sales.units_sold} sold`);
  box.replaceChildren(next);
}

function drawOrders(box, orders, act) {
  if (!orders.length) {
    box.replaceChildren(h("p", {}, "No orders yet."));
    return;
  }
  box.replaceChildren(h("table", {}, h("caption", { class: "sr-only" }, "Orders of the show"),
    h("tr", {}, ["Order", "Status", "Tickets", "Total", ""].map((c) => h("th", { scope: "col" }, c))),
    orders.map((o) => h("tr", { "data-testid": "order-row", "data-order": o.id },
      h("td", {}, h("code", {}, o.id.slice(0, 8))), h("td", {}, badge(o.status)),
      h("td", {}, (o.tickets || []).length), h("td", {}, money(o.total_cents)),
      h("td", {}, o.status === "confirmed" && !o.refunded_cents
        ? h("button", { type: "button", class: "secondary", "aria-label": `Refund order ${o.id.slice(0, 8)}`,
          onclick: () => act(`/v1/orders/${o.id}/refund`, { reason: "refunded by the organizer", restock: true }, "Refunded.") }, "Refund")
        : o.refunded_cents ? `refunded ${money(o.refunded_cents)}` : "")))));
}

window.addEventListener("hashchange", route);
renderWho(route);
route();
