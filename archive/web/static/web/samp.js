// SAMP buttons: send a result's VOTable URL to TOPCAT, Aladin or any SAMP client running on
// the user's own machine, through the hub's Web Profile (SAMP 1.3, Sect. 5: XML-RPC over HTTP
// at localhost:21012). A button is <button data-samp-url="..." data-samp-name="..."
// data-samp-client="topcat|aladin|">; the message goes to the first registered client whose
// samp.name contains data-samp-client (case-insensitive), or to every table client if empty.
"use strict";

(function () {
  const HUB = "http://localhost:21012/";
  const MTYPE = "table.load.votable";

  function xmlValue(v) {
    if (typeof v === "string") {
      const s = v.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
      return "<value><string>" + s + "</string></value>";
    }
    if (Array.isArray(v)) {
      return "<value><array><data>" + v.map(xmlValue).join("") + "</data></array></value>";
    }
    const members = Object.keys(v).map(
      (k) => "<member><name>" + k + "</name>" + xmlValue(v[k]) + "</member>");
    return "<value><struct>" + members.join("") + "</struct></value>";
  }

  function parseValue(node) {
    const el = Array.from(node.children)[0];
    if (!el) return node.textContent;  // a bare <value>text</value> is a string
    switch (el.tagName) {
      case "struct": {
        const out = {};
        for (const m of el.children) {
          out[m.querySelector("name").textContent] = parseValue(m.querySelector("value"));
        }
        return out;
      }
      case "array":
        return Array.from(el.querySelector("data").children).map(parseValue);
      default:
        return el.textContent;
    }
  }

  async function call(method, params) {
    const body = '<?xml version="1.0"?><methodCall><methodName>samp.webhub.' + method +
      "</methodName><params>" + params.map((p) => "<param>" + xmlValue(p) + "</param>").join("") +
      "</params></methodCall>";
    const response = await fetch(HUB, {method: "POST", headers: {"Content-Type": "text/xml"}, body});
    const doc = new DOMParser().parseFromString(await response.text(), "text/xml");
    const fault = doc.querySelector("fault");
    if (fault) throw new Error(JSON.stringify(parseValue(fault.querySelector("value"))));
    const value = doc.querySelector("params > param > value");
    return value ? parseValue(value) : null;
  }

  async function send(button) {
    const status = document.getElementById(button.dataset.sampStatus || "samp-status");
    const say = (text, error) => {
      if (status) { status.textContent = text; status.classList.toggle("error", !!error); }
    };
    let key = null;
    try {
      say("Asking the SAMP hub on this computer (accept the request in its dialog)…");
      const reg = await call("register", [{"samp.name": "RVS-CNN Archive"}]);
      key = reg["samp.private-key"];
      await call("declareMetadata", [key, {"samp.name": "RVS-CNN Archive",
        "samp.description.text": "Gaia DR3 RVS stellar parameters from a hybrid CNN"}]);
      const clients = await call("getSubscribedClients", [key, MTYPE]);
      const wanted = (button.dataset.sampClient || "").toLowerCase();
      const message = {"samp.mtype": MTYPE, "samp.params": {
        "url": button.dataset.sampUrl, "name": button.dataset.sampName || "result"}};
      if (!wanted) {
        await call("notifyAll", [key, message]);
        say("Sent to " + Object.keys(clients || {}).length + " SAMP client(s).");
        return;
      }
      for (const id of Object.keys(clients || {})) {
        const meta = await call("getMetadata", [key, id]);
        if ((meta["samp.name"] || "").toLowerCase().includes(wanted)) {
          await call("notify", [key, id, message]);
          say("Sent to " + meta["samp.name"] + ".");
          return;
        }
      }
      say("No " + button.textContent.trim() + " is connected to the SAMP hub: start it, then try again.", true);
    } catch (err) {
      say("No SAMP hub answered on this computer (start TOPCAT or Aladin, which run one): " +
          err.message, true);
    } finally {
      if (key) call("unregister", [key]).catch(() => {});
    }
  }

  document.addEventListener("click", (event) => {
    const button = event.target.closest("[data-samp-url]");
    if (button) { event.preventDefault(); send(button); }
  });
})();
