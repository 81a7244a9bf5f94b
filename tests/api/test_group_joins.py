"""Join applications over the client REST API and the admin API: the same
rules as the socket ops; the app's admin lists and answers any application
of its app; a full group refuses the approval; bad input gets a stable code
and changes nothing."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest

from tests.support import App, Server, error_of, openapi_doc

Users = Callable[[str], str]


@pytest.fixture
def app(shared_app: App) -> App:
    return shared_app


def gid() -> str:
    return f"rj-{uuid.uuid4().hex[:12]}"


async def test_rest_apply_answer_and_lists(server: Server, app: App, other_app: App,
                                           users: Users) -> None:
    alice, bob, dave, erin = users("alice"), users("bob"), users("dave"), users("erin")
    admin = server.http(app, app.admin)
    a, b, d, e = (server.http(app, u) for u in (alice, bob, dave, erin))
    g = gid()
    made = admin.post("/v1/admin/groups", json={"type": "Public", "group_id": g,
                                                "owner": alice, "members": [bob]})
    assert made.status_code == 200, made.text
    applied = d.post(f"/v1/groups/{g}/apply", json={"message": "hello"})
    assert applied.status_code == 200, applied.text
    assert applied.json() == {"group_id": g, "user_id": dave, "state": "pending"}
    assert e.post(f"/v1/groups/{g}/apply").json()["state"] == "pending"  # no body: no message
    assert error_of(d.post(f"/v1/groups/{g}/apply", json={"message": "again"})) == (409, 94050)
    listed = a.get(f"/v1/groups/{g}/join-requests").json()["requests"]
    assert sorted((r["user_id"], r["message"]) for r in listed) == [(dave, "hello"), (erin, "")]
    assert len(a.get("/v1/group-join-requests").json()["requests"]) == 2
    assert error_of(b.get(f"/v1/groups/{g}/join-requests")) == (403, 10007)
    assert b.get("/v1/group-join-requests").json() == {"requests": []}
    assert error_of(b.post(f"/v1/groups/{g}/join-requests/{dave}/approve")) == (403, 10007)
    mine = d.get("/v1/group-applications").json()["applications"]
    assert [(x["group_id"], x["state"]) for x in mine] == [(g, "pending")]
    # The owner approves dave; the app's admin declines erin.
    approved = a.post(f"/v1/groups/{g}/join-requests/{dave}/approve")
    assert approved.status_code == 200, approved.text
    assert (approved.json()["state"], approved.json()["handled_by"]) == ("approved", alice)
    assert error_of(a.post(f"/v1/groups/{g}/join-requests/{dave}/decline")) == (409, 94052)
    assert admin.get(f"/v1/admin/groups/{g}/join-requests").json()["requests"][0][
        "user_id"] == erin
    declined = admin.post(f"/v1/admin/groups/{g}/join-requests/{erin}/decline")
    assert declined.status_code == 200, declined.text
    assert (declined.json()["state"], declined.json()["handled_by"]) == ("declined", None)
    members = admin.get(f"/v1/admin/groups/{g}/members").json()["members"]
    assert sorted(m["user_id"] for m in members) == sorted([alice, bob, dave])
    assert [(x["state"], x["handled_by"]) for x in
            e.get("/v1/group-applications").json()["applications"]] == [("declined", None)]
    assert admin.get(f"/v1/admin/groups/{g}/join-requests").json() == {"requests": []}
    # Refusals: another app's admin and users, unknown groups and applications,
    # bad bodies; nothing changes.
    other_admin = server.http(other_app, other_app.admin)
    assert error_of(other_admin.get(f"/v1/admin/groups/{g}/join-requests")) == (404, 10010)
    assert error_of(other_admin.post(
        f"/v1/admin/groups/{g}/join-requests/{erin}/approve")) == (404, 10010)
    assert error_of(server.http(other_app, users("s")).post(
        f"/v1/groups/{g}/apply")) == (404, 10010)
    assert error_of(admin.post(f"/v1/admin/groups/{g}/join-requests/{users('x')}/approve")
                    ) == (404, 94051)
    assert error_of(admin.post(f"/v1/admin/groups/{gid()}/join-requests/{erin}/approve")
                    ) == (404, 10010)
    assert error_of(d.post(f"/v1/groups/{g}/apply", json={"message": 3})) == (400, 10002)
    assert error_of(e.post(f"/v1/groups/{g}/apply", content=b"{nope",
                           headers={"content-type": "application/json"})) == (400, 90001)
    assert error_of(e.post(f"/v1/groups/{g}/apply", json={"message": "x" * 301})) == (
        400, 10002)
    assert error_of(e.post(f"/v1/groups/{g}/apply", json={"msg": "hi"})) == (400, 10002)
    assert error_of(d.post(f"/v1/groups/{g}/apply")) == (409, 10061)
    assert [(x["state"]) for x in e.get("/v1/group-applications").json()["applications"]
            ] == ["declined"]
    # Work groups take no applications.
    work = gid()
    admin.post("/v1/admin/groups", json={"type": "Work", "group_id": work, "owner": alice})
    assert error_of(e.post(f"/v1/groups/{work}/apply")) == (403, 10007)


async def test_approval_into_a_full_group_is_refused_and_stays_pending(
        server: Server, app: App, users: Users) -> None:
    alice, dave = users("alice"), users("dave")
    admin = server.http(app, app.admin)
    g = gid()
    filler = [f"f{i}-{uuid.uuid4().hex[:6]}" for i in range(1998)]
    assert admin.post("/v1/admin/groups", json={"type": "Public", "group_id": g,
                                                "owner": alice, "members": filler[:499]}
                      ).status_code == 200
    for i in range(499, 1998, 500):
        done = admin.post(f"/v1/admin/groups/{g}/invite", json={"user_ids": filler[i:i + 500]})
        assert done.status_code == 200, done.text
    assert admin.get(f"/v1/admin/groups/{g}").json()["member_count"] == 1999
    d = server.http(app, dave)
    assert d.post(f"/v1/groups/{g}/apply").json()["state"] == "pending"
    admin.post(f"/v1/admin/groups/{g}/invite", json={"user_ids": [users("last")]})
    assert error_of(admin.post(f"/v1/admin/groups/{g}/join-requests/{dave}/approve")) == (
        409, 10014)
    assert [r["user_id"] for r in admin.get(
        f"/v1/admin/groups/{g}/join-requests").json()["requests"]] == [dave]
    # A full group refuses new applications at once.
    assert error_of(server.http(app, users("eve")).post(f"/v1/groups/{g}/apply")) == (
        409, 10014)


def test_openapi_describes_the_join_application_routes(server: Server) -> None:
    spec = openapi_doc(server.base_url)
    paths = spec["paths"]
    for path, method in (("/v1/groups/{group_id}/apply", "post"),
                         ("/v1/groups/{group_id}/join-requests", "get"),
                         ("/v1/groups/{group_id}/join-requests/{user_id}/approve", "post"),
                         ("/v1/groups/{group_id}/join-requests/{user_id}/decline", "post"),
                         ("/v1/group-join-requests", "get"), ("/v1/group-applications", "get"),
                         ("/v1/admin/groups/{group_id}/join-requests", "get"),
                         ("/v1/admin/groups/{group_id}/join-requests/{user_id}/approve",
                          "post")):
        assert method in paths[path], path
        assert paths[path][method]["description"], path
    admin = paths["/v1/admin/groups/{group_id}/join-requests/{user_id}/approve"]["post"]
    assert admin["security"] == [{"AdminUserSig": []}, {"ApiKey": []}, {"Operator": []}]
    schemas = spec["components"]["schemas"]
    for name in ("ApplyBody", "ApplyOut", "JoinRequestOut"):
        assert schemas[name]["examples"], name
