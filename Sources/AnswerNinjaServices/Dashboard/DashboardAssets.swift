/// The dashboard's stylesheet and its one script, served from `/assets/` (the content security policy allows no
/// inline style or script). Small and hand-written: no JavaScript package registry is reachable here, and none is
/// needed.
enum DashboardAssets {
    /// Phone-first: one column that never scrolls sideways at 390 px; wider screens get a wider column.
    static let css = """
        *, *::before, *::after { box-sizing: border-box; }
        html { -webkit-text-size-adjust: 100%; }
        body { margin: 0; font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1a1a1a; background: #f6f6f4; }
        a { color: #0b57d0; }
        .skip { position: absolute; left: -999px; }
        .skip:focus { left: 0.5rem; top: 0.5rem; background: #fff; padding: 0.5rem; z-index: 1; }
        header { display: flex; flex-wrap: wrap; align-items: center; gap: 0.5rem 1rem; padding: 0.75rem 1rem; background: #1f2a37; color: #fff; }
        header a { color: #fff; }
        .brand { font-weight: 700; text-decoration: none; margin-right: auto; }
        nav { display: flex; gap: 1rem; }
        nav a[aria-current="page"] { text-decoration: underline; text-underline-offset: 0.3em; }
        main { padding: 1rem; max-width: 60rem; margin: 0 auto; overflow-wrap: anywhere; }
        h1 { font-size: 1.5rem; margin: 0.5rem 0 1rem; }
        h2 { font-size: 1.15rem; }
        input, select, button { font: inherit; max-width: 100%; }
        input, select { padding: 0.4rem; border: 1px solid #767676; border-radius: 4px; background: #fff; width: 100%; }
        button { padding: 0.45rem 0.9rem; border: 0; border-radius: 4px; background: #0b57d0; color: #fff; cursor: pointer; }
        header button { background: #394b5f; }
        button.danger { background: #9b1c1c; }
        .stack { display: grid; gap: 0.4rem; max-width: 24rem; }
        textarea { font: inherit; width: 100%; padding: 0.4rem; border: 1px solid #767676; border-radius: 4px; }
        fieldset { border: 1px solid #d8d8d4; border-radius: 4px; display: grid; gap: 0.4rem; min-width: 0; }
        label.check { display: flex; gap: 0.5rem; align-items: center; }
        label.check input { width: auto; }
        .days { display: flex; flex-wrap: wrap; gap: 0.25rem 0.75rem; }
        form.inline { display: inline; }
        form.give-number { display: block; margin-top: 0.4rem; }
        form.give-number input { width: 11rem; max-width: 100%; }
        .stack button { margin-top: 0.6rem; justify-self: start; }
        .filters { display: grid; grid-template-columns: repeat(auto-fit, minmax(9rem, 1fr)); gap: 0.5rem; align-items: end; margin-bottom: 1rem; }
        .filters label { display: block; font-size: 0.9rem; }
        .cards { list-style: none; padding: 0; margin: 0; display: grid; gap: 0.75rem; }
        .card { background: #fff; border: 1px solid #d8d8d4; border-radius: 6px; padding: 0.75rem; }
        .card h2 { margin: 0 0 0.4rem; }
        .card.ended { opacity: 0.7; }
        .state { font-size: 0.85rem; font-weight: 400; color: #4a4a4a; }
        .transcript { padding-left: 1.2rem; }
        .transcript .assistant { color: #2d4a22; }
        .actions { display: flex; flex-wrap: wrap; gap: 0.5rem; }
        .error { color: #9b1c1c; background: #fdecec; padding: 0.5rem; border-radius: 4px; }
        .notice { color: #1e4620; background: #e9f6ea; padding: 0.5rem; border-radius: 4px; }
        .facts { display: grid; grid-template-columns: max-content 1fr; gap: 0.25rem 1rem; }
        .facts dt { font-weight: 600; }
        .facts dd { margin: 0; }
        audio { width: 100%; }
        .waterfall { width: 100%; height: auto; font-size: 13px; }
        .waterfall .stt_final { fill: #4c78a8; }
        .waterfall .reply { fill: #f58518; }
        .waterfall .tts_first { fill: #54a24b; }
        .waterfall .rtp_first { fill: #b279a2; }
        .waterfall text { fill: #1a1a1a; }
        .chart { width: 100%; height: auto; }
        .chart .bar { fill: #4c78a8; }
        .chart .axis { stroke: #767676; }
        table { border-collapse: collapse; width: 100%; }
        th, td { text-align: left; padding: 0.25rem 0.5rem; border-bottom: 1px solid #d8d8d4; }
        """

    /// Keeps the live page current from the signed-in user's event stream: a new call's card is fetched from the
    /// server (rendered there, escaped), lines and figures are set as text (never as HTML), an ended call is marked
    /// and its buttons disabled.
    static let liveScript = """
        "use strict";
        (function () {
          var list = document.getElementById("live-calls");
          if (!list || !window.EventSource) { return; }
          var status = document.getElementById("live-status");
          var empty = document.getElementById("no-calls");
          var pending = {};
          function card(id) { return document.getElementById("call-" + id); }
          function ensure(id, caller) {
            if (card(id)) { return Promise.resolve(card(id)); }
            if (!pending[id]) {
              var url = "/calls/live/card?id=" + encodeURIComponent(id) + (caller ? "&caller=" + encodeURIComponent(caller) : "");
              pending[id] = fetch(url, { credentials: "same-origin" }).then(function (response) {
                return response.ok ? response.text() : "";
              }).then(function (html) {
                if (html && !card(id)) {
                  var template = document.createElement("template");
                  template.innerHTML = html;
                  list.insertBefore(template.content, list.firstChild);
                  empty.hidden = true;
                }
                delete pending[id];
                return card(id);
              });
            }
            return pending[id];
          }
          function set(element, selector, text) {
            var target = element && element.querySelector(selector);
            if (target) { target.textContent = text; }
          }
          function on(type, handler) {
            source.addEventListener(type, function (message) {
              var event = JSON.parse(message.data);
              ensure(event.call_id, event.caller).then(function (element) { if (element) { handler(element, event); } });
            });
          }
          var source = new EventSource("/calls/live/events");
          source.onopen = function () { status.textContent = "Live: calls appear here as they happen."; };
          source.onerror = function () { status.textContent = "Connection lost; reconnecting…"; };
          on("call_started", function (element, event) { set(element, ".caller", event.caller); });
          on("decision", function (element, event) {
            set(element, ".decision", event.decision);
            set(element, ".reasons", (event.reasons || []).join(", "));
          });
          on("transcript_final", function (element, event) {
            var line = document.createElement("li");
            line.className = event.speaker;
            var who = document.createElement("b");
            who.textContent = (event.speaker === "caller" ? "Caller" : "Assistant") + ": ";
            line.appendChild(who);
            line.appendChild(document.createTextNode(event.text));
            element.querySelector(".transcript").appendChild(line);
          });
          on("turn", function (element, event) {
            if (event.intent) { set(element, ".intent", event.intent); }
            if (typeof event.confidence === "number") { set(element, ".confidence", Math.round(event.confidence * 100) + " %"); }
          });
          on("call_ended", function (element, event) {
            element.classList.add("ended");
            set(element, ".state", "ended: " + event.outcome);
            element.querySelectorAll("button").forEach(function (button) { button.disabled = true; });
          });
        })();
        """
}
