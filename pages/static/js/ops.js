// The ops view, for admins: GET /v1/admin/status every second (what
// `ticketing projections status --json` prints): the log head, each
// projection's state and lag in events and seconds with a small live chart
// of the last minute, the streams parked, the relay's lag and who leads
// the relay and the expirer.
import { get, session } from "./api.js";
import { h, announce, showStatus, renderWho, authForm, figures, when } from "./ui.js";
import { sparkline } from "./charts.js";

const main = document.getElementById("main");
const KEEP = 60; // samples kept per projection: a minute
const history = new Map(); // projection → {events: [], seconds: []}
const lastState = new Map();
let timer = null;

function route() {
  clearInterval(timer);
  const me = session();
  if (!me || me.role !== "admin") {
    main.replaceChildren(h("h1", {}, "Ops"),
      me ? h("p", { class: "status error" }, `Signed in as a ${me.role}: the ops view is for admins.`) : null,
      authForm("admin", () => route()),
      h("p", { class: "muted" }, "There is no admin sign-up: an admin is a user whose role was set to admin in the database (see the README)."));
    return;
  }
  const status = h("div", { class: "status" });
  const body = h("div", { "data-testid": "ops" });
  const heading = h("h1", { tabindex: "-1" }, "Ops");
  main.replaceChildren(heading, h("p", { class: "muted" }, "Refreshed every second."), status, body);
  heading.focus({ preventScroll: true });
  const tick = async () => {
    try {
      const st = await get("/v1/admin/status");
      showStatus(status, "ok", "");
      draw(body, st);
    } catch (err) {
      showStatus(status, "error", `Could not read the status: ${err.message}`);
    }
  };
  tick();
  timer = setInterval(tick, 1000);
}

function draw(body, st) {
  for (const p of st.projections || []) {
    const hist = history.get(p.name) || { events: [], seconds: [] };
    hist.events.push(p.lag_events);
    hist.seconds.push(p.lag_seconds);
    if (hist.events.length > KEEP) { hist.events.shift(); hist.seconds.shift(); }
    history.set(p.name, hist);
    const state = p.state || "never ran";
    if (lastState.has(p.name) && lastState.get(p.name) !== state) announce(`Projection ${p.name} is now ${state}`);
    lastState.set(p.name, state);
  }
  const parked = (st.projections || []).flatMap((p) => p.parked || []);
  const stalled = (st.projections || []).filter((p) => p.state === "stalled").length;
  body.replaceChildren(
    figures([["Log head", st.head, "head"], ["Relay lag (events)", st.relay ? st.relay.Events : "no relay", "relay-events"],
      ["Relay lag (s)", st.relay ? st.relay.Seconds.toFixed(1) : "–", "relay-seconds"], ["Stalled projections", stalled, "stalled-count"],
      ["Parked streams", parked.length, "parked-count"],
      ["Refunds to settle", st.refund_process ? st.refund_process.unsettled : 0, "refunds"]]),
    h("h2", {}, "Projections"), projectionTable(st.projections || []),
    h("h2", {}, "Parked streams"), parkedTable(parked),
    h("h2", {}, "Leaders"), leaderTable(st.singletons || []));
}

function projectionTable(list) {
  return h("div", { class: "card scroll" }, h("table", {}, h("caption", { class: "sr-only" }, "Projections"),
    h("tr", {}, ["Projection", "Mode", "State", "Lag (events)", "Lag (s)", "Last minute", "Error"].map((c) => h("th", { scope: "col" }, c))),
    list.map((p) => {
      const hist = history.get(p.name);
      const state = p.state || "never ran";
      return h("tr", { "data-testid": `projection-${p.name}` }, h("th", { scope: "row" }, p.name), h("td", {}, p.mode),
        h("td", {}, h("span", { class: `badge ${state}`, "data-testid": `state-${p.name}` }, state === "stalled" ? "⚠ stalled" : state)),
        h("td", { "data-testid": `lag-events-${p.name}` }, p.lag_events), h("td", {}, p.lag_seconds.toFixed(1)),
        h("td", {}, sparkline([{ values: hist.events, cls: "events" }, { values: hist.seconds, cls: "seconds" }],
          `Lag of ${p.name} over the last minute: now ${p.lag_events} events, ${p.lag_seconds.toFixed(1)} seconds`)),
        h("td", {}, p.last_error || ""));
    })),
  h("p", { class: "muted" }, "Solid line: lag in events; dashed: lag in seconds."));
}

function parkedTable(parked) {
  if (!parked.length) return h("p", { "data-testid": "parked" }, "None.");
  return h("div", { class: "card scroll" }, h("table", { "data-testid": "parked" }, h("caption", { class: "sr-only" }, "Parked streams"),
    h("tr", {}, ["Stream", "Projection", "Version", "Type", "Waiting", "Parked at", "Error"].map((c) => h("th", { scope: "col" }, c))),
    parked.map((s) => h("tr", {}, h("td", {}, h("code", {}, s.stream)), h("td", {}, s.projection), h("td", {}, s.version), h("td", {}, s.type),
      h("td", {}, s.waiting || ""), h("td", {}, when(s.parked_at)), h("td", {}, s.error)))),
  h("p", { class: "muted" }, "Resume one once its projector is fixed: ticketing projections retry --projection NAME --stream ID"));
}

function leaderTable(leaders) {
  if (!leaders.length) return h("p", {}, "No relay or expirer has run yet.");
  return h("div", { class: "card scroll" }, h("table", {}, h("caption", { class: "sr-only" }, "Leaders"),
    h("tr", {}, ["Role", "Active", "Host", "PID", "Since"].map((c) => h("th", { scope: "col" }, c))),
    leaders.map((l) => h("tr", { "data-testid": `leader-${l.name}` }, h("th", { scope: "row" }, l.name), h("td", {}, l.active ? "yes" : "no (last holder)"),
      h("td", {}, l.host), h("td", {}, l.pid), h("td", {}, when(l.since))))));
}

renderWho(route);
route();
