"""The link URL, ``/l/{sdkappid}?ticket=...&to=...&action=chat``: a small
page of Tidings' own that drives the link REST calls (docs/linked-identity.md).
The web messenger will take it over later.

The page holds no data of its own: it reads the ticket from its URL and the
home UserSig from the browser's storage, and shows only what the preview
call answers, as text (never as HTML). The ticket is in the URL, so the page
is never cached and never sends a Referer.
"""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import HTMLResponse

router = APIRouter(tags=["links"])

# Where a signed-in messenger keeps its home UserSig in the browser.
USERSIG_STORAGE_KEY = "tidings.home.usersig"

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>Link an account - Tidings</title>
<style>
body{font-family:system-ui,sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem}
.card{display:flex;gap:.75rem;align-items:center;margin:.75rem 0}
.card img{width:48px;height:48px;border-radius:8px;object-fit:cover}
.badge{font-size:.8rem;color:#0a6;border:1px solid #0a6;border-radius:4px;padding:0 .3rem}
.error{color:#b00}
button{font-size:1rem;padding:.5rem 1rem;margin-right:.5rem}
</style></head>
<body>
<h1>Link an account</h1>
<div id="status">Checking the link...</div>
<div id="ask" hidden>
  <p id="question"></p>
  <div class="card"><img id="app-icon" alt=""><div><b id="app-name"></b>
    <span class="badge">verified by the app</span></div></div>
  <div class="card"><img id="user-avatar" alt=""><div><b id="user-nick"></b>
    <div id="user-id"></div></div></div>
  <p id="then"></p>
  <button id="yes">Link</button><button id="no">Cancel</button>
</div>
<script>
(function () {
  "use strict";
  const sdkappid = Number(location.pathname.split("/").pop());
  const q = new URLSearchParams(location.search);
  const body = {sdkappid: sdkappid, ticket: q.get("ticket") || ""};
  if (q.get("to")) body.to = q.get("to");
  if (q.get("action")) body.action = q.get("action");
  const status = document.getElementById("status");
  const sig = localStorage.getItem("__KEY__");
  function show(text, bad) { status.textContent = text; status.className = bad ? "error" : ""; }
  if (!sig) {
    // TODO(home accounts): sign in here (password or one-time code), keep
    // the UserSig under this key, then carry on with this same link.
    show("Sign in to Tidings first, then open this link again.", true);
    return;
  }
  function call(path) {
    return fetch(path, {method: "POST", headers: {"Content-Type": "application/json",
      "Authorization": "Bearer " + sig}, body: JSON.stringify(body)})
      .then(function (r) { return r.json().then(function (d) { return [r.ok, d]; }); });
  }
  call("/v1/links/preview").then(function (res) {
    const ok = res[0], d = res[1];
    if (!ok) { show(d.error.message + " (" + d.error.code + ")", true); return; }
    status.textContent = "";
    const nick = d.user.nickname || d.user.user_id;
    document.getElementById("question").textContent =
      "Link your " + d.app.name + " account '" + nick + "' to this account?";
    document.getElementById("app-name").textContent = d.app.name;
    document.getElementById("app-icon").src = d.app.icon_url || "";
    document.getElementById("user-nick").textContent = nick;
    document.getElementById("user-id").textContent = d.user.user_id + " in " + d.app.name;
    document.getElementById("user-avatar").src = d.user.avatar_url || "";
    if (d.target) {
      const who = (d.target.nickname || d.target.user_id) + " (" + d.target.user_id + ")";
      document.getElementById("then").textContent = d.action === "friend"
        ? "Then send a friend request to " + who + "." : "Then open the chat with " + who + ".";
    }
    document.getElementById("ask").hidden = false;
  });
  document.getElementById("no").onclick = function () {
    document.getElementById("ask").hidden = true; show("Nothing was linked.");
  };
  document.getElementById("yes").onclick = function () {
    document.getElementById("ask").hidden = true;
    call("/v1/links").then(function (res) {
      const ok = res[0], d = res[1];
      if (!ok) { show(d.error.message + " (" + d.error.code + ")", true); return; }
      const open = d.action ? " Open " + d.action.conversation_id + " in the messenger." : "";
      show("Linked." + open);
    });
  };
})();
</script>
</body></html>
""".replace("__KEY__", USERSIG_STORAGE_KEY)


@router.get("/l/{sdkappid}", response_class=HTMLResponse)
async def link_page(sdkappid: int) -> HTMLResponse:
    """The link URL an app hands its user: a page that previews the link
    (``POST /v1/links/preview``), asks once, and confirms (``POST
    /v1/links``) with the home UserSig the browser holds."""
    return HTMLResponse(_PAGE, headers={"Cache-Control": "no-store",
                                        "Referrer-Policy": "no-referrer",
                                        "X-Frame-Options": "DENY"})
