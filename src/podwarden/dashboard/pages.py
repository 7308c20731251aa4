"""Each page and fragment: read what it shows (``dashboard.sources``), make the view records
(``dashboard.views``, ``dashboard.jobs``) and render its template (``templates/``)."""

from __future__ import annotations

from typing import Any

from jinja2 import Environment

from podwarden.dashboard import views
from podwarden.dashboard.jobs import job_rows
from podwarden.dashboard.sessions import Principal
from podwarden.dashboard.sources import Sources
from podwarden.dashboard.web import Response, html, text
from podwarden.model.cluster import Cluster
from podwarden.policy.dashboard import load_dashboard

NOT_FOUND = "no such cluster in this account"


class Pages:
    def __init__(self, env: Environment, sources: Sources) -> None:
        self.env = env
        self.sources = sources
        self.table = load_dashboard()

    def _render(self, template: str, status: int = 200, **values: Any) -> Response:
        body = self.env.get_template(template).render(table=self.table, **values)
        return html(body, status)

    def login(self, message: str, status: int = 200) -> Response:
        return self._render("login.html", status, message=message)

    def _rows(self, who: Principal) -> list[views.ClusterRow]:
        return [
            views.cluster_row(c, self.sources.instances(c))
            for c in self.sources.clusters(who.account)
        ]

    def overview(self, who: Principal, *, signed_in: bool) -> Response:
        return self._render("overview.html", who=who, signed_in=signed_in, rows=self._rows(who))

    def clusters_fragment(self, who: Principal) -> Response:
        return self._render("clusters.html", rows=self._rows(who))

    async def cluster(
        self, who: Principal, cluster_id: str, part: str, signed_in: bool
    ) -> Response:
        cluster = self.sources.cluster(who.account, cluster_id)
        if cluster is None:
            return text(NOT_FOUND, 404)
        if part == "/summary":
            return self._summary(cluster)
        if part == "/grid":
            return self._render("grid.html", **await self._grid(cluster))
        if part == "/timeline":
            return self._render("timeline.html", entries=await self._timeline(cluster))
        if part == "/jobs":
            return self._render("jobs.html", **await self._jobs(cluster))
        return self._render(
            "cluster.html",
            who=who,
            signed_in=signed_in,
            row=views.cluster_row(cluster, self.sources.instances(cluster)),
            entries=await self._timeline(cluster),
            **await self._grid(cluster),
        )

    def _summary(self, cluster: Cluster) -> Response:
        row = views.cluster_row(cluster, self.sources.instances(cluster))
        return self._render("summary.html", row=row)

    async def _grid(self, cluster: Cluster) -> dict[str, Any]:
        nodes = await self.sources.nodes(cluster)
        instances = self.sources.instances(cluster)
        grids = views.grids(self.table, cluster, instances, nodes or {})
        return {"cluster": cluster, "grids": grids, "reachable": nodes is not None}

    async def _timeline(self, cluster: Cluster) -> list[views.Entry]:
        events = self.sources.events(cluster)
        names = views.node_names_of(self.sources.instances(cluster), events)
        node_events = [
            e
            for e in await self.sources.node_events(cluster)
            if (e.get("involvedObject") or {}).get("name") in names
        ]
        return views.timeline(self.table, events, node_events)

    async def _jobs(self, cluster: Cluster) -> dict[str, Any]:
        found = await self.sources.jobs(cluster)
        if found is None:
            return {"cluster": cluster, "jobs": [], "reachable": False}
        names = {i.node_name for i in self.sources.instances(cluster)}
        rows = job_rows(found.jobs, found.pods, found.records, names)
        return {"cluster": cluster, "jobs": rows, "reachable": True}

    async def node(self, who: Principal, cluster_id: str, instance_id: str) -> Response:
        cluster = self.sources.cluster(who.account, cluster_id)
        if cluster is None:
            return text(NOT_FOUND, 404)
        instance = next(
            (i for i in self.sources.instances(cluster) if i.instance_id == instance_id), None
        )
        if instance is None:
            return self._render("node_gone.html", instance_id=instance_id)
        nodes = await self.sources.nodes(cluster) or {}
        detail = views.node_detail(
            self.table, instance, nodes.get(instance.node_name), await self._timeline(cluster)
        )
        return self._render("node.html", cluster=cluster, detail=detail)
