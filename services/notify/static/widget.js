/* Touchline in-app widget: one file, no build step.
 *
 *   <script src="https://notify.example.com/widget.js"
 *           data-user="USER_ID" data-token="HEX_HMAC_SHA256(inapp_secret, USER_ID)"></script>
 *
 * or call window.Touchline.init({base, user, token}) yourself. The token must come from your
 * back end: it proves to notify which user is signed in, so never compute it in the browser.
 * Shows one popup/survey at a time, reports seen/dismissed/clicked/answered, and listens on
 * the live stream (server-sent events) for new messages.
 */
(function () {
  "use strict";
  var SCORE_SURVEYS = { nps: 1, satisfaction: 1, roi: 1 };
  var CHOICE_SURVEYS = { renewal: 1, referral: 1 };

  function Widget(options) {
    this.base = (options.base || "").replace(/\/$/, "");
    this.user = options.user;
    this.token = options.token;
    this.queue = [];
    this.known = {};
    this.open = null;
    this.onEvent = options.onEvent || function () {};
  }

  Widget.prototype.headers = function () {
    return {
      "Content-Type": "application/json",
      "X-Touchline-User": this.user,
      "X-Touchline-User-Token": this.token
    };
  };

  Widget.prototype.fetchMessages = function () {
    var self = this;
    return fetch(this.base + "/v1/inapp/messages", { headers: this.headers() })
      .then(function (r) { if (!r.ok) { throw new Error("touchline: HTTP " + r.status); } return r.json(); })
      .then(function (body) { body.messages.forEach(function (m) { self.enqueue(m); }); return body.messages; });
  };

  Widget.prototype.listen = function () {
    if (!window.EventSource) { return; }
    var self = this;
    var url = this.base + "/v1/inapp/stream?user=" + encodeURIComponent(this.user) +
      "&token=" + encodeURIComponent(this.token);
    this.source = new EventSource(url);
    this.source.addEventListener("message", function (e) { self.enqueue(JSON.parse(e.data)); });
  };

  Widget.prototype.enqueue = function (message) {
    if (this.known[message.id]) { return; }
    this.known[message.id] = true;
    this.queue.push(message);
    this.showNext();
  };

  Widget.prototype.send = function (message, type, answer) {
    var body = { type: type };
    if (answer) { body.answer = answer; }
    this.onEvent(message, type, answer);
    return fetch(this.base + "/v1/inapp/messages/" + encodeURIComponent(message.id) + "/events", {
      method: "POST", headers: this.headers(), body: JSON.stringify(body)
    });
  };

  function el(tag, style, text) {
    var node = document.createElement(tag);
    if (style) { node.setAttribute("style", style); }
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }

  Widget.prototype.close = function () {
    if (this.open) { this.open.parentNode.removeChild(this.open); this.open = null; }
    this.showNext();
  };

  Widget.prototype.answerFor = function (message, value, comment) {
    var answer = { survey: message.survey };
    if (SCORE_SURVEYS[message.survey]) { answer.score = Number(value); }
    else if (CHOICE_SURVEYS[message.survey]) { answer.choice = String(value); }
    else if (message.survey === "feature_usefulness") { answer.features = [String(value)]; }
    if (comment) { answer.comment = comment; }
    return answer;
  };

  Widget.prototype.askWhy = function (message, box, value, sent) {
    var self = this;
    var ja = message.locale === "ja";
    while (box.childNodes.length > 1) { box.removeChild(box.lastChild); }  // keep the close button
    box.firstChild.onclick = function () { self.close(); };  // answered already: closing dismisses nothing
    box.appendChild(el("p", "margin:0 0 8px", ja ? "よろしければ、その理由をお聞かせください。" : "Would you tell us why?"));
    var why = el("textarea", "width:100%;box-sizing:border-box");
    why.setAttribute("name", "why");
    box.appendChild(why);
    var sendBtn = el("button", "margin-top:6px;padding:4px 10px;cursor:pointer", ja ? "送信" : "Send");
    sendBtn.setAttribute("data-action", "send-why");
    sendBtn.onclick = function () {
      var text = why.value;
      if (text.trim()) {
        // After the score's request has been answered: the complete answer must arrive second.
        Promise.resolve(sent).catch(function () {}).then(function () {
          self.send(message, "answered", self.answerFor(message, value, text));
        });
      }
      self.close();
    };
    box.appendChild(sendBtn);
  };

  Widget.prototype.showNext = function () {
    if (this.open || !this.queue.length) { return; }
    var self = this;
    var m = this.queue.shift();
    var box = el("div", "position:fixed;right:20px;bottom:20px;max-width:360px;z-index:2147483647;" +
      "background:#fff;color:#222;border-radius:10px;box-shadow:0 6px 24px rgba(0,0,0,.2);" +
      "padding:16px 18px;font:14px/1.5 sans-serif");
    box.setAttribute("role", "dialog");
    box.setAttribute("data-touchline-message", m.id);
    var closeBtn = el("button", "float:right;border:0;background:none;font-size:18px;cursor:pointer", "×");
    closeBtn.setAttribute("aria-label", "close");
    closeBtn.onclick = function () { self.send(m, "dismissed"); self.close(); };
    box.appendChild(closeBtn);
    box.appendChild(el("strong", "display:block;margin-bottom:6px", m.title));
    if (m.body && m.body !== m.question) { box.appendChild(el("p", "margin:0 0 8px", m.body)); }
    if (m.kind === "survey") {
      if (m.question) { box.appendChild(el("p", "margin:0 0 8px", m.question)); }
      var comment = el("textarea", "width:100%;box-sizing:border-box;margin-top:8px");
      comment.setAttribute("placeholder", m.locale === "ja" ? "コメント（任意）" : "Comment (optional)");
      var row = el("div", "display:flex;flex-wrap:wrap;gap:4px");
      (m.choices || []).forEach(function (c) {
        var b = el("button", "padding:4px 8px;cursor:pointer", c.label);
        b.setAttribute("data-value", c.value);
        b.onclick = function () {
          var sent = self.send(m, "answered", self.answerFor(m, c.value, comment.value));
          // A score survey also asks "why?": without it the answer is partial, so ask it now.
          if (SCORE_SURVEYS[m.survey] && !comment.value.trim()) { self.askWhy(m, box, c.value, sent); }
          else { self.close(); }
        };
        row.appendChild(b);
      });
      box.appendChild(row);
      box.appendChild(comment);
      if (SCORE_SURVEYS[m.survey]) {
        // The comment alone is a partial answer: notify keeps the survey open for the score.
        var commentBtn = el("button", "margin-top:6px;padding:4px 10px;cursor:pointer",
          m.locale === "ja" ? "コメントだけ送る" : "Send the comment only");
        commentBtn.setAttribute("data-action", "send-comment");
        commentBtn.onclick = function () {
          if (!comment.value.trim()) { comment.focus(); return; }
          self.send(m, "answered", { survey: m.survey, comment: comment.value });
          self.close();
        };
        box.appendChild(commentBtn);
      }
    } else if (m.cta && m.cta.url) {
      var link = el("a", "display:inline-block;margin-top:6px", m.cta.label || m.cta.url);
      link.href = m.cta.url;
      link.target = "_blank";
      link.rel = "noopener";
      link.onclick = function () { self.send(m, "clicked"); self.close(); };
      box.appendChild(link);
    }
    document.body.appendChild(box);
    this.open = box;
    this.send(m, "seen");
  };

  var api = {
    init: function (options) {
      var widget = new Widget(options);
      widget.fetchMessages().catch(function (e) { if (window.console) { console.warn(e); } });
      if (options.live !== false) { widget.listen(); }
      api.widget = widget;
      return widget;
    }
  };
  window.Touchline = api;

  var script = document.currentScript;
  if (script && script.getAttribute("data-user") && script.getAttribute("data-token")) {
    var start = function () {
      api.init({
        base: script.getAttribute("data-base") || script.src.replace(/\/widget\.js.*$/, ""),
        user: script.getAttribute("data-user"),
        token: script.getAttribute("data-token")
      });
    };
    if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); } else { start(); }
  }
})();
