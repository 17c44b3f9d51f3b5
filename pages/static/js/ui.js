// Small DOM helpers the three pages share: element building, the polite
// live region, money and time formatting, the header's account box and the
// sign-in / sign-up form.
import { session, signIn, signOut, signUp } from "./api.js";

const SVG = "http://www.w3.org/2000/svg";

/** h builds an element: h("p", {class: "x", onclick: fn}, "text", child). */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  return fill(el, attrs, children);
}

/** s builds an SVG element the same way. */
export function s(tag, attrs = {}, ...children) {
  return fill(document.createElementNS(SVG, tag), attrs, children);
}

function fill(el, attrs, children) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "text") el.textContent = v;
    else if (k === "style") el.style.cssText = v; // CSSOM: allowed by the policy, unlike a style attribute
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** announce tells screen readers (and the status line) what changed. */
export function announce(text) {
  const live = document.getElementById("announcer");
  if (live) live.textContent = text;
}

/** showStatus puts a message in a status element: kind "error" or "ok". */
export function showStatus(el, kind, text) {
  el.className = "status " + (text ? kind : "");
  el.textContent = text || "";
  if (text && kind === "error") el.setAttribute("role", "alert");
  else el.removeAttribute("role");
}

/** money formats cents as an amount (the engine has one currency). */
export function money(cents) {
  return (Number(cents) / 100).toLocaleString(undefined, { style: "currency", currency: "EUR" });
}

/** when formats a time for people. */
export function when(iso) {
  return new Date(iso).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

/** escapeSel quotes a string for a CSS attribute selector. */
export const escapeSel = (v) => String(v).replace(/["\\]/g, "\\$&");

/** renderWho fills the header's account box and re-renders it on change. */
export function renderWho(onChange) {
  const box = document.getElementById("who");
  if (!box) return;
  const me = session();
  box.replaceChildren();
  if (!me) {
    box.append(h("span", {}, "Not signed in"));
    return;
  }
  box.append(
    h("span", { "data-testid": "who" }, `${me.email} (${me.role})`),
    h("button", { type: "button", class: "secondary", onclick: () => { signOut(); renderWho(onChange); onChange && onChange(); } }, "Sign out"),
  );
}

/**
 * authForm is a sign-in form with a switch to sign up as role; onDone runs
 * once signed in. A role of "admin" offers sign-in only (there is no admin
 * sign-up).
 */
export function authForm(role, onDone) {
  const status = h("div", { class: "status", "aria-live": "polite" });
  const email = h("input", { id: "auth-email", name: "email", type: "email", autocomplete: "username", required: true });
  const password = h("input", { id: "auth-password", name: "password", type: "password", autocomplete: "current-password", required: true, minlength: 8 });
  const signUpBox = h("input", { id: "auth-new", type: "checkbox", style: "width:auto;min-height:0" });
  const submit = h("button", { type: "submit", id: "auth-submit" }, "Sign in");
  signUpBox.addEventListener("change", () => {
    submit.textContent = signUpBox.checked ? `Create ${role} account` : "Sign in";
    password.autocomplete = signUpBox.checked ? "new-password" : "current-password";
  });
  const form = h("form", { class: "card", "aria-labelledby": "auth-title" },
    h("h2", { id: "auth-title" }, role === "admin" ? "Sign in as an admin" : "Sign in or create an account"),
    h("label", { for: "auth-email" }, "Email"), email,
    h("label", { for: "auth-password" }, "Password (at least 8 characters)"), password,
    role === "admin" ? null : h("label", { for: "auth-new", style: "font-weight:400" }, signUpBox, ` I am new: create a${role === "organizer" ? "n" : ""} ${role} account`),
    h("div", { class: "actions" }, submit), status);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    submit.disabled = true;
    showStatus(status, "ok", signUpBox.checked ? "Creating your account…" : "Signing in…");
    try {
      const me = signUpBox.checked ? await signUp(email.value, password.value, role) : await signIn(email.value, password.value);
      showStatus(status, "ok", `Signed in as ${me.email}`);
      announce(`Signed in as ${me.email}`);
      renderWho();
      onDone(me);
    } catch (err) {
      showStatus(status, "error", err.message);
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}

/** figures renders a list of [label, value, testid] as a definition list. */
export function figures(list) {
  return h("dl", { class: "figures" }, list.map(([label, value, id]) =>
    h("div", {}, h("dt", {}, label), h("dd", { "data-testid": id }, value))));
}

/** badge shows a status ("on_sale" as "on sale"), its value in data-status. */
export function badge(status, attrs = {}) {
  return h("span", { class: `badge ${status}`, "data-status": status, ...attrs }, String(status).replace(/_/g, " "));
}
