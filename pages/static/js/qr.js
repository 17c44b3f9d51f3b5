// QR codes of tickets, drawn here in the browser from the ticket's code.
// The encoder is qrcode-generator 2.0.4 (Kazuhiko Arase, MIT), vendored
// unchanged from its npm package as static/vendor/qrcode-generator-2.0.4.mjs:
// a well-kept, dependency-free encoder in wide use, and an ES module that
// loads without a bundler; writing a QR encoder here would be more code to
// get wrong (Reed-Solomon, masking) for nothing gained.
import qrcode from "../vendor/qrcode-generator-2.0.4.mjs";
import { h } from "./ui.js";

/** qrImage returns an <img> of text as a QR code (error correction M). */
export function qrImage(text, label) {
  const qr = qrcode(0, "M");
  qr.addData(text);
  qr.make();
  return h("img", { src: qr.createDataURL(4, 4), alt: label, width: qr.getModuleCount() * 4 + 32, "data-testid": "qr" });
}
